#pragma once
// HTTP/1.1 request framing (RFC 9112) for the OCSP listener's own connection layer
// (http/http_server.h). Pure functions over bytes already received; no I/O, no allocation
// beyond the caller's reused header vector. Strict where leniency lets requests be smuggled:
//   - a request line is `method SP request-target SP HTTP/1.x`; empty lines before it are
//     skipped (RFC 9112 §2.2); HTTP/2 and later get 505;
//   - header lines are `field-name ":" OWS value OWS`; whitespace before the colon, a field
//     name that is not a token, or an obsolete line folding is a 400 (RFC 9112 §5.1, §5.2);
//   - lines end in CRLF; a bare LF is accepted as an ending too (RFC 9112 §2.2);
//   - Content-Length must be digits, and several must agree; Transfer-Encoding must be
//     exactly "chunked" (others get 501), and a request with both is refused (400, §6.1);
//   - Expect other than 100-continue gets 417.
// Limits (max_header_bytes, max_headers) are reported, not enforced here: the caller decides
// whose answer they get (the front counts them, proxy/http_front.h).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ocsp {

struct HttpHeader {
  std::string_view name;
  std::string_view value;
};

// Field names compare case-insensitively (RFC 9110 §5.1).
bool httpNameEquals(std::string_view a, std::string_view b);

// What one request head says. Views point into the parsed buffer.
struct RequestHead {
  std::string_view method;
  std::string_view target;         // as sent: origin-form "/..." or absolute-form "http://..."
  int minor = 1;                   // HTTP/1.<minor>
  std::vector<HttpHeader> headers; // in order; cleared (capacity kept) by each parse
  size_t head_bytes = 0;           // from the request line through the empty line
  int64_t content_length = -1;     // -1: none
  bool chunked = false;
  bool keep_alive = true;          // after Connection / Proxy-Connection and the version
  bool expect_continue = false;

  // The first field named `name` (case-insensitive), or nullptr.
  const HttpHeader* find(std::string_view name) const;
};

enum class HeadStatus {
  Incomplete,       // no empty line yet: read more (the caller bounds how much)
  Complete,         // `head` is filled; the body (if any) starts at head.head_bytes
  BadRequest,       // 400
  NotImplemented,   // 501: a transfer coding other than chunked
  BadVersion,       // 505
  ExpectationFailed // 417
};

struct HeadResult {
  HeadStatus status = HeadStatus::Incomplete;
  const char* detail = "";  // why, for a refusal (a static string)
};

// Parses the head at the start of `buf`. `scan_from` lets repeated calls on a growing buffer
// skip what was already searched for the empty line (pass the previous buf.size(), or 0).
HeadResult parseRequestHead(std::string_view buf, RequestHead* head, size_t scan_from = 0);

// Incremental decoder of a chunked request body (RFC 9112 §7.1): chunk extensions are
// ignored and trailer fields dropped. Trailer fields are header fields sent after the body
// (RFC 9112 §7.1.2), so they are bounded like the head: the caller passes what the head left
// of max_header_bytes and max_headers, and a trailer section over either is TrailerTooLarge
// (found as soon as the bytes received are over it, not when the section ends).
struct TrailerLimits {
  size_t max_bytes = SIZE_MAX;  // the trailer section, line ends and final empty line included
  size_t max_fields = SIZE_MAX;
};

class ChunkedDecoder {
 public:
  enum class Status { NeedMore, Done, Bad, TooLarge, TrailerTooLarge };
  // Consumes from `in` (advanced past what was used) and appends data to `body`, which may
  // not exceed `max_body` bytes.
  Status feed(std::string_view* in, std::string* body, size_t max_body,
              TrailerLimits trailer = {});
  void reset() { *this = ChunkedDecoder(); }
  // Of the trailer section so far: bytes (at least; those received when it was refused) and
  // fields.
  size_t trailerBytes() const { return trailer_bytes_; }
  size_t trailerFields() const { return trailer_fields_; }

 private:
  enum class State { Size, Data, DataEnd, Trailer };
  State state_ = State::Size;
  uint64_t remaining_ = 0;
  size_t trailer_bytes_ = 0;
  size_t trailer_fields_ = 0;
};

}  // namespace ocsp
