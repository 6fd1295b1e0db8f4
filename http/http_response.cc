#include "http/http_response.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <charconv>
#include <ctime>

namespace ocsp {

namespace {

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

}  // namespace

void HttpResponseWriter::start(int code, std::string_view reason, const ResponseFraming& framing,
                               std::string_view extra_headers, std::string_view body,
                               std::shared_ptr<const void> keep, std::string_view body_rest) {
  std::string& h = head_;
  h.clear();
  h.append(framing.http10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  appendNumber(h, static_cast<uint64_t>(code));
  h.push_back(' ');
  h.append(reason);
  h.append("\r\nDate: ");
  h.append(httpDateNow());
  h.append("\r\n");
  if (framing.content_length) {
    h.append("Content-Length: ");
    appendNumber(h, body.size() + body_rest.size());
    h.append("\r\n");
  }
  if (framing.connection == ResponseFraming::Connection::Close) {
    h.append("Connection: close\r\n");
  } else if (framing.connection == ResponseFraming::Connection::KeepAlive) {
    h.append("Connection: keep-alive\r\n");
  }
  h.append(extra_headers);
  h.append("\r\n");
  head_off_ = 0;
  body_off_ = 0;
  body_rest_ = {};
  if (!framing.send_body) {
    body_ = {};
  } else if (keep) {
    body_ = body;
    body_rest_ = body_rest;
    keep_ = std::move(keep);
  } else if (!body.empty() || !body_rest.empty()) {
    body_copy_.assign(body);
    body_copy_.append(body_rest);
    body_ = body_copy_;
  } else {
    body_ = {};
  }
}

HttpResponseWriter::Progress HttpResponseWriter::writeTo(int fd) {
  const size_t body_size = body_.size() + body_rest_.size();
  while (head_off_ < head_.size() || body_off_ < body_size) {
    iovec iov[3];
    int n_iov = 0;
    if (head_off_ < head_.size()) {
      iov[n_iov++] = {head_.data() + head_off_, head_.size() - head_off_};
    }
    // A partial write may have stopped in either part of the body.
    if (body_off_ < body_.size()) {
      iov[n_iov++] = {const_cast<char*>(body_.data()) + body_off_, body_.size() - body_off_};
    }
    if (!body_rest_.empty() && body_off_ < body_size) {
      const size_t in_rest = body_off_ > body_.size() ? body_off_ - body_.size() : 0;
      iov[n_iov++] = {const_cast<char*>(body_rest_.data()) + in_rest,
                      body_rest_.size() - in_rest};
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n_iov);
    ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN ? Progress::Blocked : Progress::Failed;
    }
    const size_t wrote = static_cast<size_t>(n);
    bytes_written_ += wrote;
    const size_t from_head = std::min(wrote, head_.size() - head_off_);
    head_off_ += from_head;
    body_off_ += wrote - from_head;
  }
  return Progress::Done;
}

void HttpResponseWriter::release() {
  keep_.reset();
  body_ = {};
  body_rest_ = {};
}

}  // namespace ocsp
