#pragma once
// Operational log: one logfmt line per event on stderr, written with a single write(2) so
// lines from different worker threads never interleave.
//   2026-11-23T10:11:12.345Z level=warn event=validation_failed upstream=digicert reason=...
// A value is written as it is when it is printable ASCII without space, '"', '=' or '\',
// or well-formed UTF-8; otherwise it is quoted, with '"' and '\' escaped by a backslash and
// control characters and bytes that are not well-formed UTF-8 written \xNN (core/utf8.h):
// a value taken from a client (a URL, a Host header) cannot forge a field, split a line or
// put raw invalid bytes into the log.
#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace ocsp {

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3 };

bool parseLogLevel(std::string_view s, LogLevel* out);
void setLogLevel(LogLevel level);
bool logEnabled(LogLevel level);

using LogField = std::pair<std::string_view, std::string_view>;
void logEvent(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {});

// A global budget for one event that a client can trigger at will (unknown_issuer,
// malformed_request, forward_refused, limit_rejected, ...): at most `per_second` lines in a
// wall-clock second, over all threads; the lines held back are counted, and the first line of
// a later second carries suppressed=K (how many were held back since the previous line), so
// a flood gives a line per second with its size instead of a line per request. One instance
// per event, shared by every worker (a function-local or namespace-scope static).
class LogRateLimit {
 public:
  static constexpr int kDefaultPerSecond = 10;
  explicit LogRateLimit(int per_second = kDefaultPerSecond) : per_second_(per_second) {}

  // True if a line may go out at `now_ms` (epoch milliseconds); then *suppressed is the
  // number of lines held back since the previous one went out.
  bool admit(int64_t now_ms, uint64_t* suppressed);

 private:
  const int per_second_;
  std::mutex mu_;
  int64_t second_ = -1;  // the second lines are being counted in
  int lines_ = 0;        // lines let out in that second
  uint64_t held_ = 0;    // lines held back since the last one let out
};

// logEvent within `limit`; adds suppressed=K to the line when K lines were held back.
void logEventLimited(LogRateLimit& limit, LogLevel level, std::string_view event,
                     std::initializer_list<LogField> fields = {});

// RFC 3339 UTC with milliseconds, e.g. 2026-11-23T10:11:12.345Z.
std::string rfc3339NowMs();
// "2026-11-23T10:11:12.345Z" for epoch milliseconds.
std::string rfc3339Ms(int64_t epoch_ms);
// RFC 3339 UTC for a time in seconds.
std::string rfc3339(int64_t epoch_s);
// RFC 7231 IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
std::string httpDate(int64_t epoch_s);
// The same into `out` without an allocation; false (and `out` unspecified) for a year outside
// 0..9999, which does not fit the fixed 29 characters.
bool httpDateInto(int64_t epoch_s, char (&out)[29]);
// Parses an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110 §5.6.7), the only form
// we send; -1 for anything else (callers then ignore the header).
int64_t parseHttpDate(std::string_view text);

}  // namespace ocsp
