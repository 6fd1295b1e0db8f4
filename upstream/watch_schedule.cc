#include "upstream/watch_schedule.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "core/ossl.h"

namespace ocsp {

WatchSchedule::WatchSchedule(const std::vector<X509*>& certs, int64_t interval_s)
    : interval_s_(std::max<int64_t>(interval_s, 1)),
      offset_s_(certs.size()),
      first_round_s_(certs.size()) {
  std::vector<std::string> prints;
  prints.reserve(certs.size());
  for (X509* cert : certs) prints.push_back(sha256(toDer(cert, i2d_X509)));
  std::vector<size_t> by_rank(certs.size());
  std::iota(by_rank.begin(), by_rank.end(), size_t{0});
  std::sort(by_rank.begin(), by_rank.end(),
            [&](size_t a, size_t b) { return prints[a] < prints[b] || (prints[a] == prints[b] && a < b); });
  const int64_t n = static_cast<int64_t>(certs.size());
  const int64_t window = std::min(interval_s_, kFirstRoundWindowS);
  for (int64_t k = 0; k < n; ++k) {
    const size_t index = by_rank[static_cast<size_t>(k)];
    offset_s_[index] = k * interval_s_ / n;
    first_round_s_[index] = k * window / n;
  }
}

int64_t WatchSchedule::firstCheck(size_t index, int64_t start) const {
  return start + first_round_s_.at(index);
}

int64_t WatchSchedule::slotAfter(size_t index, int64_t t) const {
  const int64_t offset = offset_s_.at(index);
  // The last slot at or before t, then one interval on. Floor division: t may be negative in
  // tests, never in practice.
  int64_t since = (t - offset) % interval_s_;
  if (since < 0) since += interval_s_;
  return t - since + interval_s_;
}

int64_t WatchSchedule::nextCheck(size_t index, int64_t checked, int64_t now) const {
  return slotAfter(index, std::max(now - 1, checked + interval_s_ / 2));
}

}  // namespace ocsp
