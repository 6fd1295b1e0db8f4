#pragma once
// Pipeline stage over the in-process cache (DESIGN.md §2, §4). Rules, each logged/counted:
//   - fresh entry (now < fresh_until): answered here, source=memory;
//   - fresh but past refresh_at: answered here too, and a background lookup of the next
//     stage fetches a newer answer (at most once per refresh_retry_s per key and worker; the
//     coalescer below merges concurrent ones); no client waits for it;
//   - otherwise the next stage is asked; what it returns from upstream/redis and marks
//     cacheable is stored on the way back (only validated answers reach here: the validator
//     sits below);
//   - the next stage failed and an entry past fresh_until but before its hard expiry
//     (nextUpdate) exists: that entry is served, source=stale, event=stale_answer. Never past
//     nextUpdate: the cache itself drops such entries, and the error goes up (tryLater);
//   - nonce passthrough queries bypass the cache both ways.
// One instance per worker; the MemoryCache it wraps is shared.
#include <unordered_map>

#include "cache/memory_cache.h"
#include "core/clock.h"
#include "core/ocsp_types.h"

namespace ocsp {

class MemorySource final : public Source {
 public:
  // `cache`, `clock` and `next` must outlive this object.
  MemorySource(MemoryCache& cache, const Clock& clock, Source& next, int64_t refresh_retry_s = 30)
      : cache_(cache), clock_(clock), next_(next), refresh_retry_s_(refresh_retry_s) {}

  void lookup(std::shared_ptr<const OcspQuery> query, Reply done) override;

  uint64_t refreshesStarted() const { return refreshes_started_; }

 private:
  void store(const CacheKey& key, const Result<Answer>& result);
  void maybeRefresh(const std::shared_ptr<const OcspQuery>& query, int64_t now);

  MemoryCache& cache_;
  const Clock& clock_;
  Source& next_;
  int64_t refresh_retry_s_;
  std::unordered_map<CacheKey, int64_t, CacheKeyHash> refresh_attempted_at_;
  uint64_t refreshes_started_ = 0;
};

}  // namespace ocsp
