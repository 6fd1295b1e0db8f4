#include "core/mailbox.h"

namespace ocsp {

Mailbox::Mailbox(event_base* base) : wake_(event_new(base, -1, 0, &Mailbox::onWake, this)) {}

void Mailbox::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(fn));
  }
  // Activating an already active event is a no-op; onWake drains everything queued.
  event_active(wake_.get(), 0, 0);
}

void Mailbox::onWake(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Mailbox*>(arg);
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    batch.swap(self->queue_);
  }
  for (auto& fn : batch) fn();
}

}  // namespace ocsp
