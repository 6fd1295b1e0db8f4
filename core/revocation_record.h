#pragma once
// One record of the revocation log (docs/ARCHITECTURE.md §10), declared once for the proxy
// that writes it (proxy/revocation_log.h) and for `ocsp-proxy report` that reads it
// (tools/log_record.h): its fields, their JSON names and types, their order, how a record is
// written as one line and how a line is parsed back into its fields.
//
// A line is one JSON object (JSON Lines), with the fields of kFields, always in this order:
//   time              RFC 3339 UTC with milliseconds, when the answer went out
//   client            "ip:port"
//   mode              "responder" | "forward" | "transparent" (core/source.h Mode)
//   upstream          upstream name ("" when unrouted, e.g. unknown issuer)
//   upstream_fqdn     FQDN that gave the answer ("" when none did; "crl-bridge" for an
//                     answer the CRL bridge built, wherever it was served from)
//   issuer            issuer subject, one line ("" when unknown)
//   issuer_key_hash   CertID issuerKeyHash, lower-case hex
//   hash              CertID hash algorithm ("sha1", "sha256", ...)
//   serial            CertID serialNumber, lower-case hex of the INTEGER contents
//   status            "good" | "revoked" | "unknown" | "error"
//   revocation_time   RFC 3339, or null
//   revocation_reason CRLReason name ("keyCompromise", ...), or null
//   source            "memory" | "redis" | "upstream" | "stale", or null for errors; "crl"
//                     for an answer the CRL bridge built for this request
//   validation        "ok" | "unvalidated" | "error:<code>"
//   issuer_revoked    true when the issuer is a watched intermediate found revoked
//   latency_ms        integer
// The parser also takes null for upstream and upstream_fqdn (kFields marks what may be null).
// Strings are JSON (RFC 8259) with the escaping rule of core/utf8.h: a byte that is not
// well-formed UTF-8 (an upstream_fqdn read from Redis, say) is the text \xNN, so every line
// stays valid JSON.
//
// Parsing (record::LineParser) is strict RFC 8259 for a line holding one object: known
// escapes only, paired \u surrogates, no control characters in strings, nothing after the
// object. One leniency: bytes inside a string that are not well-formed UTF-8 (RFC 3629),
// which proxies wrote before they escaped them, are taken as the text \xNN and the line is
// flagged (invalidUtf8()), so that such a line, often a revoked answer, is counted and shown
// rather than skipped. Every field of the table must appear exactly once with its type (or
// null where the table allows it); unknown members are checked and skipped whatever their
// shape, up to a fixed nesting depth. Whether a value is one of its enumeration is the
// reader's to check (tools/log_record.h).
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/source.h"

namespace ocsp {

// What the proxy writes for one answered CertID. Views: valid for the call that formats it.
struct RevocationRecord {
  int64_t time_ms = 0;  // epoch milliseconds
  std::string_view client;
  Mode mode = Mode::Responder;
  std::string_view upstream;
  std::string_view upstream_fqdn;
  std::string_view issuer;
  const CertIdInfo* cert_id = nullptr;
  // status/revocation: for answers; `error` set (code) for failures.
  CertStatus status = CertStatus::Unknown;
  std::optional<Revocation> revocation;
  std::optional<AnswerSource> source;
  bool validated = true;
  std::string_view error;  // non-empty: status "error", validation "error:<code>"
  bool issuer_revoked = false;
  int64_t latency_ms = 0;
};

// One line, without the trailing newline.
std::string formatRevocationRecord(const RevocationRecord& r);

// CRLReason name for a code (RFC 5280 §5.3.1), nullptr for -1 or unknown codes.
const char* crlReasonName(int reason);

namespace record {

enum class Kind : uint8_t { Absent, Null, String, Bool, Integer, OtherNumber, Composite };

// clang-format off
enum Field : uint8_t {
  kTime, kClient, kMode, kUpstream, kUpstreamFqdn, kIssuer, kIssuerKeyHash, kHash, kSerial,
  kStatus, kRevocationTime, kRevocationReason, kSource, kValidation, kIssuerRevoked, kLatencyMs,
  kFieldCount
};
struct FieldSpec {
  std::string_view name;
  Kind kind;
  bool nullable;
};
// The record's fields, in the order they are written.
inline constexpr std::array<FieldSpec, kFieldCount> kFields = {{
    {"time", Kind::String, false},           {"client", Kind::String, false},
    {"mode", Kind::String, false},           {"upstream", Kind::String, true},
    {"upstream_fqdn", Kind::String, true},   {"issuer", Kind::String, false},
    {"issuer_key_hash", Kind::String, false}, {"hash", Kind::String, false},
    {"serial", Kind::String, false},         {"status", Kind::String, false},
    {"revocation_time", Kind::String, true}, {"revocation_reason", Kind::String, true},
    {"source", Kind::String, true},          {"validation", Kind::String, false},
    {"issuer_revoked", Kind::Bool, false},   {"latency_ms", Kind::Integer, false},
}};
// clang-format on

// One field as read: strings (decoded), the text of numbers, booleans.
struct Value {
  Kind kind = Kind::Absent;
  std::string_view str;  // strings; the text of numbers
  bool flag = false;     // booleans
};
using Values = std::array<Value, kFieldCount>;

// Why a line was refused: a fixed message, nullptr for none.
using Fault = const char*;
inline constexpr Fault kTooLong = "line longer than 1 MiB";  // found by the reader's framing
inline constexpr Fault kBadValue = "bad value for field";     // outside its enumeration

struct Problem {
  Fault fault = nullptr;
  size_t column = 0;  // 1-based; 0 when a column would not help
  int field = -1;
};

// "bad value for field \"time\"", "JSON syntax error at column 12", ...
std::string describe(const Problem& p);

// Parses lines one after another, reusing its buffers. Not thread-safe.
class LineParser {
 public:
  LineParser();
  ~LineParser();

  // `line` is one line without its '\n'. Fills `values` (every field of the table, of its
  // type) and returns no fault, or says why the line is malformed. The views in `values`
  // point into `line` or into this parser and live until the next call.
  Problem parse(std::string_view line, Values& values);
  // The last line held raw bytes that are not UTF-8 (shown as \xNN).
  bool invalidUtf8() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace record
}  // namespace ocsp
