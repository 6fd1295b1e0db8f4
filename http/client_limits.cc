#include "http/client_limits.h"

#include <algorithm>
#include <functional>

namespace ocsp {

bool RateLimiter::allow(const std::string& client, int64_t rate, int64_t burst, int64_t now_ms) {
  if (rate <= 0) return true;
  const double capacity = static_cast<double>(burst > 0 ? burst : rate);
  Shard& shard = shards_[std::hash<std::string>{}(client) % shards_.size()];
  std::lock_guard<std::mutex> lock(shard.mu);
  if (now_ms - shard.swept_ms >= 1000) sweep(shard, static_cast<double>(rate), capacity, now_ms);
  auto [it, fresh] = shard.buckets.try_emplace(client, Bucket{capacity, now_ms});
  Bucket& b = it->second;
  if (!fresh && now_ms > b.updated_ms) {
    b.tokens = std::min(capacity, b.tokens + static_cast<double>(now_ms - b.updated_ms) *
                                                 static_cast<double>(rate) / 1000.0);
    b.updated_ms = now_ms;
  }
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

void RateLimiter::sweep(Shard& shard, double rate, double capacity, int64_t now_ms) {
  shard.swept_ms = now_ms;
  for (auto it = shard.buckets.begin(); it != shard.buckets.end();) {
    double refilled = it->second.tokens + static_cast<double>(now_ms - it->second.updated_ms) *
                                              rate / 1000.0;
    it = refilled >= capacity ? shard.buckets.erase(it) : std::next(it);
  }
}

size_t RateLimiter::trackedClients() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard<std::mutex> lock(s.mu);
    n += s.buckets.size();
  }
  return n;
}

}  // namespace ocsp
