#include "http/accept_backoff.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/log.h"

namespace ocsp {

namespace {

// The live AcceptBackoff of each listener: a few (one per worker, one admin), looked up only
// when an accept fails.
struct Registry {
  std::mutex mu;
  std::vector<std::pair<evconnlistener*, AcceptBackoff*>> entries;
};
Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

AcceptBackoff::AcceptBackoff(event_base* base, evconnlistener* listener, std::string listener_name,
                             Counter* paused)
    : listener_(listener),
      resume_(evtimer_new(base, &AcceptBackoff::onResume, this)),
      name_(std::move(listener_name)),
      paused_(paused) {
  if (!resume_) throw std::runtime_error("evtimer_new failed");
  {
    std::lock_guard<std::mutex> lock(registry().mu);
    registry().entries.emplace_back(listener_, this);
  }
  evconnlistener_set_error_cb(listener_, &AcceptBackoff::onError);
}

AcceptBackoff::~AcceptBackoff() {
  evconnlistener_set_error_cb(listener_, nullptr);
  std::lock_guard<std::mutex> lock(registry().mu);
  auto& entries = registry().entries;
  entries.erase(std::remove(entries.begin(), entries.end(), std::make_pair(listener_, this)),
                entries.end());
}

void AcceptBackoff::onError(evconnlistener* listener, void*) {
  const int err = EVUTIL_SOCKET_ERROR();
  AcceptBackoff* self = nullptr;
  {
    std::lock_guard<std::mutex> lock(registry().mu);
    for (const auto& [l, backoff] : registry().entries) {
      if (l == listener) self = backoff;
    }
  }
  if (self != nullptr) self->pause(err);
}

void AcceptBackoff::pause(int err) {
  evconnlistener_disable(listener_);
  timeval tv{0, kPauseMs * 1000};
  evtimer_add(resume_.get(), &tv);
  ++pauses_;
  ++unlogged_;
  if (paused_ != nullptr) paused_->inc();
  const int64_t now = monotonicMs();
  if (ever_logged_ && now - logged_ms_ < kLogEveryMs) return;
  logEvent(LogLevel::Error, "accept_paused",
           {{"listener", name_},
            {"error", std::strerror(err)},
            {"pause_ms", std::to_string(kPauseMs)},
            {"pauses", std::to_string(unlogged_)},
            {"detail",
             "accept() failed: new connections wait in the kernel queue; the open-file "
             "limit (ulimit -n, LimitNOFILE=) may be too low for limits.max_connections"}});
  ever_logged_ = true;
  logged_ms_ = now;
  unlogged_ = 0;
}

void AcceptBackoff::onResume(evutil_socket_t, short, void* self) {
  evconnlistener_enable(static_cast<AcceptBackoff*>(self)->listener_);
}

}  // namespace ocsp
