#include "cache/memory_cache.h"

namespace ocsp {

namespace {
// What one entry costs beyond its own footprint: its hash node (key, entry pointer, LRU
// links, the node's next pointer: 72 bytes, an 80-byte block), its share of the buckets, and
// what the allocator loses around the blocks, measured with `bash bench/run --only million`
// (README "Performance").
constexpr size_t kNodeOverhead = 80 + 16 + 32;
}  // namespace

size_t MemoryCache::bytesOf(const OcspEntry& entry) {
  // The node (value and next pointer) stores no cached hash (CacheKeyHash is noexcept and
  // cheap) and no byte count: with the allocator's 8-byte header it fits an 80-byte block.
  static_assert(sizeof(Index::value_type) + sizeof(void*) + 8 <= 80);
  return entry.footprint() + kNodeOverhead;
}

MemoryCache::MemoryCache(size_t max_bytes, size_t shard_count)
    : max_bytes_(max_bytes),
      shard_budget_(max_bytes / (shard_count == 0 ? 1 : shard_count)),
      shards_(shard_count == 0 ? 1 : shard_count) {}

MemoryCache::Shard& MemoryCache::shardFor(const CacheKey& key) {
  // The key is a SHA-256: its last byte is as uniform as any hash of it.
  return shards_[key[31] % shards_.size()];
}

void MemoryCache::unlinkLocked(Shard& s, Index::value_type* item) {
  Node& n = item->second;
  (n.newer != nullptr ? n.newer->second.older : s.newest) = n.older;
  (n.older != nullptr ? n.older->second.newer : s.oldest) = n.newer;
  n.newer = n.older = nullptr;
}

void MemoryCache::linkNewestLocked(Shard& s, Index::value_type* item) {
  Node& n = item->second;
  n.newer = nullptr;
  n.older = s.newest;
  if (s.newest != nullptr) s.newest->second.newer = item;
  s.newest = item;
  if (s.oldest == nullptr) s.oldest = item;
}

void MemoryCache::removeLocked(Shard& s, Index::iterator it) {
  unlinkLocked(s, &*it);
  s.bytes -= bytesOf(*it->second.entry);
  s.index.erase(it);
}

std::shared_ptr<const OcspEntry> MemoryCache::get(const CacheKey& key, int64_t now) {
  Shard& s = shardFor(key);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.index.find(key);
  if (it == s.index.end()) return nullptr;
  if (now >= it->second.entry->hard_expiry) {
    removeLocked(s, it);
    return nullptr;
  }
  if (s.newest != &*it) {
    unlinkLocked(s, &*it);
    linkNewestLocked(s, &*it);
  }
  return it->second.entry;
}

void MemoryCache::put(const CacheKey& key, std::shared_ptr<const OcspEntry> entry) {
  const size_t bytes = bytesOf(*entry);
  Shard& s = shardFor(key);
  std::lock_guard<std::mutex> lock(s.mu);
  if (auto found = s.index.find(key); found != s.index.end()) removeLocked(s, found);
  if (bytes > shard_budget_) return;
  while (s.bytes + bytes > shard_budget_ && s.oldest != nullptr) {
    removeLocked(s, s.index.find(s.oldest->first));
    ++s.evictions;
  }
  auto [it, inserted] = s.index.try_emplace(key);
  it->second.entry = std::move(entry);
  linkNewestLocked(s, &*it);
  s.bytes += bytes;
}

void MemoryCache::erase(const CacheKey& key) {
  Shard& s = shardFor(key);
  std::lock_guard<std::mutex> lock(s.mu);
  if (auto found = s.index.find(key); found != s.index.end()) removeLocked(s, found);
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
