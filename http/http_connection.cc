#include "http/http_connection.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "core/clock.h"
#include "core/log.h"

namespace ocsp {

namespace {

constexpr size_t kLingerBytes = 64 * 1024;  // unread request bytes drained before a close
constexpr int kLingerMs = 1000;
// A connection may be closed to make room for a new one only after this long without a
// complete request: a client that is just sending its request is left alone.
constexpr int64_t kEvictAfterMs = 1000;

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

HttpConnection::HttpConnection(HttpServer& server, int fd, const sockaddr* addr)
    : server_(server),
      fd_(fd),
      peer_(peerString(addr, &peer_address_)),
      reader_(RequestReaderLimits{server.limits_.max_header_bytes, server.limits_.max_headers,
                                  server.limits_.max_request_bytes}),
      exchange_(this) {
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
  // At a limit, the slowest connection makes room for this one, if there is one that may.
  bool over_fds = fd_ >= server_.fd_ceiling_;
  if (over_connection_limit_ || over_fds) {
    if (HttpConnection* victim = server_.slowest(this, over_connection_limit_)) {
      victim->evict();
      over_connection_limit_ = false;
      // The room is the victim's descriptor: this connection moves down into it. Kept on its
      // own number above the ceiling, it would leave the freed one to the next accept() and
      // each eviction would take one more descriptor out of the reserve (admin, upstreams,
      // Redis) until accept() itself failed.
      if (over_fds) over_fds = !moveBelow(server_.fd_ceiling_);
    }
  }
  read_ev_ = event_new(server_.base_, fd_, EV_READ | EV_PERSIST, &HttpConnection::onReadable, this);
  write_ev_ = event_new(server_.base_, fd_, EV_WRITE, &HttpConnection::onWritable, this);
  deadline_ev_ = evtimer_new(server_.base_, &HttpConnection::onDeadline, this);
  if (read_ev_ == nullptr || write_ev_ == nullptr || deadline_ev_ == nullptr ||
      event_add(read_ev_, server_.client_timeout_) != 0) {
    delete this;
    return;
  }
  if (!over_connection_limit_ && !over_fds) return;
  // Refused now, before any of the request is read: the answer goes out at once.
  close_at_once_ = over_fds;
  dispatch(over_fds ? LimitBreach::OpenFiles : LimitBreach::Connections,
           over_fds ? static_cast<uint64_t>(fd_) : 0);  // may delete this
}

bool HttpConnection::moveBelow(int ceiling) {
  const int lower = fcntl(fd_, F_DUPFD_CLOEXEC, 0);  // the lowest free descriptor
  if (lower < 0) return false;
  if (lower >= ceiling) {
    ::close(lower);
    return false;
  }
  ::close(fd_);
  fd_ = lower;
  return true;
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
  reader_.abandon();
  dispatch(LimitBreach::Evicted, static_cast<uint64_t>(monotonicMs() - since_ms_));
}

void HttpConnection::leaveGate() {
  if (!counted_) return;
  counted_ = false;
  server_.limits_.gate->leave();
}

void HttpConnection::armDeadline() {
  const bool receiving = state_ == State::Body || (state_ == State::Head && reader_.buffered() > 0);
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
  const size_t received = c->reader_.buffered();
  c->reader_.abandon();
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
  if (reader_.full()) {
    // While the exchange holds views into the buffer it may not move: wait.
    const bool may_move = state_ == State::Head || state_ == State::Body;
    if (!may_move) {
      event_del(read_ev_);
      read_paused_ = true;
      return;
    }
    // At its bound only a head over its limit fills the buffer: process() answers it.
    reader_.makeRoom(true);
  }
  const bool full = reader_.full();
  const ssize_t n = reader_.readFrom(fd_);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    close();
    destroyIfDone();
    return;
  }
  if (n == 0 && !full) {
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
  if (state_ == State::Head || state_ == State::Body) process();
}

void HttpConnection::process() {
  in_process_ = true;
  while (!closed_ && (state_ == State::Head || state_ == State::Body)) {
    const HttpRequestReader::Step step = reader_.step();
    if (state_ == State::Head && reader_.inBody()) state_ = State::Body;
    using Kind = HttpRequestReader::Step::Kind;
    if (step.kind == Kind::NeedMore) break;
    if (step.kind == Kind::Continue) {
      static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      if (::send(fd_, kContinue, sizeof kContinue - 1, MSG_NOSIGNAL) !=
          static_cast<ssize_t>(sizeof kContinue - 1)) {
        close();  // deleted below
      }
      break;
    }
    if (step.kind == Kind::ProtocolError) {
      protocolError(step.code, step.reason, step.detail);
    } else {
      dispatch(step.breach, step.amount);  // Request: LimitBreach::None
    }
  }
  if (read_closed_ && !closed_ && (state_ == State::Head || state_ == State::Body)) {
    close();  // half-closed before the rest of this request: it never comes
  }
  if (!closed_) armDeadline();
  in_process_ = false;
  destroyIfDone();
}

void HttpConnection::dispatch(LimitBreach breach, uint64_t amount) {
  disarmDeadline();
  state_ = State::Dispatched;
  setBusy(true);
  exchange_.head_ = &reader_.head();
  exchange_.body_ = breach == LimitBreach::None ? reader_.body() : std::string_view();
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
  reader_.abandon();
  exchange_.addHeader("Content-Type", "text/plain; charset=utf-8");
  std::string text = std::string(detail) + "\n";
  reply(code, reason, text, nullptr);
}

void HttpConnection::reply(int code, std::string_view reason, std::string_view body,
                           std::shared_ptr<const void> keep, std::string_view body_rest) {
  if (state_ != State::Dispatched) return;  // a second reply: ignored
  if (closed_) {
    // The client went away meanwhile: nothing to write.
    state_ = State::Writing;
    setBusy(false);
    destroyIfDone();
    return;
  }
  // After a half-close, the last request buffered gets the last answer.
  const bool last_of_half_closed = read_closed_ && reader_.buffered() <= reader_.consumed();
  close_after_ = exchange_.close_ || server_.draining_ || !exchange_.head_->keep_alive ||
                 exchange_.head_->method.empty() || last_of_half_closed;
  const bool head_only = exchange_.head_->method == "HEAD";
  const bool bodiless = code == 204 || code == 304 || (code >= 100 && code < 200);
  ResponseFraming framing;
  framing.http10 = exchange_.head_->minor == 0 && !exchange_.head_->method.empty();
  framing.content_length = !bodiless;
  framing.send_body = !head_only && !bodiless;
  if (close_after_) {
    framing.connection = ResponseFraming::Connection::Close;
  } else if (exchange_.head_->minor == 0) {
    framing.connection = ResponseFraming::Connection::KeepAlive;
  }
  response_.start(code, reason, framing, exchange_.extra_headers_, body, std::move(keep),
                  body_rest);
  state_ = State::Writing;
  last_write_ms_ = monotonicMs();
  flush();
}

void HttpConnection::flush() {
  const uint64_t written_before = response_.bytesWritten();
  const HttpResponseWriter::Progress progress = response_.writeTo(fd_);
  if (response_.bytesWritten() != written_before) last_write_ms_ = monotonicMs();
  switch (progress) {
    case HttpResponseWriter::Progress::Done: answered(); return;
    case HttpResponseWriter::Progress::Blocked:
      // The timeout ends a stalled write even when reading has stopped (half-close).
      event_add(write_ev_, server_.client_timeout_);
      return;
    case HttpResponseWriter::Progress::Failed:
      close();
      destroyIfDone();
      return;
  }
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
  response_.release();
  setBusy(false);
  if (close_after_) {
    const size_t unread = reader_.unread();
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
    reader_.clear();
    resumeReading();
    linger_ev_ = evtimer_new(server_.base_, &HttpConnection::onLingerEnd, this);
    timeval tv{kLingerMs / 1000, (kLingerMs % 1000) * 1000};
    if (linger_ev_ == nullptr || evtimer_add(linger_ev_, &tv) != 0) {
      close();
      destroyIfDone();
    }
    return;
  }
  reader_.next();
  state_ = State::Head;
  since_ms_ = monotonicMs();
  resumeReading();
  // Pipelined requests already buffered; from reply() inside process() its loop goes on.
  if (!in_process_ && reader_.buffered() > 0) process();
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
  response_.release();
  if (state_ != State::Dispatched) setBusy(false);
}

void HttpConnection::destroyIfDone() {
  if (closed_ && !in_process_ && state_ != State::Dispatched) delete this;
}

}  // namespace ocsp
