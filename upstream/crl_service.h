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
//    -> CrlDeltaFollow  (upstream/crl_delta_follow.h) a complete CRL naming a delta CRL
//                       (Freshest CRL) on an allowed CRL host has the refresher keep it warm
//    -> CrlMemoryFill   (cache/crl_memory_source.h) stores the CRL before the URL is let go
//    -> CrlBackoff      (upstream/crl_backoff.h)    failures and unchanged refreshes: when the
//                       timer may try again; crl_backoff / crl_recovered
//    -> CrlFetchQueue   (upstream/crl_fetch_queue.h) crl.max_concurrent_fetches and
//                       crl.max_inflight_bytes; the rest waits, oldest first
//    -> CrlRedisSource  (cache/crl_redis_source.h)  the shared copy, re-validated (redis: only)
//    -> CrlFetchSource  (upstream/crl_fetch_source.h) the download, size-limited, then the
//                       parse on the parser thread (cache/crl_parser.h, pki/crl.h)
//   CrlRefresher (upstream/crl_refresher.h): warm-up of crl.urls and refresh ahead, on a
//   once-a-second timer, through the coalescer; and the delta CRLs the stored complete CRLs
//   name (a delta is just another CRL URL to the chain: stored, served and shared as is).
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
#include "upstream/crl_delta_follow.h"
#include "upstream/crl_fetch_queue.h"
#include "upstream/crl_fetch_source.h"
#include "upstream/crl_refresher.h"
#include "upstream/fetcher.h"
#include "upstream/issuer_index.h"
#include "upstream/known_serials.h"

namespace ocsp {

class CrlService {
 public:
  // What the service takes from the config (proxy/server.cc fills it).
  struct Options {
    DocKind kind = DocKind::Crl;            // what the service serves
    std::vector<HttpUrl> warm_urls;         // crl.urls
    CrlFetchQueue::Limits bounds;           // crl.max_concurrent_fetches, ...
    CrlFetchSource::Limits fetch;           // crl.max_bytes, timeout, resolve:
    // crl.issuers (kind Crl: more CRL signers); kind CaIssuers: every CA of the config
    // (configuredCas), under which with the learned issuers and the trust store's roots a
    // served certificate's serial is learned.
    std::vector<SharedX509> extra_issuers;
    int64_t clock_skew_s = 300;             // cache.clock_skew
    conf::UnknownIssuerPolicy unknown_issuer = conf::UnknownIssuerPolicy::Pass;
    int64_t no_next_update_ttl_s = 300;  // cache.no_next_update_ttl
    int64_t ca_issuers_ttl_s = 86400;    // forward.aia_ttl (kind CaIssuers)
    double refresh_fraction = 0.5;       // cache.refresh_percent / 100
    std::optional<conf::Redis> redis;    // redis: section
    int64_t tick_ms = 1000;              // the refresh timer's period
    // Kind CaIssuers: learns the serials of the certificates of each document parsed
    // (upstream/known_serials_feed.h); null: none. Must outlive the service.
    KnownSerials* known_serials = nullptr;
    // The URLs a delta CRL named by a complete CRL may be fetched from (the allow-list's CRL
    // hosts); empty: no delta is followed (the caIssuers service).
    CrlUrlAllowed delta_allowed;
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

  // A complete CRL and the delta CRL that goes with it (RFC 5280 §5.2.4), for those that answer
  // from CRLs (the CRL bridge).
  struct WithDelta {
    std::shared_ptr<const CrlEntry> base;
    // Null when `base` names no delta the service follows (deltaUrlFor), or when the delta's
    // lookup failed or it does not fit `base` (pki/crl_status.h checkDeltaFor): then
    // delta_error says why (its code: the lookup's, or checkDeltaFor's).
    std::shared_ptr<const CrlEntry> delta;
    std::optional<Error> delta_error;
  };
  // lookup() of `url`, then of its delta if it names one: `done` gets the error of the base's
  // lookup, or both. Both held: answered at once, on the caller's thread, before it returns
  // (two store lookups). Else `done` runs on `reply_to`'s thread; the second lookup is made
  // from there, so the service must outlive the callbacks it delivers.
  void lookupWithDelta(const HttpUrl& url, const std::string& client, Mailbox& reply_to,
                       std::function<void(Result<WithDelta>)> done);
  // The delta CRL URL of `base` that the service keeps warm (followedDeltaUrl in
  // upstream/crl_delta_follow.h with Options::delta_allowed), nullopt if none. Any thread.
  std::optional<HttpUrl> deltaUrlFor(const CrlEntry& base) const {
    return followedDeltaUrl(base, options_.delta_allowed);
  }
  DocKind kind() const { return options_.kind; }
  // The rules its parser checks documents by (cache/crl_parser.h): the issuer candidates
  // (configured and learned issuers, crl.issuers), the trust store, the unknown-issuer
  // policy and the freshness. Valid while the service is.
  CrlParseRules parseRules() const;

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
  CrlDeltaFollow follow_;  // refers to refresher_, declared below (not used before start)
  CrlCoalescer coalescer_;
  CrlRefresher refresher_;
  CrlMemorySource memory_;
  std::thread thread_;
};

}  // namespace ocsp
