#include "cache/memory_source.h"

#include "core/log.h"

namespace ocsp {

namespace {
// Bounds the per-worker refresh bookkeeping; forgetting it costs at most one early refresh
// per key, so a full map is simply cleared.
constexpr size_t kMaxRefreshBookkeeping = 100'000;
// The longest wait between refreshes that keep bringing back the answer already held.
constexpr int64_t kMaxRefreshBackoffS = 3600;
}  // namespace

std::shared_ptr<const OcspEntry> MemorySource::store(const CacheKey& key,
                                                    const Result<Answer>& result) {
  // Stale answers are already in the cache; only new ones from below are stored.
  if (!result.ok() || !result->entry->cacheable || result->coalesced ||
      (result->source != AnswerSource::Upstream && result->source != AnswerSource::Redis)) {
    return nullptr;
  }
  const OcspEntry& offered = *result->entry;
  MemoryCache::Offer offer = cache_.putUnlessOlder(key, result->entry);
  if (!offer.held) return nullptr;
  const OcspEntry& held = *offer.held;
  const std::string key_text = cacheKeyString(key);
  const char* from = answerSourceName(result->source);
  if (!offer.stored) {
    logAnswerOrder("older_answer_refused", key_text, from, "memory", offered, held,
                   "kept the newer answer");
    return offer.held;
  }
  if (held.status == CertStatus::Revoked && offered.status != CertStatus::Revoked) {
    // A newer answer may lift a revocation (certificateHold released, or a CA's mistake
    // undone); it is rare enough that an operator wants to see each one.
    logAnswerOrder("revocation_lifted", key_text, from, "memory", offered, held,
                   "replaced: the answer is newer");
  }
  return nullptr;
}

void MemorySource::maybeRefresh(const Lookup& lookup, const OcspEntry& held, int64_t now) {
  if (refresh_guard_.size() > kMaxRefreshBookkeeping) refresh_guard_.clear();
  auto [it, inserted] = refresh_guard_.try_emplace(lookup.query->key);
  RefreshGuard& guard = it->second;
  if (!inserted && now < guard.next_at) return;
  guard.next_at = now + refresh_retry_s_;  // while this one is in flight, and if it fails
  ++refreshes_started_;
  const int64_t held_this_update = held.this_update;
  const int64_t held_produced_at = held.produced_at;
  Lookup refresh = lookup;
  refresh.refresh = true;
  next_.lookup(std::move(refresh), [this, held_this_update, held_produced_at](
                                       const Lookup& answered, Result<Answer> result) {
    const CacheKey& key = answered.query->key;
    if (!result.ok()) {
      logEvent(LogLevel::Info, "refresh_failed",
               {{"key", cacheKeyString(key)}, {"reason", result.error().code}});
      return;
    }
    store(key, result);
    auto it = refresh_guard_.find(key);
    if (it == refresh_guard_.end()) return;
    if (result->entry->this_update != held_this_update ||
        result->entry->produced_at != held_produced_at) {
      refresh_guard_.erase(it);  // a newer answer: its own refresh point applies
      return;
    }
    // The upstream still serves the answer we had (a CDN's copy, a responder that signs
    // ahead): ask again later, each time twice as late, up to kMaxRefreshBackoffS.
    RefreshGuard& guard = it->second;
    guard.backoff_s = std::min(kMaxRefreshBackoffS,
                               std::max(refresh_retry_s_, guard.backoff_s * 2));
    guard.next_at = clock_.now() + guard.backoff_s;
  });
}

void MemorySource::lookup(Lookup lookup, Reply done) {
  const int64_t now = clock_.now();
  auto entry = cache_.get(lookup.query->key, now);
  // A passthrough lookup goes to the CA with its nonce even on a hit; the entry held is its
  // fallback, like a stale one.
  if (!lookup.passthrough && entry && now < entry->fresh_until) {
    if (now >= entry->refresh_at) maybeRefresh(lookup, *entry, now);
    done(lookup, Answer{std::move(entry), AnswerSource::Memory});
    return;
  }
  if (!entry && cache_.maxBytes() == 0) {
    // No in-process cache (cache.memory_bytes: 0, e.g. Redis only): nothing to store and no
    // stale copy to fall back on, so the answer goes up unwrapped.
    next_.lookup(std::move(lookup), std::move(done));
    return;
  }
  next_.lookup(std::move(lookup), [this, stale = std::move(entry), done = std::move(done)](
                                      const Lookup& answered, Result<Answer> result) {
    const CacheKey& key = answered.query->key;
    if (result.ok()) {
      // An answer older than the one held (a replay, a stale CDN edge) is not served either:
      // the newer one is, while it is before its nextUpdate.
      auto newer = store(key, result);
      if (newer && clock_.now() < newer->hard_expiry) {
        done(answered, Answer{std::move(newer), AnswerSource::Stale});
        return;
      }
      done(answered, std::move(result));
      return;
    }
    // docs/ARCHITECTURE.md §4: upstream down -> serve what we have until nextUpdate, never after.
    if (stale && clock_.now() < stale->hard_expiry) {
      logEvent(LogLevel::Info, "stale_answer",
               {{"key", cacheKeyString(key)},
                {"reason", result.error().code},
                {"next_update", rfc3339(stale->hard_expiry)}});
      done(answered, Answer{stale, AnswerSource::Stale});
      return;
    }
    done(answered, std::move(result));
  });
}

}  // namespace ocsp
