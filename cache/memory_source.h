#pragma once
// Pipeline stage over the in-process cache (DESIGN.md §2). Rules:
//   - a fresh entry (now < fresh_until) answers here, source=memory;
//   - otherwise the next stage is asked; what it returns from upstream/redis and marks
//     cacheable is stored on the way back (only validated answers reach here: the validator
//     sits below);
//   - nonce passthrough queries bypass the cache both ways.
// One instance per worker; the MemoryCache it wraps is shared.
#include "cache/memory_cache.h"
#include "core/clock.h"
#include "core/ocsp_types.h"

namespace ocsp {

class MemorySource final : public Source {
 public:
  // `cache`, `clock` and `next` must outlive this object.
  MemorySource(MemoryCache& cache, const Clock& clock, Source& next)
      : cache_(cache), clock_(clock), next_(next) {}

  void lookup(std::shared_ptr<const OcspQuery> query, Reply done) override;

 private:
  MemoryCache& cache_;
  const Clock& clock_;
  Source& next_;
};

}  // namespace ocsp
