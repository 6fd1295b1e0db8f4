#include "cache/memory_cache.h"

namespace ocsp {

namespace {
// What one entry costs beyond its own footprint: list node, hash bucket, key copies.
constexpr size_t kNodeOverhead = sizeof(CacheKey) * 2 + 64;
}  // namespace

MemoryCache::MemoryCache(size_t max_bytes, size_t shard_count)
    : max_bytes_(max_bytes),
      shard_budget_(max_bytes / (shard_count == 0 ? 1 : shard_count)),
      shards_(shard_count == 0 ? 1 : shard_count) {}

MemoryCache::Shard& MemoryCache::shardFor(const CacheKey& key) {
  // The key is a SHA-256: its last byte is as uniform as any hash of it.
  return shards_[key[31] % shards_.size()];
}

void MemoryCache::removeLocked(Shard& s, std::list<Node>::iterator it) {
  s.bytes -= it->bytes;
  s.index.erase(it->key);
  s.lru.erase(it);
}

std::shared_ptr<const OcspEntry> MemoryCache::get(const CacheKey& key, int64_t now) {
  Shard& s = shardFor(key);
  std::lock_guard<std::mutex> lock(s.mu);
  auto found = s.index.find(key);
  if (found == s.index.end()) return nullptr;
  auto it = found->second;
  if (now >= it->entry->hard_expiry) {
    removeLocked(s, it);
    return nullptr;
  }
  s.lru.splice(s.lru.begin(), s.lru, it);
  return it->entry;
}

void MemoryCache::put(const CacheKey& key, std::shared_ptr<const OcspEntry> entry) {
  size_t bytes = entry->footprint() + kNodeOverhead;
  Shard& s = shardFor(key);
  std::lock_guard<std::mutex> lock(s.mu);
  if (auto found = s.index.find(key); found != s.index.end()) removeLocked(s, found->second);
  if (bytes > shard_budget_) return;
  while (s.bytes + bytes > shard_budget_ && !s.lru.empty()) {
    removeLocked(s, std::prev(s.lru.end()));
    ++s.evictions;
  }
  s.lru.push_front(Node{key, std::move(entry), bytes});
  s.index.emplace(key, s.lru.begin());
  s.bytes += bytes;
}

void MemoryCache::erase(const CacheKey& key) {
  Shard& s = shardFor(key);
  std::lock_guard<std::mutex> lock(s.mu);
  if (auto found = s.index.find(key); found != s.index.end()) removeLocked(s, found->second);
}

MemoryCache::Stats MemoryCache::stats() const {
  Stats total;
  for (const Shard& s : shards_) {
    std::lock_guard<std::mutex> lock(s.mu);
    total.entries += s.index.size();
    total.bytes += s.bytes;
    total.evictions += s.evictions;
  }
  return total;
}

}  // namespace ocsp
