#include "upstream/crl_fetch_queue.h"

#include "core/log.h"

namespace ocsp {

void CrlFetchQueue::lookup(CrlQuery query, CrlReply done) {
  if (queued_.empty()) {
    if (fits()) {
      start(std::move(query), std::move(done));
      return;
    }
    logEvent(LogLevel::Info, "crl_fetch_queued",
             {{"url", query.key},
              {"running", std::to_string(running_.size())},
              {"reserved_bytes", std::to_string(reserved_bytes_)}});
  }
  queued_.push_back(Waiting{std::move(query), std::move(done)});
}

bool CrlFetchQueue::fits() const {
  return running_.size() < limits_.max_concurrent &&
         reserved_bytes_ + limits_.max_bytes <= limits_.max_inflight_bytes;
}

void CrlFetchQueue::start(CrlQuery query, CrlReply done) {
  const std::string url = query.key;
  reserve(url, limits_.max_bytes);
  query.downloaded = [this, url](size_t bytes) {
    reserve(url, bytes);
    startQueued();
  };
  next_.lookup(std::move(query),
               [this, url, done = std::move(done)](Result<std::shared_ptr<const CrlEntry>> result) {
                 release(url);
                 done(std::move(result));
                 startQueued();
               });
}

// Starts the queued lookups the bounds now allow, oldest first.
void CrlFetchQueue::startQueued() {
  while (!queued_.empty() && fits()) {
    Waiting next = std::move(queued_.front());
    queued_.pop_front();
    start(std::move(next.query), std::move(next.done));
  }
}

void CrlFetchQueue::reserve(const std::string& url, size_t bytes) {
  size_t& held = running_[url];
  reserved_bytes_ = reserved_bytes_ - held + bytes;
  held = bytes;
}

void CrlFetchQueue::release(const std::string& url) {
  if (auto it = running_.find(url); it != running_.end()) {
    reserved_bytes_ -= it->second;
    running_.erase(it);
  }
}

}  // namespace ocsp
