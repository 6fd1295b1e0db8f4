#pragma once
// One client connection of the OCSP listener (docs/ARCHITECTURE.md §11): the state machine
// from bytes to framed requests and back to answers. Internal to http/: HttpServer creates
// and owns them, handlers see only the HttpExchange.
//   - Input (http/http_request_reader.h): one buffer per connection, reused; a request is
//     framed in place and handed to the handler as views; while the handler holds them the
//     buffer does not move (reading pauses when it is full).
//   - The read event stays registered for the connection's life (until the client
//     half-closes), with limits.client_timeout as a libevent common timeout, so a keep-alive
//     request costs no epoll_ctl and no timer-heap work. The same timeout ends a write that
//     makes no progress.
//   - limits.request_timeout: a deadline for the whole head, from its first byte, and another
//     for the whole body, from the end of the head, however steadily the bytes trickle in (a
//     client sending a byte a second is not idle): handed to the handler (408) and closed.
//     Another common timeout, armed only for a request that does not arrive whole in one read.
//   - Framing: keep-alive (HTTP/1.1 default, HTTP/1.0 with Connection: keep-alive, and
//     Proxy-Connection for forward-proxy clients), pipelining (answers in order, one request
//     handled at a time), Content-Length and chunked bodies, Expect: 100-continue, HEAD.
//   - Protocol errors get 400/417/501/505 from here and close the connection; limit breaches
//     (header count and bytes, body, trailers, deadlines, eviction, refusal) go to the
//     handler, and the connection closes after its answer.
//   - A client that half-closes (shutdown of its sending side, RFC 9112 §9.6) after a request
//     gets the answers to the complete requests it sent, then the connection closes.
//   - After an answer with "Connection: close" the socket is shut for writing and unread
//     bytes are drained for up to a second, so the client reads the answer instead of a reset.
//   - Eviction (chosen by HttpServer): only a connection with no request being answered and
//     none complete for 1 s, or one already answered and draining; it gets a 408.
// Lifetime: a connection deletes itself once closed, unless the handler holds its exchange
// (then the handler's reply does) or it is inside process() (then at its end).
#include <event2/event.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "http/http_exchange.h"
#include "http/http_request_reader.h"
#include "http/http_response.h"
#include "http/http_server.h"

namespace ocsp {

// One client connection. States:
//   Head        reading a request head (idle keep-alive included)
//   Body        head parsed, reading its body
//   Dispatched  the handler has the exchange
//   Writing     the answer is being written
//   Lingering   answered with close: write side shut, unread bytes drained
class HttpConnection {
 public:
  HttpConnection(HttpServer& server, int fd, const sockaddr* addr);
  ~HttpConnection();

  enum class State { Head, Body, Dispatched, Writing, Lingering };

  void start();
  // Moves the socket to the lowest free descriptor if that is below `ceiling`: true if it did.
  bool moveBelow(int ceiling);
  void reply(int code, std::string_view reason, std::string_view body,
             std::shared_ptr<const void> keep, std::string_view body_rest = {});
  // Whether it may be closed to make room for a new connection at `now_ms`: no request is
  // being answered and none has come complete for kEvictAfterMs. `need_slot`: it must hold
  // a slot of limits.max_connections (a lingering one no longer does).
  bool evictable(int64_t now_ms, bool need_slot) const;
  // Closes it for a new connection: 408 if anything can be written, then closed at once.
  void evict();
  bool lingering() const { return state_ == State::Lingering; }
  int64_t waitingSinceMs() const { return since_ms_; }

  HttpServer& server_;
  int fd_;
  std::string peer_address_;  // before peer_: the constructor fills it while making peer_
  std::string peer_;
  HttpConnection* prev_ = nullptr;
  HttpConnection* next_ = nullptr;

 private:
  static void onReadable(evutil_socket_t, short what, void* self);
  static void onWritable(evutil_socket_t, short what, void* self);
  static void onLingerEnd(evutil_socket_t, short, void* self);
  static void onDeadline(evutil_socket_t, short, void* self);

  void readSome();
  // Frames and dispatches what is buffered, as long as nothing is being answered.
  void process();
  void dispatch(LimitBreach breach, uint64_t amount);
  // Writes what is pending; on completion moves to the next request or closes.
  void flush();
  void answered();
  // Reading was paused while a full buffer held the exchange's views: take it up again.
  void resumeReading();
  // Answers a protocol error from here and closes after it.
  void protocolError(int code, const char* reason, const char* detail);
  void setBusy(bool busy);
  // limits.request_timeout: armed while a head is partly received (from its first byte) and
  // again while a body is (from the end of the head); off otherwise.
  void armDeadline();
  void disarmDeadline();
  // Gives back its slot of limits.max_connections (once).
  void leaveGate();
  // Closes the socket. The object stays until destroyIfDone(): that deletes it unless the
  // handler holds the exchange (then its reply does) or process() is running (then its end).
  void close();
  void destroyIfDone();

  State state_ = State::Head;
  event* read_ev_ = nullptr;
  event* write_ev_ = nullptr;
  event* linger_ev_ = nullptr;
  event* deadline_ev_ = nullptr;
  bool deadline_armed_ = false;
  State deadline_state_ = State::Head;  // the part the armed deadline is for
  bool closed_ = false;
  bool busy_ = false;
  bool in_process_ = false;
  bool read_paused_ = false;
  bool read_closed_ = false;  // the client half-closed: nothing more to read
  bool over_connection_limit_ = false;
  bool counted_ = false;        // holds a slot of the connection gate
  bool close_at_once_ = false;  // after its answer: no drain (its descriptor is wanted)
  int64_t since_ms_ = 0;        // accepted, or last answer written: waiting since then
  size_t linger_left_ = 0;
  HttpRequestReader reader_;  // input: the bytes received and the request framed from them
  HttpExchange exchange_;
  // Output: the answer being written.
  HttpResponseWriter response_;
  bool close_after_ = false;
  int64_t last_write_ms_ = 0;
};

}  // namespace ocsp
