#pragma once
// One answer on the wire, for the OCSP listener's connections (docs/ARCHITECTURE.md §11).
// evhttp allocates and printf-formats every header of every answer and copies bodies; here:
//   - the status line and header fields are rendered into one reused string; Date is rendered
//     at most once a second per thread;
//   - the body is either copied (small, generated) or referenced (cached DER, CRLs: `keep`
//     holds the memory until the bytes are written, or until release());
//   - a referenced body may be in two parts (a cached answer's own bytes, then the
//     certificates it shares with other answers, core/entry_der.h), sent one after the other;
//   - head and body go out with one sendmsg (writev), straight from the caller when the
//     socket takes them (the common case: no poll round trip, no write event).
// Which fields an answer carries is the caller's decision (ResponseFraming); this only
// renders and writes. Not thread-safe; one per connection.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace ocsp {

struct ResponseFraming {
  enum class Connection { Omit, KeepAlive, Close };
  bool http10 = false;          // "HTTP/1.0" status line, else "HTTP/1.1"
  bool content_length = true;   // a Content-Length field (none for 1xx, 204, 304)
  bool send_body = true;        // false for HEAD and the bodiless codes
  Connection connection = Connection::Omit;
};

class HttpResponseWriter {
 public:
  enum class Progress { Done, Blocked, Failed };

  // Renders the head (status line, Date, Content-Length, Connection, then `extra_headers`,
  // "name: value\r\n" each) and takes the body, `body` then `body_rest`: copied, unless
  // `keep` is given, which must keep the memory both point into alive.
  void start(int code, std::string_view reason, const ResponseFraming& framing,
             std::string_view extra_headers, std::string_view body,
             std::shared_ptr<const void> keep, std::string_view body_rest = {});
  // Writes what is pending to `fd`: Done when all is written, Blocked when the socket takes
  // no more now (call again when writable), Failed on a write error.
  Progress writeTo(int fd);
  // Bytes written since the process started; a change means the client is reading.
  uint64_t bytesWritten() const { return bytes_written_; }
  // Drops the body and what keeps it alive.
  void release();

 private:
  std::string head_;
  size_t head_off_ = 0;
  std::string body_copy_;
  std::string_view body_;
  std::string_view body_rest_;
  size_t body_off_ = 0;  // into body_ then body_rest_
  std::shared_ptr<const void> keep_;
  uint64_t bytes_written_ = 0;
};

}  // namespace ocsp
