#include "cache/coalescer.h"

namespace ocsp {

bool InflightTable::join(const CacheKey& key, Waiter& waiter) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, leader] = waiting_.try_emplace(key);
  if (!leader) it->second.push_back(std::move(waiter));
  return leader;
}

std::vector<InflightTable::Waiter> InflightTable::finish(const CacheKey& key) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Waiter> out;
  if (auto it = waiting_.find(key); it != waiting_.end()) {
    out = std::move(it->second);
    waiting_.erase(it);
  }
  return out;
}

size_t InflightTable::inflight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiting_.size();
}

void CoalescingSource::lookup(Lookup lookup, Reply done) {
  if (lookup.passthrough) {  // each carries its own nonce to the CA; its answer may echo it
    next_.lookup(std::move(lookup), std::move(done));
    return;
  }
  const CacheKey key = lookup.query->key;
  InflightTable::Waiter me{&mailbox_, std::move(lookup), std::move(done)};
  if (!table_.join(key, me)) return;  // queued: the leader's result will reach us

  if (recheck_ != nullptr) {
    // A leader that just missed the previous leader's stored answer finds it here. An entry
    // already due for refresh does not count: refreshing it is why we were asked.
    int64_t now = clock_.now();
    if (auto entry = recheck_->get(key, now); entry && now < entry->refresh_at) {
      deliver(key, me.done, me.lookup, Answer{std::move(entry), AnswerSource::Memory});
      return;
    }
  }
  next_.lookup(std::move(me.lookup), [this, key, leader = std::move(me.done)](
                                         const Lookup& answered, Result<Answer> result) {
    deliver(key, leader, answered, result);
  });
}

void CoalescingSource::deliver(const CacheKey& key, const Reply& leader, const Lookup& lookup,
                               const Result<Answer>& result) {
  // Leader first: the stages above it store the answer on the way up. Only then does the
  // key leave the table, so a later lookup either waits here or finds the stored answer.
  leader(lookup, result);
  std::vector<InflightTable::Waiter> waiters = table_.finish(key);
  if (waiters.empty()) return;
  Result<Answer> copy = result;
  if (copy.ok()) copy->coalesced = true;
  for (auto& w : waiters) {
    // Each waiter gets its own lookup back: its client, its route.
    if (w.mailbox == &mailbox_) {
      w.done(w.lookup, copy);
    } else {
      w.mailbox->post([done = std::move(w.done), lookup = std::move(w.lookup), copy]() {
        done(lookup, copy);
      });
    }
  }
}

}  // namespace ocsp
