#include "cache/memory_cache.h"

#include <bit>

namespace ocsp {

namespace {

constexpr uint32_t kNone = UINT32_MAX;
constexpr uint32_t kChunkNodes = 256;  // 14 KiB per chunk: a shard's slack is at most one
constexpr size_t kFirstTableSize = 16;

struct Node {
  CacheKey key{};
  std::shared_ptr<const OcspEntry> entry;  // null while the node is free
  uint32_t newer = kNone;  // LRU order; on the free list, `newer` is the next free node
  uint32_t older = kNone;
};
static_assert(sizeof(Node) == 56);

// A node's share of the table: one 4-byte slot at a load between 2/5 and 4/5.
constexpr size_t kSlotShare = 10;
// What the entry arena loses around each entry's block beyond OcspEntry::footprint()'s
// average: the rounding's worst case and each span's unused tail (bench/RESULTS.md, "the byte
// bound": checked with `bash bench/run --only million`).
constexpr size_t kAllocatorLoss = 16;

}  // namespace

// One shard: an open-addressed table (linear probing, backward-shift deletion, doubled when
// it would be more than 4/5 full) of 32-bit node numbers, and the nodes in chunks that never
// move. Freed nodes are reused; chunks and the table stay at the shard's peak size.
class alignas(64) MemoryCache::Shard {
 public:
  std::mutex mu;
  size_t bytes = 0;
  uint64_t evictions = 0;
  uint64_t valid_evictions = 0;

  static size_t bytesOf(const OcspEntry& entry) { return entry.footprint() + bookkeepingBytes(); }
  size_t entries() const { return entries_; }
  uint32_t oldest() const { return oldest_; }
  Node& node(uint32_t n) { return chunks_[n / kChunkNodes][n % kChunkNodes]; }

  // The slot holding `key`'s node, or npos.
  size_t find(const CacheKey& key) {
    if (slots_.empty()) return npos;
    for (size_t i = homeOf(key);; i = (i + 1) & mask()) {
      const uint32_t n = slots_[i];
      if (n == kNone) return npos;
      if (node(n).key == key) return i;
    }
  }
  Node& at(size_t slot) { return node(slots_[slot]); }

  void touch(size_t slot) {
    const uint32_t n = slots_[slot];
    if (n == newest_) return;
    unlink(n);
    linkNewest(n);
  }

  // `key` must be absent. False only when no node number is left (2^32 nodes).
  bool insert(const CacheKey& key, std::shared_ptr<const OcspEntry> entry) {
    if ((entries_ + 1) * 5 > slots_.size() * 4) grow();
    const uint32_t n = newNode();
    if (n == kNone) return false;
    Node& x = node(n);
    x.key = key;
    bytes += bytesOf(*entry);
    x.entry = std::move(entry);
    slots_[freeSlotFor(key)] = n;
    linkNewest(n);
    ++entries_;
    return true;
  }

  void removeAt(size_t slot) {
    const uint32_t n = slots_[slot];
    unlink(n);
    Node& x = node(n);
    bytes -= bytesOf(*x.entry);
    x.entry.reset();
    x.newer = free_;
    free_ = n;
    --entries_;
    // Backward shift: move later members of the probe run into the hole when their home
    // slot is not after it, so no search ever stops early at an emptied slot.
    size_t hole = slot;
    for (size_t j = (hole + 1) & mask(); slots_[j] != kNone; j = (j + 1) & mask()) {
      const size_t home = homeOf(node(slots_[j]).key);
      if (((j - home) & mask()) >= ((j - hole) & mask())) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = kNone;
  }

  // Every key and entry held, newest first.
  void copyTo(std::vector<std::pair<CacheKey, std::shared_ptr<const OcspEntry>>>& out) {
    out.reserve(out.size() + entries_);
    for (uint32_t n = newest_; n != kNone; n = node(n).older) {
      out.emplace_back(node(n).key, node(n).entry);
    }
  }

  static constexpr size_t npos = SIZE_MAX;

 private:
  size_t mask() const { return slots_.size() - 1; }
  size_t homeOf(const CacheKey& key) const {
    // Fibonacci hashing of the key's first word: the top bits depend on all of it.
    return static_cast<size_t>((CacheKeyHash{}(key) * 0x9E3779B97F4A7C15ULL) >> shift_);
  }
  size_t freeSlotFor(const CacheKey& key) const {
    size_t i = homeOf(key);
    while (slots_[i] != kNone) i = (i + 1) & mask();
    return i;
  }
  void grow() {
    const size_t size = slots_.empty() ? kFirstTableSize : slots_.size() * 2;
    std::vector<uint32_t> old(size, kNone);
    old.swap(slots_);
    shift_ = 64 - std::countr_zero(size);
    for (uint32_t n : old) {
      if (n != kNone) slots_[freeSlotFor(node(n).key)] = n;
    }
  }
  uint32_t newNode() {
    if (free_ != kNone) return std::exchange(free_, node(free_).newer);
    if (made_ == kNone) return kNone;
    if (made_ % kChunkNodes == 0) chunks_.push_back(std::make_unique<Node[]>(kChunkNodes));
    return made_++;
  }
  void unlink(uint32_t n) {
    Node& x = node(n);
    (x.newer != kNone ? node(x.newer).older : newest_) = x.older;
    (x.older != kNone ? node(x.older).newer : oldest_) = x.newer;
    x.newer = x.older = kNone;
  }
  void linkNewest(uint32_t n) {
    Node& x = node(n);
    x.newer = kNone;
    x.older = newest_;
    if (newest_ != kNone) node(newest_).newer = n;
    newest_ = n;
    if (oldest_ == kNone) oldest_ = n;
  }

  std::vector<uint32_t> slots_;
  int shift_ = 64;
  std::vector<std::unique_ptr<Node[]>> chunks_;
  uint32_t made_ = 0;  // nodes ever made; node numbers below it are valid
  uint32_t free_ = kNone;
  uint32_t newest_ = kNone;
  uint32_t oldest_ = kNone;
  size_t entries_ = 0;
};

size_t MemoryCache::bookkeepingBytes() { return sizeof(Node) + kSlotShare + kAllocatorLoss; }

MemoryCache::MemoryCache(size_t max_bytes, size_t shard_count)
    : max_bytes_(max_bytes),
      shard_count_(shard_count == 0 ? 1 : shard_count),
      shard_budget_(max_bytes / shard_count_),
      shards_(std::make_unique<Shard[]>(shard_count_)) {}

MemoryCache::~MemoryCache() = default;

MemoryCache::Shard& MemoryCache::shardFor(const CacheKey& key) {
  // The key is a SHA-256: its last byte is as uniform as any hash of it, and independent of
  // the first word the table hashes.
  return shards_[key[31] % shard_count_];
}

std::shared_ptr<const OcspEntry> MemoryCache::get(const CacheKey& key, int64_t now) {
  Shard& s = shardFor(key);
  std::lock_guard<std::mutex> lock(s.mu);
  const size_t slot = s.find(key);
  if (slot == Shard::npos) return nullptr;
  if (now >= s.at(slot).entry->hard_expiry) {
    s.removeAt(slot);
    return nullptr;
  }
  s.touch(slot);
  return s.at(slot).entry;
}

void MemoryCache::put(const CacheKey& key, std::shared_ptr<const OcspEntry> entry) {
  Shard& s = shardFor(key);
  std::lock_guard<std::mutex> lock(s.mu);
  if (size_t found = s.find(key); found != Shard::npos) s.removeAt(found);
  insertLocked(s, key, std::move(entry));
}

MemoryCache::Offer MemoryCache::putUnlessOlder(const CacheKey& key,
                                               std::shared_ptr<const OcspEntry> entry) {
  Offer offer;
  Shard& s = shardFor(key);
  std::lock_guard<std::mutex> lock(s.mu);
  if (size_t found = s.find(key); found != Shard::npos) {
    offer.held = s.at(found).entry;
    if (!supersedes(*entry, *offer.held)) return offer;
    s.removeAt(found);
  }
  offer.stored = true;
  insertLocked(s, key, std::move(entry));
  return offer;
}

void MemoryCache::insertLocked(Shard& s, const CacheKey& key,
                               std::shared_ptr<const OcspEntry> entry) {
  const size_t bytes = Shard::bytesOf(*entry);
  if (bytes > shard_budget_) return;
  while (s.bytes + bytes > shard_budget_ && s.oldest() != kNone) {
    Node& oldest = s.node(s.oldest());
    if (oldest.entry->hard_expiry > entry->fetched_at) ++s.valid_evictions;
    s.removeAt(s.find(oldest.key));
    ++s.evictions;
  }
  s.insert(key, std::move(entry));
}

void MemoryCache::erase(const CacheKey& key) {
  Shard& s = shardFor(key);
  std::lock_guard<std::mutex> lock(s.mu);
  if (size_t found = s.find(key); found != Shard::npos) s.removeAt(found);
}

void MemoryCache::forEach(const Visitor& visit) const {
  std::vector<std::pair<CacheKey, std::shared_ptr<const OcspEntry>>> held;
  for (size_t i = 0; i < shard_count_; ++i) {
    held.clear();
    {
      Shard& s = shards_[i];
      std::lock_guard<std::mutex> lock(s.mu);
      s.copyTo(held);
    }
    for (const auto& [key, entry] : held) visit(key, entry);
  }
}

MemoryCache::Stats MemoryCache::stats() const {
  Stats total;
  for (size_t i = 0; i < shard_count_; ++i) {
    Shard& s = shards_[i];
    std::lock_guard<std::mutex> lock(s.mu);
    total.entries += s.entries();
    total.bytes += s.bytes;
    total.evictions += s.evictions;
    total.valid_evictions += s.valid_evictions;
  }
  return total;
}

}  // namespace ocsp
