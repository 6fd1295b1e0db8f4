#pragma once
// The summary behind `ocsp-proxy report` (tools/report.h): a revocation log
// (docs/ARCHITECTURE.md §10, records as core/revocation_record.h writes them) in one
// streaming pass, rendered as tables or one JSON object.
//
// Input: JSON Lines, one object per answered CertID, as the proxy writes them. A line is
// counted as malformed and skipped (never fatal; named in the report, the first
// kMalformedListed of them with file:line and why, and their number on stderr) when it is not
// one JSON object (RFC 8259: known escapes, paired \u surrogates, nothing after the object;
// raw bytes that are not UTF-8 do not make a line malformed: they are shown as \xNN and the
// line is counted under "non-UTF-8 lines", tools/log_record.h), when
// a known field repeats, or when a required field is missing, has the wrong type, or holds a
// value outside its enumeration (status, mode, source, validation, times). Unknown extra
// fields are skipped whatever their value. "\r\n" endings are accepted. Lines longer than
// kMaxLineBytes are malformed, which bounds memory: it grows with the distinct issuers,
// revoked serials, clients and upstreams, never with the size of the log.
//
// Choices the log format leaves open:
//   - A client is its IP address: "10.0.0.5:51234" and "10.0.0.5:40000" are one client, since
//     the port changes with every connection. "[::1]:5000" is "::1".
//   - Key hashes and serials are compared case-insensitively and shown in lower case.
//   - A revoked serial shows the revocation time and reason of its latest answer.
//   - upstream "" and null are the same: no upstream was involved. In the JSON report an empty
//     string (no issuer name, no upstream) and a missing time or reason are null.
//   - First/last time seen are the earliest/latest times counted, in whatever order they come.
//   - --top bounds only the clients listed per revoked serial; every table lists every row.
//   - "Clients still asking about revoked certificates" lists every client that got a revoked
//     answer; "revoked serials" counts the distinct (issuer key hash, serial) it asked about.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ocsp::report {

struct Answer;  // tools/log_record.h

constexpr size_t kMaxLineBytes = 1 << 20;
constexpr size_t kMalformedListed = 10;  // malformed lines named (file:line: why), the rest counted

// What a run asks for (the command line, tools/report.h).
struct Options {
  bool help = false;
  bool json = false;
  std::optional<int64_t> since_ms;  // inclusive, milliseconds since the epoch (UTC)
  std::optional<int64_t> until_ms;  // exclusive
  size_t top_clients = 20;          // clients listed per revoked serial
  std::vector<std::string> files;   // read in order as one stream; empty or "-" = stdin
  // Who uses affected certificates (tools/report_impact.h) instead of the summary:
  std::optional<std::string> impact;        // --impact ISSUER
  std::optional<std::string> serials_file;  // --serials FILE
  std::optional<int64_t> deadline_ms;       // --deadline DATE (with --serials)
};

// Accumulates answers from bytes fed in any chunking, then renders the seven sections.
// Not thread-safe; one instance per run.
class Report {
 public:
  explicit Report(const Options& options);
  ~Report();
  Report(const Report&) = delete;
  Report& operator=(const Report&) = delete;
  Report(Report&&) noexcept;
  Report& operator=(Report&&) noexcept;

  // Hands every answer counted (well-formed, inside --since/--until) to `sink` instead of
  // the summary's tables, which then stay empty: `report --impact` and `--serials`
  // (tools/report_impact.h) read logs through the same framing and malformed-line rules. The
  // answer's views live for the call only.
  void divertAnswers(std::function<void(const Answer&)> sink);

  // `name` labels malformed lines ("name:line"); line numbers restart at 1 for each input.
  void beginInput(std::string name);
  void feed(std::string_view bytes);  // may split lines anywhere
  void endInput();                    // a last line without '\n' still counts
  // beginInput + feed in large chunks + endInput. False if the stream went bad mid-read.
  bool read(std::istream& in, std::string name);

  std::string text() const;  // aligned tables with headings, ending in '\n'
  std::string json() const;  // one JSON object on one line, ending in '\n'
  uint64_t malformed() const;  // lines skipped as malformed so far

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ocsp::report
