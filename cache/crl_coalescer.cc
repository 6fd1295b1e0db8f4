#include "cache/crl_coalescer.h"

#include "core/log.h"

namespace ocsp {

void CrlCoalescer::lookup(CrlQuery query, CrlReply done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, leader] = waiting_.try_emplace(query.key);
    it->second.push_back(Waiter{query.reply_to, std::move(done)});
    if (!leader) return;
  }
  logEvent(LogLevel::Debug, "crl_miss", {{"url", query.key}, {"client", query.client}});
  crl_thread_.post([this, query = std::move(query)]() mutable { start(std::move(query)); });
}

bool CrlCoalescer::lead(CrlQuery query) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!waiting_.try_emplace(query.key).second) return false;
  }
  start(std::move(query));
  return true;
}

size_t CrlCoalescer::inflight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiting_.size();
}

void CrlCoalescer::start(CrlQuery query) {
  std::string key = query.key;
  next_.lookup(std::move(query), [this, key](Result<std::shared_ptr<const CrlEntry>> result) {
    deliver(key, result);
  });
}

void CrlCoalescer::deliver(const std::string& key,
                           const Result<std::shared_ptr<const CrlEntry>>& result) {
  std::vector<Waiter> waiters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = waiting_.find(key); it != waiting_.end()) {
      waiters = std::move(it->second);
      waiting_.erase(it);
    }
  }
  for (Waiter& w : waiters) {
    w.mailbox->post([done = std::move(w.done), result] { done(result); });
  }
}

}  // namespace ocsp
