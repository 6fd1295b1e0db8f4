#pragma once
// What a listener does when accept() fails for want of descriptors or memory (EMFILE, ENFILE,
// ENOBUFS, ENOMEM, or anything else libevent does not retry by itself). The pending
// connection stays in the kernel's queue, so the listening socket stays readable: a plain
// accept loop would spin at 100% CPU and log every failure. Instead:
//   - the listener is disabled for kPauseMs, then enabled again by a timer (connections
//     wait in the kernel's queue meanwhile, and are taken once descriptors are free);
//   - a pause is logged at most once per kLogEveryMs (event=accept_paused, with the error and
//     how many pauses the line covers), never once per failed accept;
//   - each pause is counted in ocsp_proxy_limit_rejections_total{limit="open_files"}.
// Used by the OCSP listener of each worker (http/http_server.h) and by the admin listener.
// Threading: everything runs on the listener's loop.
#include <event2/event.h>
#include <event2/listener.h>

#include <cstdint>
#include <string>

#include "core/handles.h"
#include "core/metrics.h"

namespace ocsp {

class AcceptBackoff {
 public:
  static constexpr int kPauseMs = 100;
  static constexpr int64_t kLogEveryMs = 10'000;

  // Becomes `listener`'s error callback. `listener` must outlive this object (destroy it
  // first); `paused` may be null (not counted).
  AcceptBackoff(event_base* base, evconnlistener* listener, std::string listener_name,
                Counter* paused);
  ~AcceptBackoff();
  AcceptBackoff(const AcceptBackoff&) = delete;
  AcceptBackoff& operator=(const AcceptBackoff&) = delete;

  // Pauses so far (tests).
  uint64_t pauses() const { return pauses_; }

 private:
  // libevent hands the error callback the listener's accept argument, which belongs to the
  // listener's owner (the evhttp of the admin listener): this object is found by listener.
  static void onError(evconnlistener* listener, void*);
  static void onResume(evutil_socket_t, short, void* self);
  void pause(int err);

  evconnlistener* listener_;
  EventPtr resume_;
  std::string name_;
  Counter* paused_;
  uint64_t pauses_ = 0;
  uint64_t unlogged_ = 0;  // pauses since the last accept_paused line
  int64_t logged_ms_ = 0;
  bool ever_logged_ = false;
};

}  // namespace ocsp
