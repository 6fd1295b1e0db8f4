#pragma once
// Pipeline stage over the in-process cache (docs/ARCHITECTURE.md §2, §4).
// Rules, each logged/counted:
//   - fresh entry (now < fresh_until): answered here, source=memory;
//   - fresh but past refresh_at: answered here too, and a background lookup of the next
//     stage fetches a newer answer (at most once per refresh_retry_s per key and worker; the
//     coalescer below merges concurrent ones); no client waits for it. A refresh that brings
//     back the answer already held (same thisUpdate and producedAt) backs off: the next one
//     waits twice as long as the last, from refresh_retry_s up to an hour;
//   - otherwise the next stage is asked; what it returns from upstream/redis and marks
//     cacheable is stored on the way back (only validated answers reach here: the validator
//     sits below), unless the cache holds a newer answer (supersedes(): thisUpdate, then
//     producedAt): then that newer answer is kept and served (source=stale) while before its
//     nextUpdate, and event=older_answer_refused is logged. A newer non-revoked answer
//     replacing a revoked one is stored and logged (event=revocation_lifted);
//   - the next stage failed and an entry past fresh_until but before its hard expiry
//     (nextUpdate) exists: that entry is served, source=stale, event=stale_answer. Never past
//     nextUpdate: the cache itself drops such entries, and the error goes up (tryLater);
//   - nonce passthrough lookups (core/source.h) are not answered from the cache while the
//     next stage answers; what it returns is stored by the rules above (an answer that
//     echoes the nonce is not cacheable, one without is), and when it fails, the entry held
//     (fresh or stale, before nextUpdate) is served as above, without the client's nonce.
// One instance per worker; the MemoryCache it wraps is shared.
#include <unordered_map>

#include "cache/memory_cache.h"
#include "core/clock.h"
#include "core/source.h"

namespace ocsp {

class MemorySource final : public Source {
 public:
  // `cache`, `clock` and `next` must outlive this object.
  MemorySource(MemoryCache& cache, const Clock& clock, Source& next, int64_t refresh_retry_s = 30)
      : cache_(cache), clock_(clock), next_(next), refresh_retry_s_(refresh_retry_s) {}

  void lookup(Lookup lookup, Reply done) override;

  uint64_t refreshesStarted() const { return refreshes_started_; }

 private:
  // Stores a new answer from below unless the cache holds a newer one; returns that newer
  // one (else null). Logs event=older_answer_refused, or event=revocation_lifted when a newer
  // answer replaces a revoked one.
  std::shared_ptr<const OcspEntry> store(const CacheKey& key, const Result<Answer>& result);
  // Starts a background refresh of `lookup` (Lookup::refresh) unless one is due later.
  void maybeRefresh(const Lookup& lookup, const OcspEntry& held, int64_t now);

  struct RefreshGuard {
    int64_t next_at = 0;    // no refresh of this key before
    int64_t backoff_s = 0;  // the last wait after a refresh that brought the same answer
  };

  MemoryCache& cache_;
  const Clock& clock_;
  Source& next_;
  int64_t refresh_retry_s_;
  std::unordered_map<CacheKey, RefreshGuard, CacheKeyHash> refresh_guard_;
  uint64_t refreshes_started_ = 0;
};

}  // namespace ocsp
