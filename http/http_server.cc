#include "http/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "core/clock.h"
#include "core/log.h"

namespace ocsp {

namespace {

constexpr size_t kInitialBuffer = 4096;
constexpr size_t kLingerBytes = 64 * 1024;  // unread request bytes drained before a close
constexpr int kLingerMs = 1000;
// A connection may be closed to make room for a new one only after this long without a
// complete request: a client that is just sending its request is left alone.
constexpr int64_t kEvictAfterMs = 1000;

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

// The Date field value for now, rendered at most once a second per thread.
std::string_view httpDateNow() {
  thread_local time_t rendered = -1;
  thread_local char buf[40];
  thread_local size_t len = 0;
  time_t now = std::time(nullptr);
  if (now != rendered) {
    tm t{};
    gmtime_r(&now, &t);
    len = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &t);
    rendered = now;
  }
  return std::string_view(buf, len);
}

void appendNumber(std::string& out, uint64_t n) {
  char digits[24];
  auto res = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, static_cast<size_t>(res.ptr - digits));
}

std::string peerString(const sockaddr* addr, std::string* address_only) {
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (addr->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
  } else if (addr->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
  }
  *address_only = host;
  return *address_only + ":" + std::to_string(port);
}

}  // namespace

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
  void reply(int code, std::string_view reason, std::string_view body,
             std::shared_ptr<const void> keep);
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
  // Parses and dispatches what is buffered, as long as nothing is being answered.
  void process();
  void processOne();
  void dispatch(LimitBreach breach, uint64_t amount);
  // Writes what is pending; on completion moves to the next request or closes.
  void flush();
  void answered();
  // Reading was paused while a full buffer held the exchange's views: take it up again.
  void resumeReading();
  // Answers a protocol error from here and closes after it.
  void protocolError(int code, const char* reason, const char* detail);
  // Room for `bytes` from start_ on; moves or grows the buffer (re-parsing a head it held).
  // False if that is over the connection's bound.
  bool reserve(size_t bytes);
  void reparseHead();
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
  bool continue_sent_ = false;
  size_t linger_left_ = 0;
  // Input: bytes [start_, end_) of in_ are received and not yet consumed.
  std::string in_;
  size_t start_ = 0;
  size_t end_ = 0;
  size_t scanned_ = 0;   // of the head being looked for, from start_
  RequestHead head_;
  ChunkedDecoder chunks_;
  size_t chunk_pos_ = 0; // chunked body: raw bytes from start_ + this are not yet decoded
  std::string chunked_body_;
  size_t consumed_ = 0;  // bytes of in_ from start_ that the exchange's request occupies
  HttpExchange exchange_;
  // Output: the rendered head, then the body (copied into body_copy_ or held by keep_).
  std::string out_head_;
  size_t out_head_off_ = 0;
  std::string body_copy_;
  std::string_view out_body_;
  size_t out_body_off_ = 0;
  std::shared_ptr<const void> keep_;
  bool close_after_ = false;
  int64_t last_write_ms_ = 0;
};

// ---- HttpExchange ----

std::string_view HttpExchange::path() const {
  std::string_view t = head_->target;
  return t.substr(0, t.find_first_of("?#"));
}

std::string_view HttpExchange::peer() const { return conn_->peer_; }
std::string_view HttpExchange::peerAddress() const { return conn_->peer_address_; }

void HttpExchange::addHeader(std::string_view name, std::string_view value) {
  extra_headers_.append(name);
  extra_headers_.append(": ");
  extra_headers_.append(value);
  extra_headers_.append("\r\n");
}

void HttpExchange::reply(int code, std::string_view reason, std::string_view body,
                         std::shared_ptr<const void> keep) {
  conn_->reply(code, reason, body, std::move(keep));
}

// ---- HttpServer ----

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

// ---- HttpConnection ----

HttpConnection::HttpConnection(HttpServer& server, int fd, const sockaddr* addr)
    : server_(server), fd_(fd), peer_(peerString(addr, &peer_address_)), exchange_(this) {
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  next_ = server_.first_;
  if (next_ != nullptr) next_->prev_ = this;
  server_.first_ = this;
  ++server_.connections_;
  since_ms_ = monotonicMs();
  const HttpServerLimits& lim = server_.limits_;
  if (lim.gate != nullptr) {
    counted_ = true;  // enter() counts it either way
    over_connection_limit_ = !lim.gate->enter(lim.max_connections);
  }
}

HttpConnection::~HttpConnection() {
  if (read_ev_ != nullptr) event_free(read_ev_);
  if (write_ev_ != nullptr) event_free(write_ev_);
  if (linger_ev_ != nullptr) event_free(linger_ev_);
  if (deadline_ev_ != nullptr) event_free(deadline_ev_);
  if (fd_ >= 0) ::close(fd_);
  leaveGate();
  if (busy_) --server_.busy_;
  if (prev_ != nullptr) prev_->next_ = next_;
  else server_.first_ = next_;
  if (next_ != nullptr) next_->prev_ = prev_;
  --server_.connections_;
}

void HttpConnection::start() {
  in_.resize(kInitialBuffer);
  read_ev_ = event_new(server_.base_, fd_, EV_READ | EV_PERSIST, &HttpConnection::onReadable, this);
  write_ev_ = event_new(server_.base_, fd_, EV_WRITE, &HttpConnection::onWritable, this);
  deadline_ev_ = evtimer_new(server_.base_, &HttpConnection::onDeadline, this);
  if (read_ev_ == nullptr || write_ev_ == nullptr || deadline_ev_ == nullptr ||
      event_add(read_ev_, server_.client_timeout_) != 0) {
    delete this;
    return;
  }
  const bool over_fds = fd_ >= server_.fd_ceiling_;
  if (!over_connection_limit_ && !over_fds) return;
  // At a limit: the slowest connection makes room for this one, if there is one that may.
  if (HttpConnection* victim = server_.slowest(this, over_connection_limit_)) {
    victim->evict();
    over_connection_limit_ = false;
    return;
  }
  // Refused now, before any of the request is read: the answer goes out at once.
  close_at_once_ = over_fds;
  dispatch(over_fds ? LimitBreach::OpenFiles : LimitBreach::Connections,
           over_fds ? static_cast<uint64_t>(fd_) : 0);  // may delete this
}

bool HttpConnection::evictable(int64_t now_ms, bool need_slot) const {
  if (closed_ || (need_slot && !counted_)) return false;
  if (state_ == State::Lingering) return true;
  return (state_ == State::Head || state_ == State::Body) && now_ms - since_ms_ >= kEvictAfterMs;
}

void HttpConnection::evict() {
  leaveGate();
  close_at_once_ = true;
  if (state_ == State::Lingering) {
    close();
    destroyIfDone();
    return;
  }
  if (state_ == State::Head) {
    head_.method = head_.target = {};
    head_.headers.clear();
  }
  consumed_ = end_ - start_;
  dispatch(LimitBreach::Evicted, static_cast<uint64_t>(monotonicMs() - since_ms_));
}

void HttpConnection::leaveGate() {
  if (!counted_) return;
  counted_ = false;
  server_.limits_.gate->leave();
}

void HttpConnection::armDeadline() {
  const bool receiving = state_ == State::Body || (state_ == State::Head && end_ > start_);
  if (!receiving) {
    disarmDeadline();
    return;
  }
  if (deadline_armed_ && deadline_state_ == state_) return;
  deadline_armed_ = true;
  deadline_state_ = state_;
  event_add(deadline_ev_, server_.request_timeout_);
}

void HttpConnection::disarmDeadline() {
  if (!deadline_armed_) return;
  deadline_armed_ = false;
  event_del(deadline_ev_);
}

void HttpConnection::onDeadline(evutil_socket_t, short, void* self) {
  auto* c = static_cast<HttpConnection*>(self);
  c->deadline_armed_ = false;
  if (c->closed_ || (c->state_ != State::Head && c->state_ != State::Body)) return;
  if (c->state_ == State::Head) {
    c->head_.method = c->head_.target = {};
    c->head_.headers.clear();
  }
  const size_t received = c->end_ - c->start_;
  c->consumed_ = received;
  c->dispatch(LimitBreach::RequestTimeout, received);  // may delete c
}

void HttpConnection::setBusy(bool busy) {
  if (busy == busy_) return;
  busy_ = busy;
  server_.busy_ += busy ? 1 : -1;
}

void HttpConnection::onReadable(evutil_socket_t, short what, void* self) {
  auto* c = static_cast<HttpConnection*>(self);
  if ((what & EV_TIMEOUT) != 0) {
    switch (c->state_) {
      case State::Dispatched: return;  // the upstream timeout bounds it
      case State::Writing:
        if (monotonicMs() - c->last_write_ms_ < c->server_.limits_.client_timeout_ms) return;
        break;
      default: break;
    }
    c->close();  // idle keep-alive, a request too slow, or a client that stopped reading
    c->destroyIfDone();
    return;
  }
  c->readSome();
}

void HttpConnection::readSome() {
  if (state_ == State::Lingering) {
    char sink[4096];
    ssize_t n = ::read(fd_, sink, sizeof sink);
    if (n > 0 && static_cast<size_t>(n) < linger_left_) {
      linger_left_ -= static_cast<size_t>(n);
      return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    close();
    destroyIfDone();
    return;
  }
  if (end_ == in_.size()) {
    // Full. While the exchange holds views into the buffer it may not move: wait.
    const bool may_move = state_ == State::Head || state_ == State::Body;
    if (!may_move || !reserve(end_ - start_ + kInitialBuffer)) {
      if (!may_move) {
        event_del(read_ev_);
        read_paused_ = true;
        return;
      }
      // Only a head over its limit fills the largest buffer: processOne() answers it.
    }
  }
  ssize_t n = end_ < in_.size() ? ::read(fd_, in_.data() + end_, in_.size() - end_) : 0;
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    close();
    destroyIfDone();
    return;
  }
  if (n == 0 && end_ < in_.size()) {
    // RFC 9112 §9.6: a client may half-close once its request is sent. A request being
    // answered is answered (and any complete one behind it), then the connection closes;
    // anything less than a whole request can no longer be completed.
    if (state_ == State::Dispatched || state_ == State::Writing) {
      read_closed_ = true;
      event_del(read_ev_);
      return;
    }
    close();
    destroyIfDone();
    return;
  }
  end_ += static_cast<size_t>(n);
  if (state_ == State::Head || state_ == State::Body) process();
}

bool HttpConnection::reserve(size_t bytes) {
  const HttpServerLimits& lim = server_.limits_;
  const size_t bound = lim.max_header_bytes + lim.max_request_bytes + 16 * 1024;
  if (start_ + bytes <= in_.size()) return true;
  if (bytes > bound) return false;
  if (bytes > in_.size()) {
    std::string bigger;
    bigger.resize(std::min(bound, std::max(bytes, 2 * in_.size())));
    std::memcpy(bigger.data(), in_.data() + start_, end_ - start_);
    in_.swap(bigger);
  } else {
    std::memmove(in_.data(), in_.data() + start_, end_ - start_);
  }
  end_ -= start_;
  start_ = 0;
  if (state_ == State::Body) reparseHead();
  return true;
}

void HttpConnection::reparseHead() {
  // Same bytes, new place: the views must follow.
  parseRequestHead(std::string_view(in_.data() + start_, end_ - start_), &head_);
}

void HttpConnection::process() {
  in_process_ = true;
  while (!closed_ && (state_ == State::Head || state_ == State::Body)) {
    const State state_before = state_;
    const size_t start_before = start_;
    const size_t end_before = end_;
    processOne();
    // Nothing moved: it needs more bytes.
    if (state_ == state_before && start_ == start_before && end_ == end_before) break;
  }
  if (read_closed_ && !closed_ && (state_ == State::Head || state_ == State::Body)) {
    close();  // half-closed before the rest of this request: it never comes
  }
  if (!closed_) armDeadline();
  in_process_ = false;
  destroyIfDone();
}

void HttpConnection::processOne() {
  const HttpServerLimits& lim = server_.limits_;
  std::string_view buffered(in_.data() + start_, end_ - start_);
  if (state_ == State::Head) {
    if (buffered.empty()) {
      if (start_ != 0) start_ = end_ = 0;  // idle: next request at the buffer's start
      return;
    }
    HeadResult r = parseRequestHead(buffered, &head_, scanned_);
    switch (r.status) {
      case HeadStatus::Incomplete:
        scanned_ = buffered.size();
        if (buffered.size() > lim.max_header_bytes) {
          head_.method = head_.target = {};
          head_.headers.clear();
          consumed_ = buffered.size();
          dispatch(LimitBreach::HeaderBytes, buffered.size());
        }
        return;  // readSome() makes room when the buffer is full
      case HeadStatus::BadRequest: protocolError(400, "Bad Request", r.detail); return;
      case HeadStatus::NotImplemented: protocolError(501, "Not Implemented", r.detail); return;
      case HeadStatus::BadVersion:
        protocolError(505, "HTTP Version Not Supported", r.detail);
        return;
      case HeadStatus::ExpectationFailed:
        protocolError(417, "Expectation Failed", r.detail);
        return;
      case HeadStatus::Complete: break;
    }
    scanned_ = 0;
    continue_sent_ = false;
    consumed_ = head_.head_bytes;
    if (head_.headers.size() > lim.max_headers) {
      dispatch(LimitBreach::Headers, head_.headers.size());
      return;
    }
    if (head_.head_bytes > lim.max_header_bytes) {
      dispatch(LimitBreach::HeaderBytes, head_.head_bytes);
      return;
    }
    if (head_.content_length > 0 &&
        static_cast<uint64_t>(head_.content_length) > lim.max_request_bytes) {
      dispatch(LimitBreach::Body, static_cast<uint64_t>(head_.content_length));
      return;
    }
    if (!head_.chunked && head_.content_length <= 0) {
      exchange_.body_ = {};
      dispatch(LimitBreach::None, 0);
      return;
    }
    state_ = State::Body;
    chunks_.reset();
    chunked_body_.clear();
    chunk_pos_ = head_.head_bytes;
    buffered = std::string_view(in_.data() + start_, end_ - start_);
  }
  // Body.
  bool complete = false;
  if (head_.chunked) {
    std::string_view raw = buffered.substr(chunk_pos_);
    const size_t before = raw.size();
    // Trailer fields share the head's limits (RFC 9112 §7.1.2: they are header fields).
    TrailerLimits trailer;
    trailer.max_bytes = lim.max_header_bytes - std::min(lim.max_header_bytes, head_.head_bytes);
    trailer.max_fields = lim.max_headers - std::min(lim.max_headers, head_.headers.size());
    auto status = chunks_.feed(&raw, &chunked_body_, lim.max_request_bytes, trailer);
    chunk_pos_ += before - raw.size();
    if (status == ChunkedDecoder::Status::Bad) {
      protocolError(400, "Bad Request", "malformed chunked body");
      return;
    }
    if (status == ChunkedDecoder::Status::TrailerTooLarge) {
      consumed_ = chunk_pos_;
      if (chunks_.trailerFields() > trailer.max_fields) {
        dispatch(LimitBreach::TrailerFields, head_.headers.size() + chunks_.trailerFields());
      } else {
        dispatch(LimitBreach::TrailerBytes, head_.head_bytes + chunks_.trailerBytes());
      }
      return;
    }
    if (status == ChunkedDecoder::Status::TooLarge) {
      consumed_ = chunk_pos_;
      dispatch(LimitBreach::Body, chunked_body_.size());
      return;
    }
    complete = status == ChunkedDecoder::Status::Done;
    if (complete) {
      consumed_ = chunk_pos_;
      exchange_.body_ = chunked_body_;
    } else if (end_ == in_.size()) {
      // Decoded bytes are kept in chunked_body_: drop their raw form behind the head.
      const size_t keep_from = start_ + head_.head_bytes;
      const size_t raw_from = start_ + chunk_pos_;
      std::memmove(in_.data() + keep_from, in_.data() + raw_from, end_ - raw_from);
      end_ -= raw_from - keep_from;
      chunk_pos_ = head_.head_bytes;
      if (end_ == in_.size() && !reserve(end_ - start_ + kInitialBuffer)) {
        protocolError(400, "Bad Request", "chunked body framing too long");
        return;
      }
    }
  } else {
    const size_t need = head_.head_bytes + static_cast<size_t>(head_.content_length);
    if (buffered.size() >= need) {
      complete = true;
      consumed_ = need;
      exchange_.body_ = buffered.substr(head_.head_bytes, static_cast<size_t>(head_.content_length));
    } else if (!reserve(need)) {
      protocolError(400, "Bad Request", "request too large");
      return;
    }
  }
  if (complete) {
    dispatch(LimitBreach::None, 0);
    return;
  }
  if (head_.expect_continue && !continue_sent_) {
    continue_sent_ = true;
    static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (::send(fd_, kContinue, sizeof kContinue - 1, MSG_NOSIGNAL) !=
        static_cast<ssize_t>(sizeof kContinue - 1)) {
      close();  // process() deletes it
    }
  }
}

void HttpConnection::dispatch(LimitBreach breach, uint64_t amount) {
  disarmDeadline();
  state_ = State::Dispatched;
  setBusy(true);
  exchange_.head_ = &head_;
  if (breach != LimitBreach::None) exchange_.body_ = {};
  exchange_.breach_ = breach;
  exchange_.breach_amount_ = amount;
  exchange_.close_ = breach != LimitBreach::None;  // the rest of the request is not read
  exchange_.extra_headers_.clear();
  server_.handler_.onRequest(exchange_);
}

void HttpConnection::protocolError(int code, const char* reason, const char* detail) {
  logEvent(LogLevel::Info, "bad_http_request",
           {{"client", peer_}, {"status", std::to_string(code)}, {"detail", detail}});
  static const RequestHead kNoHead;
  state_ = State::Dispatched;
  setBusy(true);
  exchange_.head_ = &kNoHead;
  exchange_.extra_headers_.clear();
  exchange_.close_ = true;
  consumed_ = end_ - start_;
  exchange_.addHeader("Content-Type", "text/plain; charset=utf-8");
  std::string text = std::string(detail) + "\n";
  reply(code, reason, text, nullptr);
}

void HttpConnection::reply(int code, std::string_view reason, std::string_view body,
                           std::shared_ptr<const void> keep) {
  if (state_ != State::Dispatched) return;  // a second reply: ignored
  if (closed_) {
    // The client went away meanwhile: nothing to write.
    state_ = State::Writing;
    setBusy(false);
    destroyIfDone();
    return;
  }
  // After a half-close, the last request buffered gets the last answer.
  const bool last_of_half_closed = read_closed_ && end_ - start_ <= consumed_;
  close_after_ = exchange_.close_ || server_.draining_ || !exchange_.head_->keep_alive ||
                 exchange_.head_->method.empty() || last_of_half_closed;
  const bool head_only = exchange_.head_->method == "HEAD";
  const bool bodiless = code == 204 || code == 304 || (code >= 100 && code < 200);
  std::string& h = out_head_;
  h.clear();
  h.append(exchange_.head_->minor == 0 && !exchange_.head_->method.empty() ? "HTTP/1.0 "
                                                                            : "HTTP/1.1 ");
  appendNumber(h, static_cast<uint64_t>(code));
  h.push_back(' ');
  h.append(reason);
  h.append("\r\nDate: ");
  h.append(httpDateNow());
  h.append("\r\n");
  if (!bodiless) {
    h.append("Content-Length: ");
    appendNumber(h, body.size());
    h.append("\r\n");
  }
  if (close_after_) {
    h.append("Connection: close\r\n");
  } else if (exchange_.head_->minor == 0) {
    h.append("Connection: keep-alive\r\n");
  }
  h.append(exchange_.extra_headers_);
  h.append("\r\n");
  out_head_off_ = 0;
  out_body_off_ = 0;
  if (head_only || bodiless) {
    out_body_ = {};
  } else if (keep) {
    out_body_ = body;
    keep_ = std::move(keep);
  } else if (!body.empty()) {
    body_copy_.assign(body);
    out_body_ = body_copy_;
  } else {
    out_body_ = {};
  }
  state_ = State::Writing;
  last_write_ms_ = monotonicMs();
  flush();
}

void HttpConnection::flush() {
  while (out_head_off_ < out_head_.size() || out_body_off_ < out_body_.size()) {
    iovec iov[2];
    int n_iov = 0;
    if (out_head_off_ < out_head_.size()) {
      iov[n_iov++] = {out_head_.data() + out_head_off_, out_head_.size() - out_head_off_};
    }
    if (out_body_off_ < out_body_.size()) {
      iov[n_iov++] = {const_cast<char*>(out_body_.data()) + out_body_off_,
                      out_body_.size() - out_body_off_};
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n_iov);
    ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        // The timeout ends a stalled write even when reading has stopped (half-close).
        event_add(write_ev_, server_.client_timeout_);
        return;
      }
      close();
      destroyIfDone();
      return;
    }
    last_write_ms_ = monotonicMs();
    size_t wrote = static_cast<size_t>(n);
    const size_t from_head = std::min(wrote, out_head_.size() - out_head_off_);
    out_head_off_ += from_head;
    out_body_off_ += wrote - from_head;
  }
  answered();
}

void HttpConnection::onWritable(evutil_socket_t, short what, void* self) {
  auto* c = static_cast<HttpConnection*>(self);
  if ((what & EV_TIMEOUT) != 0) {
    c->close();  // the client stopped reading for limits.client_timeout
    c->destroyIfDone();
    return;
  }
  c->flush();
}

void HttpConnection::answered() {
  keep_.reset();
  out_body_ = {};
  setBusy(false);
  if (close_after_) {
    const size_t unread = end_ - start_ - std::min(consumed_, end_ - start_);
    // Nothing more can come from a half-closed client: no drain either.
    if (read_closed_ || close_at_once_ ||
        (unread == 0 && exchange_.breach_ == LimitBreach::None && exchange_.head_->method.size())) {
      close();
      destroyIfDone();
      return;
    }
    // Unread request bytes: a close now could reset the connection before the client has
    // read the answer. Shut the write side and drain for a while first.
    state_ = State::Lingering;
    leaveGate();  // answered: its slot is free for another client while it drains
    ::shutdown(fd_, SHUT_WR);
    linger_left_ = kLingerBytes;
    start_ = end_ = 0;
    resumeReading();
    linger_ev_ = evtimer_new(server_.base_, &HttpConnection::onLingerEnd, this);
    timeval tv{kLingerMs / 1000, (kLingerMs % 1000) * 1000};
    if (linger_ev_ == nullptr || evtimer_add(linger_ev_, &tv) != 0) {
      close();
      destroyIfDone();
    }
    return;
  }
  start_ += consumed_;
  consumed_ = 0;
  state_ = State::Head;
  since_ms_ = monotonicMs();
  resumeReading();
  // Pipelined requests already buffered; from reply() inside process() its loop goes on.
  if (!in_process_ && end_ > start_) process();
}

void HttpConnection::resumeReading() {
  if (!read_paused_) return;
  read_paused_ = false;
  if (read_closed_) return;
  event_add(read_ev_, server_.client_timeout_);
}

void HttpConnection::onLingerEnd(evutil_socket_t, short, void* self) {
  auto* c = static_cast<HttpConnection*>(self);
  c->close();
  c->destroyIfDone();
}

void HttpConnection::close() {
  if (closed_) return;
  closed_ = true;
  if (read_ev_ != nullptr) event_del(read_ev_);
  if (write_ev_ != nullptr) event_del(write_ev_);
  if (linger_ev_ != nullptr) event_del(linger_ev_);
  disarmDeadline();
  ::close(fd_);
  fd_ = -1;
  keep_.reset();
  if (state_ != State::Dispatched) setBusy(false);
}

void HttpConnection::destroyIfDone() {
  if (closed_ && !in_process_ && state_ != State::Dispatched) delete this;
}

}  // namespace ocsp
