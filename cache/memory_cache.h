#pragma once
// In-process response cache (DESIGN.md §2, L1): shared by all worker threads, sharded with a
// mutex per shard, bounded in bytes with LRU eviction per shard. Stores immutable entries;
// a hit costs one lock, one hash lookup, one list splice and a shared_ptr copy.
// Knows nothing about HTTP or upstreams.
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/ocsp_types.h"

namespace ocsp {

class MemoryCache {
 public:
  // `max_bytes` bounds the sum of OcspEntry::footprint() plus per-entry bookkeeping.
  explicit MemoryCache(size_t max_bytes, size_t shard_count = 16);

  // The entry for `key` if it is present and `now` < hard_expiry (it may be past
  // fresh_until: callers decide whether stale is acceptable). An entry past hard_expiry is
  // removed and never returned (DESIGN.md §4: never serve past nextUpdate).
  std::shared_ptr<const OcspEntry> get(const CacheKey& key, int64_t now);

  // Inserts or replaces. Evicts least recently used entries of the shard until it fits; an
  // entry larger than a shard's budget is not stored.
  void put(const CacheKey& key, std::shared_ptr<const OcspEntry> entry);

  void erase(const CacheKey& key);

  struct Stats {
    size_t entries = 0;
    size_t bytes = 0;
    uint64_t evictions = 0;
  };
  Stats stats() const;
  size_t maxBytes() const { return max_bytes_; }

 private:
  struct Node {
    CacheKey key;
    std::shared_ptr<const OcspEntry> entry;
    size_t bytes;
  };
  struct Shard {
    mutable std::mutex mu;
    std::list<Node> lru;  // front = most recently used
    std::unordered_map<CacheKey, std::list<Node>::iterator, CacheKeyHash> index;
    size_t bytes = 0;
    uint64_t evictions = 0;
  };
  Shard& shardFor(const CacheKey& key);
  static void removeLocked(Shard& s, std::list<Node>::iterator it);

  size_t max_bytes_;
  size_t shard_budget_;
  std::vector<Shard> shards_;
};

}  // namespace ocsp
