#pragma once
// The OCSP listener's HTTP/1.1 connection layer (docs/ARCHITECTURE.md §11). It replaces
// libevent's evhttp on the hot path: evhttp allocates and printf-formats every header of
// every answer, copies bodies, and turns reads on and off around each request. Here:
//   - one input buffer per connection, reused: a request's head and body are parsed in place
//     (http/http_parse.h) and handed to the handler as views;
//   - an answer is one status-and-header block rendered into a reused string plus a body that
//     is either copied (small, generated) or referenced (cached DER, CRLs: the holder is kept
//     until the bytes are written), sent with one writev, straight from reply() when the
//     socket takes it (the common case: no poll round trip, no write event);
//   - the read event stays registered for the connection's life (until the client half-closes),
//     with the client timeout as a libevent common timeout, so a keep-alive request costs no
//     epoll_ctl and no timer-heap work; the request deadline is another common timeout, armed
//     only for a request that does not arrive whole in one read.
// Limits on what a client may hold (each breach goes to the handler, which answers, logs and
// counts it; see LimitBreach):
//   - limits.client_timeout: idle time, between requests or between bytes of one; also a
//     write that makes no progress;
//   - limits.request_timeout: a deadline for the whole head, from its first byte, and another
//     for the whole body, from the end of the head, however steadily the bytes trickle in
//     (a client sending a byte a second is not idle): 408 and closed;
//   - limits.max_connections (over all workers) and the open-file limit (client connections
//     use descriptors below the soft RLIMIT_NOFILE minus a reserve of 1/8 of it, 16..256,
//     kept for the admin listener, upstreams, Redis and logs): a connection over either
//     first makes this worker close its slowest connection that has no request being
//     answered (already answered and draining first, then the one waiting longest for a
//     complete request, at least 1 s; it gets a 408) and takes its place; if there is none,
//     the new connection gets 503 at once, before any of its request is read, and is closed;
//   - accept() failing for want of descriptors pauses this listener for 100 ms instead of
//     spinning (http/accept_backoff.h).
// Framing: keep-alive (HTTP/1.1 default, HTTP/1.0 with Connection: keep-alive, and
// Proxy-Connection for forward-proxy clients), pipelining (answers in order, one request
// handled at a time), Content-Length and chunked bodies, Expect: 100-continue, HEAD.
// Protocol errors get 400/417/501/505 from here and close the connection; limit breaches are
// handed to the handler (HttpExchange::breach) so that the front answers, logs and counts
// them; the connection closes after such an answer. A client that goes away while its request
// is being answered leaves the exchange valid until the handler replies (the answer is then
// dropped). A client that half-closes (shutdown of its sending side, RFC 9112 §9.6) after a
// request gets the answers to the complete requests it sent, then the connection closes. After an answer with "Connection: close" the socket is shut for writing and unread
// bytes are drained for up to a second, so the client reads the answer instead of a reset.
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
#include "http/http_parse.h"

namespace ocsp {

class HttpConnection;

// A limit found while reading the request; the handler answers it (HttpFront::admit).
enum class LimitBreach {
  None,
  Connections,  // this connection is over limits.max_connections (found on accept)
  Headers,      // more header fields than max_headers (amount: the count)
  HeaderBytes,  // a head over max_header_bytes (amount: bytes received, at least)
  Body,         // a body over max_request_bytes (amount: its Content-Length or bytes so far)
  // Chunked trailer fields count against the head's limits (RFC 9112 §7.1.2); amount: head
  // and trailers together, fields or bytes (at least).
  TrailerFields,
  TrailerBytes,
  RequestTimeout,  // head or body not complete within request_timeout (amount: bytes received)
  // Closed to make room for a new connection at max_connections or the open-file ceiling
  // (amount: ms it waited for a complete request).
  Evicted,
  OpenFiles,  // a new connection over the open-file ceiling (amount: its descriptor)
};

// One request and its answer. Valid from HttpHandler::onRequest until reply().
class HttpExchange {
 public:
  std::string_view method() const { return head_->method; }
  std::string_view target() const { return head_->target; }
  // The target up to '?' or '#' (for an origin-form request, its path).
  std::string_view path() const;
  const RequestHead& head() const { return *head_; }
  const HttpHeader* header(std::string_view name) const { return head_->find(name); }
  std::string_view body() const { return body_; }
  std::string_view peer() const;         // "address:port"
  std::string_view peerAddress() const;  // "address"
  LimitBreach breach() const { return breach_; }
  uint64_t breachAmount() const { return breach_amount_; }

  // The answer: header fields first, then reply() once. Content-Length, Date and Connection
  // are added by reply(). The answer carries Connection: close (and the connection closes)
  // when the client asked for it, after a limit breach, while draining, or after
  // closeAfterReply().
  void addHeader(std::string_view name, std::string_view value);
  void closeAfterReply() { close_ = true; }
  // `body` is copied, unless `keep` is given: then `body` must point into memory that `keep`
  // keeps alive; it is held until the bytes are written. HEAD, 204 and 304 send no body.
  void reply(int code, std::string_view reason, std::string_view body = {},
             std::shared_ptr<const void> keep = nullptr);

  // What the handler keeps with this request while its answer is pending (a decoded query,
  // when it began), so that its callback captures only the exchange: that fits
  // std::function's inline storage, and an answer costs no heap block for its callback.
  // takeHeld() hands it back (the callback keeps it alive while it answers).
  void hold(std::shared_ptr<const void> state, int64_t since_ms) {
    held_ = std::move(state);
    held_since_ms_ = since_ms;
  }
  std::shared_ptr<const void> takeHeld() { return std::move(held_); }
  int64_t heldSinceMs() const { return held_since_ms_; }

 private:
  friend class HttpConnection;
  explicit HttpExchange(HttpConnection* conn) : conn_(conn) {}
  HttpConnection* conn_;
  const RequestHead* head_ = nullptr;
  std::string_view body_;
  LimitBreach breach_ = LimitBreach::None;
  uint64_t breach_amount_ = 0;
  bool close_ = false;
  std::string extra_headers_;  // "name: value\r\n"..., reused
  std::shared_ptr<const void> held_;
  int64_t held_since_ms_ = 0;
};

class HttpHandler {
 public:
  // The handler replies now or later (from the same loop); exactly once.
  virtual void onRequest(HttpExchange& exchange) = 0;

 protected:
  ~HttpHandler() = default;
};

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
