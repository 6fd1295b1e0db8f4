#pragma once
// The input side of one OCSP-listener connection (docs/ARCHITECTURE.md §11): the bytes
// received, and the framing of one request at a time out of them. Used by
// http/http_connection.h, which owns the socket and the connection's state.
//   - One input buffer, reused: a request's head and body are parsed in place
//     (http/http_parse.h) and handed out as views. The buffer grows up to max_header_bytes +
//     max_request_bytes + 16 KiB; while the views are held (moveAllowed false) it never moves.
//   - A body is framed by Content-Length or chunked transfer coding; chunked trailer fields
//     count against the head's limits (RFC 9112 §7.1.2: they are header fields).
//   - Limits (max_headers, max_header_bytes, max_request_bytes) are found here and reported
//     as a LimitBreach with its amount; malformed framing as a protocol error with the status
//     code to answer (400, 417, 501, 505). Either way the rest of the request is not read:
//     consumed() covers what was received of it.
// Not thread-safe; one per connection.
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/http_exchange.h"
#include "http/http_parse.h"

namespace ocsp {

struct RequestReaderLimits {
  size_t max_header_bytes = 8 * 1024;
  size_t max_headers = 64;
  size_t max_request_bytes = 16 * 1024;
};

class HttpRequestReader {
 public:
  explicit HttpRequestReader(const RequestReaderLimits& limits);

  // What step() found.
  struct Step {
    enum class Kind {
      NeedMore,       // nothing more can be framed from the bytes received
      Request,        // a whole request: head() and body()
      Breach,         // a limit (breach, amount)
      ProtocolError,  // answer `code` `reason` and close; `detail` says why
      Continue,       // Expect: 100-continue and the body has not come: send 100 now (once)
    };
    Kind kind = Kind::NeedMore;
    LimitBreach breach = LimitBreach::None;
    uint64_t amount = 0;
    int code = 0;
    const char* reason = "";
    const char* detail = "";
  };
  // Frames what is buffered, one step. Only between requests or within one (not while a
  // request is being answered).
  Step step();
  // Reading a body (the head is complete); false while reading a head or idle.
  bool inBody() const { return in_body_; }

  const RequestHead& head() const { return head_; }
  std::string_view body() const { return body_; }
  // The request is not to be read further (a breach found elsewhere: a deadline, eviction):
  // everything received counts as consumed; a partial head is forgotten.
  void abandon();
  // The answer to the current request is out: the next request starts after it.
  void next();
  // Drops everything received (lingering close).
  void clear() { start_ = end_ = consumed_ = 0; }

  // Bytes received and not yet consumed by an answered request.
  size_t buffered() const { return end_ - start_; }
  // Bytes of buffered() that the current request occupies.
  size_t consumed() const { return consumed_; }
  // Buffered bytes behind the current request.
  size_t unread() const { return buffered() - std::min(consumed_, buffered()); }

  // Receiving: room to read into, growing the buffer when full (false when it may not grow:
  // it is at its bound, or `may_move` is false because the request's views are held).
  bool makeRoom(bool may_move);
  bool full() const { return end_ == in_.size(); }
  // read(2) into the free space; 0 when full.
  ssize_t readFrom(int fd);

 private:
  Step bodyStep(std::string_view buffered);
  // Room for `bytes` from start_ on; moves or grows the buffer (re-parsing a head it held).
  // False if that is over the bound.
  bool reserve(size_t bytes);

  RequestReaderLimits limits_;
  // Bytes [start_, end_) of in_ are received and not yet consumed.
  std::string in_;
  size_t start_ = 0;
  size_t end_ = 0;
  size_t scanned_ = 0;  // of the head being looked for, from start_
  bool in_body_ = false;
  bool continue_sent_ = false;
  RequestHead head_;
  std::string_view body_;
  ChunkedDecoder chunks_;
  size_t chunk_pos_ = 0;  // chunked body: raw bytes from start_ + this are not yet decoded
  std::string chunked_body_;
  size_t consumed_ = 0;  // bytes of in_ from start_ that the current request occupies
};

}  // namespace ocsp
