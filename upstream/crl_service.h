#pragma once
// CRL downloads (docs/ARCHITECTURE.md §8): what the forward proxy serves for allow-listed CRL
// URLs and what crl.urls keeps warm. The service owns the CRL thread and wires the CRL chain
// on it, one stage per rule, each with its rules in its header. The same service, with
// Options::kind CaIssuers and a store of its own, serves the caIssuers certificates clients
// download from forward.aia_fqdns hosts: the chain is the same, only the parse step
// (cache/crl_parser.h: certificates, not a CRL), the freshness rule (forward.aia_ttl, never
// past notAfter), the Redis keys and the names of the log events differ.
//
//   lookup()          any worker thread
//    -> CrlMemorySource (cache/crl_memory_source.h) a stored CRL before its nextUpdate answers
//                       at once; a miss or a hit due for refresh is noted for the refresher
//    -> CrlCoalescer    (cache/crl_coalescer.h)     one lookup below per URL over all workers;
//                       moves it to the CRL thread; results go back on each caller's Mailbox
//    -> CrlMemoryFill   (cache/crl_memory_source.h) stores the CRL before the URL is let go
//    -> CrlBackoff      (upstream/crl_backoff.h)    failures and unchanged refreshes: when the
//                       timer may try again; crl_backoff / crl_recovered
//    -> CrlFetchQueue   (upstream/crl_fetch_queue.h) crl.max_concurrent_fetches and
//                       crl.max_inflight_bytes; the rest waits, oldest first
//    -> CrlRedisSource  (cache/crl_redis_source.h)  the shared copy, re-validated (redis: only)
//    -> CrlFetchSource  (upstream/crl_fetch_source.h) the download, size-limited, then the
//                       parse on the parser thread (cache/crl_parser.h, pki/crl.h)
//   CrlRefresher (upstream/crl_refresher.h): warm-up of crl.urls and refresh ahead, on a
//   once-a-second timer, through the coalescer.
//
// Redis sits below the coalescer and the bounds (unlike the OCSP chain's): reading a shared
// copy costs a parse as long as a download's, so it is done once per URL and counted.
// A CRL URL with a query string reaches the service only if crl.urls lists it
// (upstream/allow_list.h, reason crl_query): query variants would each be a download.
//
// Threading: the service runs its own thread with its own event_base, fetcher and Redis
// connection, and a parser thread: CRL work never runs on a worker's loop. lookup() may be
// called from any worker thread; its callback runs on the caller's thread (through the
// caller's Mailbox), synchronously for a hit. stop() joins the threads; callbacks not yet
// delivered are dropped, so stop the service before destroying the mailboxes of the workers
// that use it.
#include <event2/event.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cache/crl_coalescer.h"
#include "cache/crl_memory_source.h"
#include "cache/crl_parser.h"
#include "cache/crl_store.h"
#include "cache/redis_status.h"
#include "conf/config.h"
#include "core/clock.h"
#include "core/handles.h"
#include "core/mailbox.h"
#include "core/url.h"
#include "upstream/crl_backoff.h"
#include "upstream/crl_fetch_queue.h"
#include "upstream/crl_fetch_source.h"
#include "upstream/crl_refresher.h"
#include "upstream/fetcher.h"
#include "upstream/issuer_index.h"

namespace ocsp {

class CrlService {
 public:
  // What the service takes from the config (proxy/server.cc fills it).
  struct Options {
    DocKind kind = DocKind::Crl;            // what the service serves
    std::vector<HttpUrl> warm_urls;         // crl.urls
    CrlFetchQueue::Limits bounds;           // crl.max_concurrent_fetches, ...
    CrlFetchSource::Limits fetch;           // crl.max_bytes, timeout, resolve:
    std::vector<SharedX509> extra_issuers;  // crl.issuers
    int64_t clock_skew_s = 300;             // cache.clock_skew
    conf::UnknownIssuerPolicy unknown_issuer = conf::UnknownIssuerPolicy::Pass;
    int64_t no_next_update_ttl_s = 300;  // cache.no_next_update_ttl
    int64_t ca_issuers_ttl_s = 86400;    // forward.aia_ttl (kind CaIssuers)
    double refresh_fraction = 0.5;       // cache.refresh_percent / 100
    std::optional<conf::Redis> redis;    // redis: section
    int64_t tick_ms = 1000;              // the refresh timer's period
    // Builds the HTTP client on the CRL thread; empty: a CurlFetcher.
    std::function<std::unique_ptr<Fetcher>(event_base*)> make_fetcher;
  };

  // Everything referenced must outlive the service. `trust_store` may be null;
  // `redis_status` may be null (no redis: section), else `redis_slot` indexes it; `metrics`
  // may be null (not counted).
  CrlService(Options options, const IssuerIndex& issuers, X509_STORE* trust_store, CrlStore& store,
             const Clock& clock, RedisStatus* redis_status, int redis_slot,
             Metrics* metrics);
  ~CrlService();
  CrlService(const CrlService&) = delete;
  CrlService& operator=(const CrlService&) = delete;

  // Starts the threads; the crl.urls are fetched at once.
  void start();
  void stop();

  // The document at `url` (already allow-listed by the caller). `client` is for logs.
  void lookup(const HttpUrl& url, const std::string& client, Mailbox& reply_to, CrlReply done);
  DocKind kind() const { return options_.kind; }

 private:
  // The stages below the bounds: built on the CRL thread, which their fetcher and Redis
  // connection belong to.
  struct Bottom;
  // Forwards to the bottom stages once the CRL thread has built them.
  class ToBottom final : public CrlSource {
   public:
    void lookup(CrlQuery query, CrlReply done) override;
    CrlSource* target = nullptr;  // CRL thread only
  };
  void run();  // the CRL thread

  const Options options_;
  const IssuerIndex& issuers_;
  X509_STORE* trust_store_;
  CrlStore& store_;
  const Clock& clock_;
  RedisStatus* redis_status_;
  int redis_slot_;
  Metrics* metrics_;

  EventBasePtr base_;
  Mailbox mailbox_;  // the CRL thread's
  // The chain from the bottom up: each stage refers to the one declared before it.
  ToBottom to_bottom_;
  CrlFetchQueue queue_;
  CrlBackoff backoff_;
  CrlMemoryFill fill_;
  CrlCoalescer coalescer_;
  CrlRefresher refresher_;
  CrlMemorySource memory_;
  std::thread thread_;
};

}  // namespace ocsp
