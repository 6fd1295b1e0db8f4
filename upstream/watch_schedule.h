#pragma once
// When each watched intermediate is checked (docs/ARCHITECTURE.md §9): spread so that a
// catalogue of hundreds costs each CA a steady trickle, never a burst. Rules:
//   - Order: the intermediates are ranked by the SHA-256 of their certificate (DER); rank k of
//     n. The rank depends on the set watched, not on the order it was configured in.
//   - Slots: intermediate k is checked at the wall-clock times t with
//     t mod interval = floor(k * interval / n), counted from the Unix epoch. The checks of one
//     round are evenly spaced, at most ceil(n / interval_s) start in any one second, and a
//     restart (or another proxy with the same list) keeps each intermediate on the same
//     times instead of realigning them all on its start.
//   - First round: a checker started at `start` checks an intermediate nobody checked yet at
//     start + floor(k * window / n), window = min(interval, kFirstRoundWindowS): everything is
//     known within five minutes of a start, paced, not all at once.
//   - Next: after a check at t, the first slot after t + interval / 2, so a first-round check
//     and the slot just after it are not both made; in steady state this is t + interval.
//     One whose state a reload carried over goes straight to its next slot after
//     max(now, its last check + interval / 2): a reload starts no round.
// Pure arithmetic on seconds; the caller's clock says what "now" is.
#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ocsp {

class WatchSchedule {
 public:
  static constexpr int64_t kFirstRoundWindowS = 300;

  // `certs`: the watched intermediates in watch order; `interval_s` > 0.
  WatchSchedule(const std::vector<X509*>& certs, int64_t interval_s);

  size_t size() const { return offset_s_.size(); }
  // Seconds into each interval at which intermediate `index` is checked.
  int64_t offset(size_t index) const { return offset_s_.at(index); }
  // The first check of a checker started at `start`.
  int64_t firstCheck(size_t index, int64_t start) const;
  // The check after one made at `checked`, not before `now`.
  int64_t nextCheck(size_t index, int64_t checked, int64_t now) const;

 private:
  // The first slot of `index` strictly after `t`.
  int64_t slotAfter(size_t index, int64_t t) const;

  int64_t interval_s_;
  std::vector<int64_t> offset_s_;       // by index
  std::vector<int64_t> first_round_s_;  // by index: offset into the first round
};

}  // namespace ocsp
