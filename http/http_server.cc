#include "http/http_server.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <stdexcept>

#include "core/clock.h"
#include "http/http_connection.h"

namespace ocsp {

namespace {

timeval timevalOfMs(int64_t ms) {
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

// Client connections may use descriptors below this; above it, the descriptors left are kept
// for the admin listener, upstream and Redis connections and log files.
int connectionFdCeiling() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return INT_MAX;
  const int64_t soft = static_cast<int64_t>(std::min<rlim_t>(rl.rlim_cur, INT_MAX));
  return static_cast<int>(soft - std::clamp<int64_t>(soft / 8, 16, 256));
}

}  // namespace

HttpServer::HttpServer(event_base* base, int listen_fd, const HttpServerLimits& limits,
                       HttpHandler& handler)
    : base_(base), limits_(limits), handler_(handler) {
  const timeval idle = timevalOfMs(limits.client_timeout_ms);
  client_timeout_ = event_base_init_common_timeout(base_, &idle);
  const timeval whole = timevalOfMs(limits.request_timeout_ms);
  request_timeout_ = event_base_init_common_timeout(base_, &whole);
  fd_ceiling_ = connectionFdCeiling();
  listener_ = evconnlistener_new(base_, &HttpServer::onAccept, this,
                                 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, listen_fd);
  if (listener_ == nullptr) {
    ::close(listen_fd);
    throw std::runtime_error("evconnlistener_new failed");
  }
  backoff_ = std::make_unique<AcceptBackoff>(base_, listener_, "ocsp", limits.accept_paused);
}

HttpServer::~HttpServer() {
  stopAccepting();
  while (first_ != nullptr) delete first_;
}

void HttpServer::stopAccepting() {
  backoff_.reset();  // before its listener
  if (listener_ != nullptr) evconnlistener_free(listener_);
  listener_ = nullptr;
}

void HttpServer::onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int, void* self) {
  auto* server = static_cast<HttpServer*>(self);
  auto* conn = new HttpConnection(*server, fd, addr);
  conn->start();
}

HttpConnection* HttpServer::slowest(const HttpConnection* except, bool need_slot) {
  const int64_t now = monotonicMs();
  HttpConnection* best = nullptr;
  for (HttpConnection* c = first_; c != nullptr; c = c->next_) {
    if (c == except || !c->evictable(now, need_slot)) continue;
    // A lingering connection (already answered) goes first, then the longest waiting.
    const bool c_lingering = c->lingering();
    const bool best_lingering = best != nullptr && best->lingering();
    if (best == nullptr || (c_lingering && !best_lingering) ||
        (c_lingering == best_lingering && c->waitingSinceMs() < best->waitingSinceMs())) {
      best = c;
    }
  }
  return best;
}

}  // namespace ocsp
