#pragma once
// CRL downloads (docs/ARCHITECTURE.md §8): what the forward proxy serves for allow-listed CRL URLs
// and what crl.urls keeps warm. Rules:
//   - a CRL is served from the in-process store (CrlStore) until its nextUpdate, never after;
//   - a miss is fetched once however many clients and workers ask (one in flight per URL);
//     with Redis configured the shared copy is tried first and re-validated like a download;
//   - a download is size-limited (crl.max_bytes), then parsed and validated off every event
//     loop, on a parser thread (a large CRL takes seconds): see pki/crl.h for the rules;
//   - at most crl.max_concurrent_fetches CRLs are fetched (Redis or upstream) and parsed at
//     once, and together they hold at most crl.max_inflight_bytes: a fetch reserves
//     crl.max_bytes when it starts and, once downloaded, keeps the CRL's size until its parse
//     is done. Fetches beyond either bound wait in a queue, oldest first (event=crl_fetch_queued
//     once when the queue stops being empty);
//   - an invalid CRL (not a CRL, bad signature, expired, too large) is not stored and the
//     clients waiting for it get the error (event=crl_invalid, reason=...); an upstream that
//     fails gets event=crl_fetch_failed; neither is retried for the waiting clients;
//   - a CRL whose issuer is unknown is served and stored with signature_checked=false under
//     crl.unknown_issuer: pass, refused (reason=unknown_issuer) under refuse;
//   - refresh ahead: once cache.refresh_percent of [thisUpdate, nextUpdate) has passed, a
//     once-a-second timer fetches a newer CRL for the crl.urls and for URLs asked for since
//     their last download; clients keep the cached one meanwhile; a failed refresh is
//     retried with exponential backoff (30 s, doubling, at most 10 min), and a refresh that
//     finds no newer CRL (same thisUpdate) after an eighth of the time left to nextUpdate
//     (30 s .. 1 h). The backoff also holds for a URL a client asked for: the timer does not
//     fetch a failing URL again before its retry time (a client's own miss still does, once
//     per request in flight). Logged once per change of state: event=crl_backoff (warn) when
//     a URL starts failing, event=crl_recovered when it succeeds again; while it fails, its
//     crl_fetch_failed / crl_invalid lines and each new retry time are at debug level.
//   - a CRL URL with a query string reaches the service only if crl.urls lists it
//     (upstream/allow_list.h, reason crl_query): query variants would each be a download.
//
// Threading: the service runs its own thread with its own event_base, curl multi handle and
// Redis connection: CRL work never runs on a worker's loop. lookup() may be called from any
// worker thread; its callback runs on the caller's thread (through the caller's Mailbox),
// synchronously for a hit. stop() joins the thread; callbacks not yet delivered are dropped,
// so stop the service before destroying the mailboxes of the workers that use it.
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cache/crl_store.h"
#include "cache/redis_status.h"
#include "conf/config.h"
#include "core/clock.h"
#include "core/handles.h"
#include "core/mailbox.h"
#include "core/url.h"
#include "core/work_queue.h"
#include "upstream/issuer_index.h"

namespace ocsp {

using CrlReply = std::function<void(Result<std::shared_ptr<const CrlEntry>>)>;

class CrlService {
 public:
  // Everything referenced must outlive the service. `trust_store` may be null;
  // `redis_status` may be null (no redis: section), else `redis_slot` indexes it.
  CrlService(std::shared_ptr<const conf::Config> config, const IssuerIndex& issuers,
             X509_STORE* trust_store, CrlStore& store, const Clock& clock,
             RedisStatus* redis_status, int redis_slot);
  ~CrlService();
  CrlService(const CrlService&) = delete;
  CrlService& operator=(const CrlService&) = delete;

  // Starts the thread; the crl.urls are fetched at once.
  void start();
  void stop();

  // The CRL at `url` (already allow-listed by the caller). `client` is for logs.
  void lookup(const HttpUrl& url, const std::string& client, Mailbox& reply_to, CrlReply done);

 private:
  struct Waiter {
    Mailbox* mailbox;
    CrlReply done;
  };
  struct Tracked {  // loop thread only
    HttpUrl url;
    bool warm = false;         // from crl.urls: always kept fresh
    int64_t retry_at = 0;      // after a failed fetch, or a refresh that found nothing newer
    int failures = 0;          // consecutive failed fetches (backoff exponent)
  };
  struct Queued {  // a fetch waiting for a slot
    std::string key;
    HttpUrl url;
    bool refresh;
  };
  class Loop;  // the thread's event_base, fetcher and Redis connection

  std::string redisKeyOf(const std::string& key) const;  // needs a redis: section
  // Loop thread. schedule() starts the fetch of `key` (the caller put it in inflight_) when
  // the bounds allow, else queues it; finish() frees its slot and starts what waits.
  void schedule(const std::string& key, const HttpUrl& url, bool refresh);
  void startQueued();
  void reserve(const std::string& key, size_t bytes);  // replaces the key's reservation
  void begin(const std::string& key, const HttpUrl& url, bool refresh);
  void fetchUpstream(const std::string& key, const HttpUrl& url);
  void parse(const std::string& key, std::string bytes, bool from_redis);
  void onParsed(const std::string& key, std::string bytes, Result<ParsedCrl> parsed,
                bool from_redis);
  void finish(const std::string& key, const Result<std::shared_ptr<const CrlEntry>>& result);
  void noteOutcome(const std::string& key, bool ok);
  LogLevel failureLevel(const std::string& key) const;
  void onTick();

  std::shared_ptr<const conf::Config> config_;
  const IssuerIndex& issuers_;
  X509_STORE* trust_store_;
  CrlStore& store_;
  const Clock& clock_;
  RedisStatus* redis_status_;
  int redis_slot_;

  std::mutex mu_;  // guards inflight_ and asked_
  std::unordered_map<std::string, std::vector<Waiter>> inflight_;  // key present = in flight
  std::unordered_map<std::string, HttpUrl> asked_;  // hits since the last tick

  std::unordered_map<std::string, Tracked> tracked_;  // loop thread only
  // Loop thread only: fetches running (Redis or upstream, then parse) and their reserved bytes.
  std::unordered_map<std::string, size_t> running_;
  size_t reserved_bytes_ = 0;
  std::deque<Queued> queued_;
  std::unique_ptr<Loop> loop_;
  std::unique_ptr<WorkQueue> parser_;
  std::thread thread_;
};

}  // namespace ocsp
