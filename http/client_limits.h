#pragma once
// Limits on what clients may take from the OCSP listener (docs/ARCHITECTURE.md §11), shared by
// every worker and every config generation (a reload keeps counting the connections the old
// workers still serve):
//   - ConnectionGate: open client connections against limits.max_connections (a connection
//     refused or already answered with close gives its slot back while it drains);
//   - RateLimiter: a token bucket per client address (limits.rate_per_client/rate_burst).
// Both are thread-safe and cheap on the request path: one atomic add, or one lock of one of
// 16 shards.
#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace ocsp {

class ConnectionGate {
 public:
  // Counts a connection in; false if that makes more than `max` open (it stays counted until
  // leave(), like every other).
  bool enter(int64_t max) { return open_.fetch_add(1, std::memory_order_relaxed) + 1 <= max; }
  void leave() { open_.fetch_sub(1, std::memory_order_relaxed); }
  int64_t open() const { return open_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> open_{0};
};

class RateLimiter {
 public:
  // Takes one token from `client`'s bucket at `now_ms` (a monotonic clock). A bucket holds at
  // most `burst` tokens (0: `rate`) and gains `rate` per second. Returns false when empty;
  // `rate` 0 always returns true.
  bool allow(const std::string& client, int64_t rate, int64_t burst, int64_t now_ms);

  size_t trackedClients() const;

 private:
  struct Bucket {
    double tokens;
    int64_t updated_ms;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;
    int64_t swept_ms = 0;
  };
  // Buckets full again are forgotten, at most once a second per shard, so that a scan of
  // many addresses does not grow the table for ever.
  static void sweep(Shard& shard, double rate, double burst, int64_t now_ms);
  std::array<Shard, 16> shards_;
};

}  // namespace ocsp
