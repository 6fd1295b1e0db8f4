#pragma once
// `ocsp-proxy report --impact ISSUER` and `report --serials FILE [--deadline DATE]`: who uses
// the certificates an incident touches (an intermediate revoked, an issuer distrusted, a CA's
// mass revocation), from the revocation log. The answers come from the report's reader
// (tools/report_summary.h Report::divertAnswers: same framing, malformed lines counted and
// skipped, --since/--until applied); here they are selected and counted.
//
// Which answers count:
//   --impact ISSUER   answers whose issuer_key_hash is ISSUER (hex, any case, colons or spaces
//                     allowed) or whose issuer subject contains ISSUER (ASCII case-insensitive).
//                     Every issuer that matched is listed, so a too-broad ISSUER shows.
//   --serials FILE    answers whose serial is on the list (under any issuer, or under ISSUER
//                     when both are given). Serials compare as numbers: case, separators and
//                     leading zeros do not matter ("00:8F:01" is "8f01": the log writes the
//                     INTEGER's content bytes, with the 00 a positive serial needs when its
//                     first bit is set, and lists often leave it out).
//   --deadline DATE   with --serials: the listed serials still asked about at or after DATE
//                     (the certificates not yet replaced), and by whom.
// What is shown: the issuers matched; per client (its IP, without the port: a client is an
// address, as in the report) the requests, distinct serials, first and last seen; per
// (issuer, serial) the requests, clients, last seen and the status of the latest answer; with
// --serials the listed serials never seen; with --deadline those seen on or after it.
//
// The serial list (parseSerialList): one serial a line, hex, "0x" prefix, colons and spaces
// allowed, any case; "#" starts a comment; blank lines are skipped. A line that is not a
// serial is an error that names the file and line: a list with a typo must not give a report
// that silently leaves a certificate out. A serial listed twice counts once.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace ocsp::report {

struct Answer;  // tools/log_record.h

// "0x0A:1B" -> "0a1b": lower-case hex, separators and the 0x prefix gone; nullopt when `s` is
// not a hex serial.
std::optional<std::string> normalizeSerial(std::string_view s);
// The comparison key: normalized, leading zeros dropped ("0" for zero).
std::string serialKey(std::string_view normalized);

struct SerialList {
  std::vector<std::string> serials;  // normalized, in file order, each key once
  size_t duplicates = 0;             // lines naming a serial already listed
};
// Error detail: "FILE:LINE: not a serial: \"...\"" for each bad line (the first 10, then how
// many more), or "FILE lists no serial".
Result<SerialList> parseSerialList(std::string_view text, std::string_view name);
// Reads and parses the file; a file that cannot be read is an error with code "read".
Result<SerialList> loadSerialList(const std::string& path);

struct ImpactQuery {
  std::string issuer;                  // "" = any issuer (only with a serial list)
  std::optional<SerialList> serials;   // --serials
  std::string serials_name;            // the list's file name, for the heading
  std::optional<int64_t> deadline_ms;  // --deadline, epoch milliseconds
  size_t top_clients = 20;             // clients listed per serial
};

// Counts the answers it is given. Not thread-safe; one instance per run.
class ImpactReport {
 public:
  explicit ImpactReport(ImpactQuery query);
  ~ImpactReport();
  ImpactReport(const ImpactReport&) = delete;
  ImpactReport& operator=(const ImpactReport&) = delete;

  void add(const Answer& a);

  // `malformed`: lines the reader skipped, shown in the heading.
  std::string text(uint64_t malformed) const;  // tables, ending in '\n'
  std::string json(uint64_t malformed) const;  // one JSON object on one line, ending in '\n'
  // Listed serials asked about at or after the deadline, under any issuer (0 without one).
  size_t seenAfterDeadline() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ocsp::report
