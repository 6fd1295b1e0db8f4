#include "cache/memory_source.h"

namespace ocsp {

void MemorySource::lookup(std::shared_ptr<const OcspQuery> query, Reply done) {
  if (query->passthrough) {
    next_.lookup(std::move(query), std::move(done));
    return;
  }
  if (auto entry = cache_.get(query->key, clock_.now()); entry && clock_.now() < entry->fresh_until) {
    done(Answer{std::move(entry), AnswerSource::Memory});
    return;
  }
  CacheKey key = query->key;
  next_.lookup(std::move(query), [this, key, done = std::move(done)](Result<Answer> result) {
    // Stale answers are already in the cache; only new ones from below are stored.
    if (result.ok() && result->entry->cacheable &&
        (result->source == AnswerSource::Upstream || result->source == AnswerSource::Redis)) {
      cache_.put(key, result->entry);
    }
    done(std::move(result));
  });
}

}  // namespace ocsp
