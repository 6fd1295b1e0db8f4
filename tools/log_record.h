#pragma once
// One revocation-log line (docs/ARCHITECTURE.md §10) -> one checked answer, for
// `ocsp-proxy report`. The line is parsed into the record's fields by the parser declared
// with the record (core/revocation_record.h: strict RFC 8259, every field once and of its
// type, raw bytes that are not UTF-8 taken as \xNN and flagged as Answer::invalid_utf8);
// here each value must also be one of its enumeration (status, mode, source, validation,
// RFC 3339 times).
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/revocation_record.h"

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

// Why a line was refused (core/revocation_record.h).
using record::Fault;
using record::kTooLong;
using record::Problem;
using record::describe;

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
