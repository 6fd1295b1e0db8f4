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

void CoalescingSource::lookup(std::shared_ptr<const OcspQuery> query, Reply done) {
  if (query->passthrough) {  // nonce answers belong to one client
    next_.lookup(std::move(query), std::move(done));
    return;
  }
  const CacheKey key = query->key;
  InflightTable::Waiter me{&mailbox_, std::move(done)};
  if (!table_.join(key, me)) return;  // queued: the leader's result will reach us

  if (recheck_ != nullptr) {
    // A leader that just missed the previous leader's stored answer finds it here. An entry
    // already due for refresh does not count: refreshing it is why we were asked.
    int64_t now = clock_.now();
    if (auto entry = recheck_->get(key, now); entry && now < entry->refresh_at) {
      deliver(key, me.done, Answer{std::move(entry), AnswerSource::Memory});
      return;
    }
  }
  next_.lookup(std::move(query), [this, key, leader = std::move(me.done)](Result<Answer> result) {
    deliver(key, leader, result);
  });
}

void CoalescingSource::deliver(const CacheKey& key, const Reply& leader,
                               const Result<Answer>& result) {
  // Leader first: the stages above it store the answer on the way up. Only then does the
  // key leave the table, so a later lookup either waits here or finds the stored answer.
  leader(result);
  std::vector<InflightTable::Waiter> waiters = table_.finish(key);
  if (waiters.empty()) return;
  Result<Answer> copy = result;
  if (copy.ok()) copy->coalesced = true;
  for (auto& w : waiters) {
    if (w.mailbox == &mailbox_) {
      w.done(copy);
    } else {
      w.mailbox->post([done = std::move(w.done), copy]() { done(copy); });
    }
  }
}

}  // namespace ocsp
