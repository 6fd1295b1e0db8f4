#pragma once
// One revocation-log line (docs/ARCHITECTURE.md §10) -> one checked answer, for
// `ocsp-proxy report`.
//
// Strict RFC 8259 for a line holding one object: known escapes only, paired \u surrogates,
// no control characters in strings, nothing after the object. One leniency: bytes inside a
// string that are not well-formed UTF-8 (RFC 3629), which proxies wrote before they escaped
// them, are taken as the text \xNN (the escaping rule of core/utf8.h) and the answer is
// flagged (Answer::invalid_utf8), so that such a line, often a revoked answer, is counted
// and shown rather than skipped. Known
// fields must appear at most once, with the right type, and hold a value from their
// enumeration (status, mode, source, validation, RFC 3339 times); unknown members are checked
// and skipped whatever their shape, up to a fixed nesting depth.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace ocsp::report {

constexpr int64_t kNoTime = INT64_MIN;

// "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)" (RFC 3339 §5.6; digits past milliseconds are
// truncated) -> milliseconds since the epoch, or "YYYY-MM-DD" as midnight UTC when
// `date_alone` is allowed.
std::optional<int64_t> parseTime(std::string_view s, bool date_alone);

// Answer times carry milliseconds; revocation times only when they have some (OCSP and CRL
// times are whole seconds). "" for kNoTime.
std::string timeText(int64_t ms);
std::string revocationTimeText(int64_t ms);

// Why a line was refused: a fixed message, nullptr for none.
using Fault = const char*;
inline constexpr Fault kTooLong = "line longer than 1 MiB";

struct Problem {
  Fault fault = nullptr;
  size_t column = 0;  // 1-based; 0 when a column would not help
  int field = -1;
};

// "bad value for field \"time\"", "JSON syntax error at column 12", ...
std::string describe(const Problem& p);

enum AnswerStatus : uint8_t { kGood, kRevoked, kUnknown, kError, kStatusCount };
constexpr std::array<std::string_view, kStatusCount> kStatusNames = {"good", "revoked", "unknown",
                                                                     "error"};

// The checked answer.
struct Answer {
  int64_t time_ms = 0;
  AnswerStatus status = kGood;
  std::string_view client, upstream, fqdn, issuer, key_hash, serial, validation;
  int64_t revocation_ms = kNoTime;
  std::optional<std::string_view> reason;
  bool stale = false;
  bool issuer_revoked = false;
  bool invalid_utf8 = false;  // a string held raw bytes that are not UTF-8, shown as \xNN
};

// The address in a "client" field, without the port: "10.0.0.5:51234" -> "10.0.0.5",
// "[::1]:5000" -> "::1"; anything else as it is.
std::string_view clientAddress(std::string_view c);

// Parses lines one after another, reusing its buffers. Not thread-safe.
class LogRecordParser {
 public:
  LogRecordParser();
  ~LogRecordParser();

  // `line` is one line without its '\n'. Fills `answer` and returns no fault, or says why the
  // line is malformed. The views in `answer` point into `line` or into this parser and live
  // until the next call.
  Problem parse(std::string_view line, Answer& answer);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ocsp::report
