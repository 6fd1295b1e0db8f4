#pragma once
// Runs closures posted from any thread on one event loop's thread. Used to hand a result
// computed on one worker to requests waiting on another (coalescing across workers).
// Requires evthread_use_pthreads() before the event_base was created.
#include <event2/event.h>

#include <functional>
#include <mutex>
#include <vector>

#include "core/handles.h"

namespace ocsp {

class Mailbox {
 public:
  explicit Mailbox(event_base* base);
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Thread-safe. `fn` runs later on the loop thread, in posting order. Closures still queued
  // when the Mailbox is destroyed are dropped without running.
  void post(std::function<void()> fn);

 private:
  static void onWake(evutil_socket_t, short, void* arg);
  std::mutex mu_;
  std::vector<std::function<void()>> queue_;
  EventPtr wake_;
};

}  // namespace ocsp
