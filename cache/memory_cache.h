#pragma once
// In-process response cache (docs/ARCHITECTURE.md §6.1, L1): shared by all worker threads, sharded
// with a mutex per shard, bounded in bytes with LRU eviction per shard. Stores immutable entries;
// a hit costs one lock, one probe of an open-addressed table, relinking one node and a
// shared_ptr copy.
//
// Per entry the bookkeeping is one 56-byte node (key, entry, LRU links as 32-bit node
// numbers) in a chunk of nodes, and one 4-byte slot of the shard's table: no heap block per
// entry beyond the entry's own (README "Performance"). Knows nothing about HTTP or upstreams.
#include <cstdint>
#include <functional>
#include <memory>

#include "core/cert_id.h"
#include "core/ocsp_entry.h"

namespace ocsp {

class MemoryCache {
 public:
  // `max_bytes` bounds the sum of OcspEntry::footprint() plus per-entry bookkeeping.
  explicit MemoryCache(size_t max_bytes, size_t shard_count = 16);
  ~MemoryCache();
  MemoryCache(const MemoryCache&) = delete;
  MemoryCache& operator=(const MemoryCache&) = delete;

  // The entry for `key` if it is present and `now` < hard_expiry (it may be past
  // fresh_until: callers decide whether stale is acceptable). An entry past hard_expiry is
  // removed and never returned (docs/ARCHITECTURE.md §4: never serve past nextUpdate).
  std::shared_ptr<const OcspEntry> get(const CacheKey& key, int64_t now);

  // Inserts or replaces. Evicts least recently used entries of the shard until it fits; an
  // entry larger than a shard's budget is not stored. An evicted entry still before its
  // hard_expiry when `entry` was fetched (its fetched_at) counts in Stats::valid_evictions.
  void put(const CacheKey& key, std::shared_ptr<const OcspEntry> entry);

  // What putUnlessOlder() did: whether `entry` went in, and the entry held before (replaced
  // or kept; null when there was none).
  struct Offer {
    bool stored = false;
    std::shared_ptr<const OcspEntry> held;
  };
  // put(), unless the entry held for `key` is newer (supersedes(): an older answer never
  // replaces a newer one). Checked and stored under the shard's lock, so that two workers
  // storing at once cannot let the older answer win.
  Offer putUnlessOlder(const CacheKey& key, std::shared_ptr<const OcspEntry> entry);

  void erase(const CacheKey& key);

  // Calls `visit` for every entry held, shard by shard: the shard's keys and entries are
  // copied (shared_ptr copies) under its lock, and `visit` runs after the lock is released,
  // so a slow visitor (the state snapshot encodes each entry) never holds up a worker. An
  // entry stored or removed meanwhile may or may not be visited. Any thread.
  using Visitor = std::function<void(const CacheKey&, const std::shared_ptr<const OcspEntry>&)>;
  void forEach(const Visitor& visit) const;

  struct Stats {
    size_t entries = 0;
    size_t bytes = 0;
    uint64_t evictions = 0;
    uint64_t valid_evictions = 0;  // of those, entries still valid (put()): the bound bites
  };
  Stats stats() const;
  size_t maxBytes() const { return max_bytes_; }

  // What one entry costs beyond its own footprint (its node, its share of the table, the
  // allocator's loss around the entry's block): counted in stats().bytes.
  static size_t bookkeepingBytes();

 private:
  class Shard;
  Shard& shardFor(const CacheKey& key);
  // Evicts least recently used entries of `s` until `entry` fits, then inserts it; `key` is
  // not in `s`. The caller holds s.mu.
  void insertLocked(Shard& s, const CacheKey& key, std::shared_ptr<const OcspEntry> entry);

  size_t max_bytes_;
  size_t shard_count_;
  size_t shard_budget_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace ocsp
