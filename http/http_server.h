#pragma once
// The OCSP listener's HTTP/1.1 layer (docs/ARCHITECTURE.md §11): the listener of one worker,
// its connections and the limits over them. It replaces libevent's evhttp on the hot path;
// the parts:
//   - http/http_exchange.h: one request and its answer, the handler's contract;
//   - http/http_connection.h: one connection's state machine (framing, keep-alive,
//     pipelining, deadlines, half-close, lingering close);
//   - http/http_response.h: an answer rendered and written with one writev;
//   - http/http_parse.h: parsing the bytes in place.
// Here: accepting, and the limits on what clients may hold together (each breach goes to the
// handler, which answers, logs and counts it; see LimitBreach):
//   - limits.client_timeout and limits.request_timeout are libevent common timeouts of the
//     worker's loop, shared by every connection (http/http_connection.h says what they bound);
//   - limits.max_connections (over all workers) and the open-file limit (client connections
//     use descriptors below the soft RLIMIT_NOFILE minus a reserve of 1/8 of it, 16..256,
//     kept for the admin listener, upstreams, Redis and logs): a connection over either
//     first makes this worker close its slowest connection that has no request being
//     answered (already answered and draining first, then the one waiting longest for a
//     complete request, at least 1 s; it gets a 408) and takes its place; if there is none,
//     the new connection gets 503 at once, before any of its request is read, and is closed;
//   - accept() failing for want of descriptors pauses this listener for 100 ms instead of
//     spinning (http/accept_backoff.h).
//
// Threading: one HttpServer per worker; everything runs on that worker's event loop.
#include <event2/event.h>
#include <event2/listener.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/metrics.h"
#include "http/accept_backoff.h"
#include "http/client_limits.h"
#include "http/http_exchange.h"

namespace ocsp {

class HttpConnection;

struct HttpServerLimits {
  size_t max_header_bytes = 8 * 1024;
  size_t max_headers = 64;
  size_t max_request_bytes = 16 * 1024;
  int64_t client_timeout_ms = 10'000;   // idle keep-alive, a silent client, a stalled write
  int64_t request_timeout_ms = 10'000;  // a whole head; a whole body
  int64_t max_connections = 4096;
  ConnectionGate* gate = nullptr;       // shared over workers; null: no connection limit
  Counter* accept_paused = nullptr;     // accept() pauses (AcceptBackoff); null: not counted
};

class HttpServer {
 public:
  // Accepts on `listen_fd` (a listening, non-blocking socket; owned from here on).
  HttpServer(event_base* base, int listen_fd, const HttpServerLimits& limits,
             HttpHandler& handler);
  // Closes every connection without calling the handler; held bodies are released.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Closes the listening socket: no new connections.
  void stopAccepting();
  // From now on every answer carries Connection: close.
  void startDraining() { draining_ = true; }
  // Requests being answered or whose answers are still being written.
  int busy() const { return busy_; }
  size_t connections() const { return connections_; }

 private:
  friend class HttpConnection;
  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len, void* self);
  // The connection to close for a new one (`except`), or null (see the header comment).
  HttpConnection* slowest(const HttpConnection* except, bool need_slot);

  event_base* base_;
  HttpServerLimits limits_;
  HttpHandler& handler_;
  evconnlistener* listener_ = nullptr;
  std::unique_ptr<AcceptBackoff> backoff_;
  const timeval* client_timeout_ = nullptr;   // a common timeout of base_
  const timeval* request_timeout_ = nullptr;  // a common timeout of base_
  int fd_ceiling_ = 0;  // client connections use descriptors below it
  HttpConnection* first_ = nullptr;          // every open connection, linked
  size_t connections_ = 0;
  int busy_ = 0;
  bool draining_ = false;
};

}  // namespace ocsp
