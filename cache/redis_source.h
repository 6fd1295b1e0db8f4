#pragma once
// Pipeline stage over the shared Redis cache (docs/ARCHITECTURE.md §2, §4, §6.2, §14): instances
// share what any of them fetched. Key: key_prefix + "ocsp:v1:<hex>" (core/cert_id.h); value:
// cache/entry_codec.h. Rules, each with its log line or counter (RedisCounters):
//   - passthrough (nonce) lookups (core/source.h) GET as usual, but a fresh value is only
//     their fallback, like a stale one: they go to next with their nonce, and what comes
//     back is written if cacheable (the CA ignored the nonce), as below. An answer that
//     echoes the nonce is never replaced by an older-looking value from Redis.
//   - refresh queries (a background refresh-ahead from above) skip the GET: our copy is the
//     one being replaced; the new answer from next is written as usual.
//   - connection up (cache/redis_connection.h): GET, waiting at most command_timeout; a
//     reply that comes later is dropped.
//       fresh (now < fresh_until) and the DER re-validates against the query's CertIDs and
//         issuer, or the local responder (Options::local_responder: an answer the CRL bridge
//         signed) (Redis is shared: we never serve bytes we did not check) -> the answer,
//         source redis                                                          [hits]
//         Bytes this process accepted before for the same question are not parsed and
//         verified again: the validation memo redoes only the checks that depend on `now`
//         (pki/validation_memo.h).
//       does not decode or validate, its fields disagree with its DER, or its fetch time
//         (not signed) is later than now -> deleted,
//         treated as a miss, logged once per key (event=redis_entry_invalid)
//                                                                    [invalid_entries]
//       valid but past fresh_until, before hard_expiry -> kept as stale fallback; next
//       absent, or outside its validity at `now` (by our clock: the writer's may differ)
//         -> next                                                              [misses]
//       timeout / error reply / connection lost -> next                [timeouts, errors]
//   - connection down or still connecting -> straight to next, never waiting   [bypassed]
//   - next answers from upstream with a cacheable entry -> stored with PX <ms until
//     hard_expiry>, fire and forget, skipped if not positive, unless Redis holds a newer
//     answer (thisUpdate, then producedAt: kStoreUnlessOlderScript, checked and set in one
//     EVAL; event=older_answer_refused); the answer goes up as is.
//                                                 [writes, write_errors, older_refused]
//   - next answers with an answer older than the stale fallback (supersedes()) while that
//     is before hard_expiry -> the fallback answers, source stale, nothing is written
//     (event=older_answer_refused)                                        [older_refused]
//   - next fails and the stale fallback is still before hard_expiry at that moment -> it
//     answers, source stale (event=stale_answer); at or after hard_expiry (nextUpdate)
//     never: the error goes up                                           [stale_served]
//
// Threading and callbacks: everything runs on the thread that runs `base`. lookup()'s `done`
// is called exactly once on that thread, possibly before lookup() returns (bypass, and the
// next stage answers at once); `done` must not destroy the RedisSource. Destruction (on that
// thread outside any callback of this object, or on any thread once no thread runs `base`)
// closes the connection; lookups still waiting for Redis or for the next stage are dropped: their
// `done` is never called.
#include <event2/event.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "cache/redis_connection.h"
#include "cache/redis_status.h"
#include "conf/config.h"
#include "core/clock.h"
#include "core/source.h"
#include "pki/validation_memo.h"

namespace ocsp {

class RedisSource final : public Source {
 public:
  // What this stage reads of the config (derived in proxy/component_options.cc).
  struct Options {
    conf::Redis server;          // the redis: section (RedisConnection's options)
    FreshnessPolicy freshness;   // cache.max_age, no_next_update_ttl, refresh_percent
    int64_t clock_skew_s = 0;    // cache.clock_skew
    // crl_bridge.cert, or null: answers the proxy signed itself (the CRL bridge) validate
    // against it when read back (ValidationInput::local_responder).
    SharedX509 local_responder;
  };

  // Starts connecting at once (asynchronously). `base`, `clock`, `next`, `status` and `memo`
  // must outlive this object; `worker_id` indexes `status`. `memo` is shared with whatever
  // else uses it (by default every RedisSource of the process).
  RedisSource(event_base* base, const Options& options, const Clock& clock, Source& next,
              RedisStatus& status, int worker_id, ValidationMemo& memo = sharedValidationMemo());

  ~RedisSource() override;
  RedisSource(const RedisSource&) = delete;
  RedisSource& operator=(const RedisSource&) = delete;

  void lookup(Lookup lookup, Reply done) override;

  // Connected and past the handshake: lookups go to Redis.
  bool connected() const { return connection_.up(); }
  // The server of the current connection ("ip:port" or "unix:/path"; "" before the first).
  const std::string& serverAddress() const { return connection_.serverAddress(); }

 private:
  struct Pending;
  enum class Verdict { Fresh, Stale, Miss, Invalid };

  Pending* acquire();
  void finish(Pending* pending, Result<Answer> result);
  void onGetReply(Pending* pending, RedisConnection::Outcome outcome, const redisReply* reply);
  Verdict judge(const Pending& pending, std::string_view value,
                std::shared_ptr<const OcspEntry>* entry, std::string* why) const;
  void askNext(Pending* pending);
  void onNextAnswer(Pending* pending, Result<Answer> result);
  void write(const std::string& key, const OcspEntry& entry);
  void logInvalidOnce(const std::string& key, const std::string& why);

  const std::string key_prefix_;
  const int64_t command_timeout_ms_;
  const FreshnessPolicy freshness_;
  const int64_t clock_skew_s_;
  const SharedX509 local_responder_;
  const Clock& clock_;
  Source& next_;
  RedisCounters& counters_;
  ValidationMemo& memo_;
  const std::string worker_label_;
  std::unordered_set<std::string> invalid_logged_;
  // Lookup states are reused: a hit then allocates no state of its own (README "Performance").
  // Those in flight are linked from in_flight_ and freed with this object; finished ones
  // wait in spare_ (at most kSpareLookups).
  Pending* in_flight_ = nullptr;
  std::vector<std::unique_ptr<Pending>> spare_;
  std::shared_ptr<char> alive_ = std::make_shared<char>();  // next's replies check it
  // Last, so that it goes first: its pending callbacks refer to the members above.
  RedisConnection connection_;
};

}  // namespace ocsp
