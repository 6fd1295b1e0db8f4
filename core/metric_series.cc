#include "core/metric_series.h"

#include <cstdio>
#include <cstdlib>

namespace ocsp {

Histogram::Histogram(std::span<const double> upper_bounds) : bounds_(upper_bounds) {
  if (bounds_.size() + 1 > kMaxHistogramBuckets) {
    std::fprintf(stderr, "ocsp-proxy: metrics: histogram with %zu buckets (at most %zu)\n",
                 bounds_.size(), kMaxHistogramBuckets - 1);
    std::abort();
  }
}

uint64_t Histogram::cumulativeCount(size_t i) const {
  uint64_t total = 0;
  for (size_t b = 0; b <= i && b <= bounds_.size(); ++b) total += bucketCount(b);
  return total;
}

}  // namespace ocsp
