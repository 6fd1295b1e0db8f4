#pragma once
// In-process response cache (DESIGN.md §2, L1): shared by all worker threads, sharded with a
// mutex per shard, bounded in bytes with LRU eviction per shard. Stores immutable entries;
// a hit costs one lock, one hash lookup, relinking one node and a shared_ptr copy. One hash
// node per entry holds the key, the entry and its place in the LRU order (intrusive links),
// so the bookkeeping is one allocation, not a list node and a map node with a key each.
// Knows nothing about HTTP or upstreams.
#include <cstdint>
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
  struct Node;
  using Index = std::unordered_map<CacheKey, Node, CacheKeyHash>;
  struct Node {
    std::shared_ptr<const OcspEntry> entry;  // its cost: bytesOf(*entry), the entry is immutable
    // LRU order, through the index's own nodes (their addresses are stable).
    Index::value_type* newer = nullptr;
    Index::value_type* older = nullptr;
  };
  struct Shard {
    mutable std::mutex mu;
    Index index;
    Index::value_type* newest = nullptr;
    Index::value_type* oldest = nullptr;
    size_t bytes = 0;
    uint64_t evictions = 0;
  };
  Shard& shardFor(const CacheKey& key);
  static size_t bytesOf(const OcspEntry& entry);
  static void unlinkLocked(Shard& s, Index::value_type* item);
  static void linkNewestLocked(Shard& s, Index::value_type* item);
  static void removeLocked(Shard& s, Index::iterator it);

  size_t max_bytes_;
  size_t shard_budget_;
  std::vector<Shard> shards_;
};

}  // namespace ocsp
