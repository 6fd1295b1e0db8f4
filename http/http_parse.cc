#include "http/http_parse.h"

#include <algorithm>
#include <cstring>

namespace ocsp {

namespace {

bool isTokenChar(unsigned char c) {
  // RFC 9110 §5.6.2 tchar
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }


std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The next line of `rest` without its CRLF or LF; `rest` moves past it. False if no line end.
bool nextLine(std::string_view* rest, std::string_view* line) {
  size_t lf = rest->find('\n');
  if (lf == std::string_view::npos) return false;
  size_t end = lf > 0 && (*rest)[lf - 1] == '\r' ? lf - 1 : lf;
  *line = rest->substr(0, end);
  rest->remove_prefix(lf + 1);
  return true;
}

// Calls `fn` for each comma-separated, trimmed element of a list-valued field.
template <class Fn>
void forEachListElement(std::string_view value, Fn fn) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = trimOws(value.substr(0, comma));
    if (!item.empty()) fn(item);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

bool parseDecimal(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 18) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

HeadResult refuse(HeadStatus status, const char* detail) { return HeadResult{status, detail}; }

// Where the head ends (just past the empty line) or npos. Accepts CRLF and bare LF endings.
size_t headEnd(std::string_view buf, size_t scan_from) {
  size_t i = scan_from >= 3 ? scan_from - 3 : 0;
  for (;;) {
    size_t lf = buf.find('\n', i);
    if (lf == std::string_view::npos) return std::string_view::npos;
    // The head ends with the first empty line: an LF or CRLF right after a line's LF.
    size_t next = lf + 1;
    if (next < buf.size() && buf[next] == '\n') return next + 1;
    if (next + 1 < buf.size() && buf[next] == '\r' && buf[next + 1] == '\n') return next + 2;
    i = next;
  }
}


}  // namespace

bool httpNameEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

const HttpHeader* RequestHead::find(std::string_view name) const {
  for (const HttpHeader& h : headers) {
    if (httpNameEquals(h.name, name)) return &h;
  }
  return nullptr;
}

HeadResult parseRequestHead(std::string_view buf, RequestHead* head, size_t scan_from) {
  // Empty lines before the request line are skipped (a client's stray CRLF after a body).
  size_t skipped = 0;
  while (skipped < buf.size() && (buf[skipped] == '\r' || buf[skipped] == '\n')) ++skipped;
  std::string_view rest = buf.substr(skipped);
  size_t end = headEnd(rest, scan_from > skipped ? scan_from - skipped : 0);
  if (end == std::string_view::npos) return HeadResult{};
  head->headers.clear();
  head->head_bytes = skipped + end;
  head->content_length = -1;
  head->chunked = false;
  head->expect_continue = false;
  rest = rest.substr(0, end);

  std::string_view line;
  nextLine(&rest, &line);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return refuse(HeadStatus::BadRequest, "request line is not `method target HTTP/1.x`");
  }
  head->method = line.substr(0, sp1);
  head->target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (head->method.empty() || head->target.empty()) {
    return refuse(HeadStatus::BadRequest, "empty method or request target");
  }
  for (char c : head->method) {
    if (!isTokenChar(static_cast<unsigned char>(c))) {
      return refuse(HeadStatus::BadRequest, "method is not a token");
    }
  }
  for (char c : head->target) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return refuse(HeadStatus::BadRequest, "control byte in target");
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return refuse(HeadStatus::BadRequest, "malformed HTTP version");
  }
  if (version[5] != '1') {
    return refuse(HeadStatus::BadVersion, "only HTTP/1.0 and HTTP/1.1 are served");
  }
  head->minor = version[7] - '0';

  bool conn_close = false;
  bool conn_keep_alive = false;
  bool has_te = false;
  while (nextLine(&rest, &line) && !line.empty()) {
    if (line.front() == ' ' || line.front() == '\t') {
      return refuse(HeadStatus::BadRequest, "obsolete line folding in a header field");
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return refuse(HeadStatus::BadRequest, "header line without a field name and colon");
    }
    std::string_view name = line.substr(0, colon);
    for (char c : name) {
      if (!isTokenChar(static_cast<unsigned char>(c))) {
        return refuse(HeadStatus::BadRequest, "header field name is not a token");
      }
    }
    std::string_view value = trimOws(line.substr(colon + 1));
    for (char c : value) {
      auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && u != '\t') || u == 0x7f) {
        return refuse(HeadStatus::BadRequest, "control byte in a header field value");
      }
    }
    head->headers.push_back(HttpHeader{name, value});
    if (httpNameEquals(name, "Content-Length")) {
      int64_t n = 0;
      if (!parseDecimal(value, &n)) return refuse(HeadStatus::BadRequest, "invalid Content-Length");
      if (head->content_length >= 0 && head->content_length != n) {
        return refuse(HeadStatus::BadRequest, "conflicting Content-Length fields");
      }
      head->content_length = n;
    } else if (httpNameEquals(name, "Transfer-Encoding")) {
      bool ok = !has_te;
      int codings = 0;
      forEachListElement(value, [&](std::string_view coding) {
        ++codings;
        if (!httpNameEquals(coding, "chunked")) ok = false;
      });
      if (!ok || codings != 1) {
        return refuse(HeadStatus::NotImplemented, "only Transfer-Encoding: chunked is supported");
      }
      has_te = true;
      head->chunked = true;
    } else if (httpNameEquals(name, "Connection") || httpNameEquals(name, "Proxy-Connection")) {
      // Proxy-Connection: what HTTP/1.0-era clients of a forward proxy send instead.
      forEachListElement(value, [&](std::string_view token) {
        if (httpNameEquals(token, "close")) conn_close = true;
        if (httpNameEquals(token, "keep-alive")) conn_keep_alive = true;
      });
    } else if (httpNameEquals(name, "Expect")) {
      if (!httpNameEquals(value, "100-continue")) {
        return refuse(HeadStatus::ExpectationFailed, "only Expect: 100-continue is supported");
      }
      head->expect_continue = head->minor >= 1;
    }
  }
  if (head->chunked && head->content_length >= 0) {
    return refuse(HeadStatus::BadRequest, "both Content-Length and Transfer-Encoding");
  }
  if (head->chunked && head->minor == 0) {
    return refuse(HeadStatus::BadRequest, "Transfer-Encoding in an HTTP/1.0 request");
  }
  head->keep_alive = !conn_close && (head->minor >= 1 || conn_keep_alive);
  return HeadResult{HeadStatus::Complete, ""};
}

ChunkedDecoder::Status ChunkedDecoder::feed(std::string_view* in, std::string* body,
                                            size_t max_body, TrailerLimits trailer) {
  constexpr size_t kMaxLine = 4096;
  for (;;) {
    switch (state_) {
      case State::Size:
      case State::Trailer:
      case State::DataEnd: {
        std::string_view line;
        std::string_view rest = *in;
        if (!nextLine(&rest, &line)) {
          if (state_ == State::Trailer && in->size() > trailer.max_bytes - trailer_bytes_) {
            trailer_bytes_ += in->size();
            return Status::TrailerTooLarge;
          }
          return in->size() > kMaxLine ? Status::Bad : Status::NeedMore;
        }
        if (state_ == State::Trailer) {
          const size_t line_bytes = in->size() - rest.size();
          trailer_bytes_ += line_bytes;
          if (trailer_bytes_ > trailer.max_bytes) return Status::TrailerTooLarge;
          if (!line.empty() && ++trailer_fields_ > trailer.max_fields) {
            return Status::TrailerTooLarge;
          }
        }
        *in = rest;
        if (state_ == State::DataEnd) {
          if (!line.empty()) return Status::Bad;  // chunk data longer than its size
          state_ = State::Size;
          break;
        }
        if (state_ == State::Trailer) {
          if (line.empty()) return Status::Done;
          break;  // a trailer field: dropped
        }
        std::string_view size = line.substr(0, line.find(';'));
        size = trimOws(size);
        if (size.empty() || size.size() > 15) return Status::Bad;
        uint64_t n = 0;
        for (char c : size) {
          int digit = c >= '0' && c <= '9'   ? c - '0'
                      : lower(c) >= 'a' && lower(c) <= 'f' ? lower(c) - 'a' + 10
                                                             : -1;
          if (digit < 0) return Status::Bad;
          n = n * 16 + static_cast<uint64_t>(digit);
        }
        if (n == 0) {
          state_ = State::Trailer;
          break;
        }
        if (n > max_body - std::min(max_body, body->size())) return Status::TooLarge;
        remaining_ = n;
        state_ = State::Data;
        break;
      }
      case State::Data: {
        if (in->empty()) return Status::NeedMore;
        size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, in->size()));
        body->append(in->data(), take);
        in->remove_prefix(take);
        remaining_ -= take;
        if (remaining_ == 0) state_ = State::DataEnd;
        break;
      }
    }
  }
}

}  // namespace ocsp
