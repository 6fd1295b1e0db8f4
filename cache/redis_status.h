#pragma once
// What /readyz and /metrics know about the Redis stage (docs/ARCHITECTURE.md §14: "Redis down, slow
// or restarting → /readyz says degraded"). One object shared by every worker's RedisSource; each
// worker reports its own connection state. Thread-safe.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace ocsp {

// Event counts of the Redis stage, summed over workers. Each degraded-mode rule of
// cache/redis_source.h has one.
struct RedisCounters {
  std::atomic<uint64_t> hits{0};      // fresh, re-validated entries served from Redis
  std::atomic<uint64_t> misses{0};    // key absent, or present but no longer fresh
  std::atomic<uint64_t> bypassed{0};  // lookups sent straight to the next stage: no connection
  std::atomic<uint64_t> timeouts{0};  // GETs not answered within command_timeout
  std::atomic<uint64_t> errors{0};    // GETs answered with an error or lost with the connection
  std::atomic<uint64_t> invalid_entries{0};  // values that did not decode or validate (deleted)
  std::atomic<uint64_t> writes{0};           // SETs sent
  std::atomic<uint64_t> older_refused{0};    // writes not made: Redis held a newer answer
  std::atomic<uint64_t> write_errors{0};     // SETs answered with an error
  std::atomic<uint64_t> stale_served{
      0};                                // stale Redis entries served because the next stage failed
  std::atomic<uint64_t> disconnects{0};  // up -> down transitions
  std::atomic<uint64_t> master_changes{0};  // sentinel reported a different master
};

class RedisStatus {
 public:
  // No Redis configured: configured() is false, allUp() true.
  RedisStatus() = default;
  // `target` describes the configuration for messages (redisTarget() in redis_source.h).
  RedisStatus(int workers, std::string target);
  RedisStatus(const RedisStatus&) = delete;
  RedisStatus& operator=(const RedisStatus&) = delete;

  bool configured() const { return !slots_.empty(); }
  int slotCount() const { return static_cast<int>(slots_.size()); }
  // Worker `worker` (0-based, < workers) is connected to `address`, or not connected.
  void setUp(int worker, const std::string& address);
  void setDown(int worker);
  bool up(int worker) const;
  int upCount() const;
  // Every worker is connected (true when not configured: nothing to wait for).
  bool allUp() const;
  // "redis: 1/2 workers connected to 127.0.0.1:6379", or "redis: not configured".
  std::string describe() const;

  RedisCounters& counters() { return counters_; }
  const RedisCounters& counters() const { return counters_; }

 private:
  struct Slot {
    bool up = false;
    std::string address;
  };
  mutable std::mutex mu_;
  std::vector<Slot> slots_;
  std::string target_;
  RedisCounters counters_;
};

}  // namespace ocsp
