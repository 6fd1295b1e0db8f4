#pragma once
// Wall-clock time in whole seconds since the epoch, injectable so that every time rule
// (freshness, nextUpdate, certificate validity) can be tested with a moved clock.
#include <atomic>
#include <cstdint>
#include <ctime>

namespace ocsp {

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds since the Unix epoch. Thread-safe.
  virtual int64_t now() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t now() const override { return static_cast<int64_t>(std::time(nullptr)); }
  static const SystemClock& instance() {
    static const SystemClock clock;
    return clock;
  }
};

// Test clock: starts where it is told and moves only when told.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start) : now_(start) {}
  int64_t now() const override { return now_.load(); }
  void set(int64_t t) { now_.store(t); }
  void advance(int64_t seconds) { now_.fetch_add(seconds); }

 private:
  std::atomic<int64_t> now_;
};

// Monotonic milliseconds, for latencies and timeouts (never for OCSP time rules).
int64_t monotonicMs();

}  // namespace ocsp
