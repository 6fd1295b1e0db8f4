#include "cache/memory_source.h"

#include "core/log.h"

namespace ocsp {

namespace {
// Bounds the per-worker refresh bookkeeping; entries older than the retry interval are
// useless, so a full map is simply cleared.
constexpr size_t kMaxRefreshBookkeeping = 100'000;
}  // namespace

void MemorySource::store(const CacheKey& key, const Result<Answer>& result) {
  // Stale answers are already in the cache; only new ones from below are stored.
  if (result.ok() && result->entry->cacheable && !result->coalesced &&
      (result->source == AnswerSource::Upstream || result->source == AnswerSource::Redis)) {
    cache_.put(key, result->entry);
  }
}

void MemorySource::maybeRefresh(const std::shared_ptr<const OcspQuery>& query, int64_t now) {
  if (refresh_attempted_at_.size() > kMaxRefreshBookkeeping) refresh_attempted_at_.clear();
  auto [it, inserted] = refresh_attempted_at_.try_emplace(query->key, now);
  if (!inserted) {
    if (now - it->second < refresh_retry_s_) return;
    it->second = now;
  }
  ++refreshes_started_;
  CacheKey key = query->key;
  auto refresh = std::make_shared<OcspQuery>(*query);
  refresh->refresh = true;
  next_.lookup(std::move(refresh), [this, key](Result<Answer> result) {
    if (result.ok()) {
      store(key, result);
      refresh_attempted_at_.erase(key);
    } else {
      logEvent(LogLevel::Info, "refresh_failed",
               {{"key", cacheKeyString(key)}, {"reason", result.error().code}});
    }
  });
}

void MemorySource::lookup(std::shared_ptr<const OcspQuery> query, Reply done) {
  if (query->passthrough) {
    next_.lookup(std::move(query), std::move(done));
    return;
  }
  const int64_t now = clock_.now();
  auto entry = cache_.get(query->key, now);
  if (entry && now < entry->fresh_until) {
    if (now >= entry->refresh_at) maybeRefresh(query, now);
    done(Answer{std::move(entry), AnswerSource::Memory});
    return;
  }
  if (!entry && cache_.maxBytes() == 0) {
    // No in-process cache (cache.memory_bytes: 0, e.g. Redis only): nothing to store and no
    // stale copy to fall back on, so the answer goes up unwrapped.
    next_.lookup(std::move(query), std::move(done));
    return;
  }
  CacheKey key = query->key;
  next_.lookup(std::move(query), [this, key, stale = std::move(entry),
                                  done = std::move(done)](Result<Answer> result) {
    if (result.ok()) {
      store(key, result);
      done(std::move(result));
      return;
    }
    // DESIGN.md §4: upstream down -> serve what we have until nextUpdate, never after.
    if (stale && clock_.now() < stale->hard_expiry) {
      logEvent(LogLevel::Info, "stale_answer",
               {{"key", cacheKeyString(key)},
                {"reason", result.error().code},
                {"next_update", rfc3339(stale->hard_expiry)}});
      done(Answer{stale, AnswerSource::Stale});
      return;
    }
    done(std::move(result));
  });
}

}  // namespace ocsp
