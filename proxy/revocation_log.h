#pragma once
// The revocation log (DESIGN.md §7): one JSON object per answered CertID, one per line (JSON
// Lines), for the network team and `ocsp-proxy report`. Fields, always in this order:
//   time              RFC 3339 UTC with milliseconds, when the answer went out
//   client            "ip:port"
//   mode              "responder" | "forward"
//   upstream          upstream name ("" when unrouted, e.g. unknown issuer)
//   upstream_fqdn     FQDN that gave the answer ("" when none did)
//   issuer            issuer subject, one line ("" when unknown)
//   issuer_key_hash   CertID issuerKeyHash, lower-case hex
//   hash              CertID hash algorithm ("sha1", "sha256", ...)
//   serial            CertID serialNumber, lower-case hex of the INTEGER contents
//   status            "good" | "revoked" | "unknown" | "error"
//   revocation_time   RFC 3339, or null
//   revocation_reason CRLReason name ("keyCompromise", ...), or null
//   source            "memory" | "redis" | "upstream" | "stale", or null for errors
//   validation        "ok" | "unvalidated" | "error:<code>"
//   issuer_revoked    true when the issuer is a watched intermediate found revoked
//   latency_ms        integer
// Writing: lines are appended to an in-memory buffer under a mutex (workers never wait on
// the disk) and written out by flush(): when 64 KiB are pending, once a second from the main
// loop, and at exit. reopen() (SIGHUP, after logrotate moved the file) flushes and opens the
// path again. Output "-" is stdout. A failed write is logged once per failure streak and the
// lines are dropped: the log must never stop answers.
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/ocsp_types.h"
#include "core/result.h"

namespace ocsp {

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

// The status of every CertID in `der` (a successful basic response), in the order of `ids`;
// Unknown for a CertID the response does not cover. For multi-CertID requests.
std::vector<std::pair<CertStatus, std::optional<Revocation>>> statusesIn(
    std::string_view der, const std::vector<CertIdInfo>& ids);

class RevocationLog {
 public:
  // "-" = stdout, else a file opened for appending (created 0640).
  static Result<std::unique_ptr<RevocationLog>> open(const std::string& path);
  ~RevocationLog();
  RevocationLog(const RevocationLog&) = delete;
  RevocationLog& operator=(const RevocationLog&) = delete;

  // Thread-safe.
  void append(const std::string& line);
  void flush();
  // Flushes, then opens the path again (logrotate: the old file was moved away).
  Status reopen();

  const std::string& path() const { return path_; }

 private:
  RevocationLog(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  void flushLocked();

  std::string path_;
  std::mutex mu_;
  int fd_;
  std::string pending_;
  bool failing_ = false;
};

}  // namespace ocsp
