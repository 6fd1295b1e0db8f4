#pragma once
// The values of metric series (core/metrics.h): a counter, a gauge, a histogram. Each is one
// cache-line-aligned object updated with relaxed atomics: no lock, no allocation, callable
// from any thread, and two series updated by different threads never share a cache line.
// The registry (Metrics) creates them, hands out references valid for its lifetime, and
// reads them for the exposition.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

namespace ocsp {

// Bucket slots of a histogram, including the +Inf one.
inline constexpr size_t kMaxHistogramBuckets = 16;
inline constexpr size_t kCacheLineBytes = 64;

// Monotonic count. inc() is a relaxed atomic add.
class alignas(kCacheLineBytes) Counter {
 public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down. int64 rather than double: every gauge in the table is a
// count, a byte size, a flag or whole seconds, and an integer add is one fetch_add that never
// loses precision (a double add is a compare-exchange loop).
class alignas(kCacheLineBytes) Gauge {
 public:
  void set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void add(int64_t delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  friend class Metrics;
  std::atomic<int64_t> value_{0};
  uint64_t resolved_in_scrape_ = 0;  // Metrics::collectedEachScrape; under its series mutex
};

// Observations in seconds, counted into the buckets of its table row. observe() is a relaxed
// add on one bucket and one on the sum (a compare-exchange loop, the sum being a double). A
// scrape reads the buckets one by one, so a concurrent observe may show in _count before
// _sum; the buckets and _count always agree.
class alignas(kCacheLineBytes) Histogram {
 public:
  explicit Histogram(std::span<const double> upper_bounds);

  // Counted in the first bucket whose upper bound is >= seconds; NaN counts in +Inf only.
  void observe(double seconds) {
    size_t i = 0;
    while (i < bounds_.size() && !(seconds <= bounds_[i])) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(seconds, std::memory_order_relaxed);
  }

  std::span<const double> upperBounds() const { return bounds_; }
  // Observations in bucket i alone: above upperBounds()[i - 1], at most upperBounds()[i].
  uint64_t bucketCount(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  // Observations <= upperBounds()[i]; i == upperBounds().size() is the +Inf bucket (= count).
  uint64_t cumulativeCount(size_t i) const;
  uint64_t count() const { return cumulativeCount(bounds_.size()); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::span<const double> bounds_;
  std::array<std::atomic<uint64_t>, kMaxHistogramBuckets> buckets_{};  // not cumulative
  std::atomic<double> sum_{0};
};

}  // namespace ocsp
