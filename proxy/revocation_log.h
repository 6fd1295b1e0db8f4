#pragma once
// The revocation log (docs/ARCHITECTURE.md §10): one JSON object per answered CertID, one per line
// (JSON Lines), for the network team and `ocsp-proxy report`. The record, its fields, their
// order and how a line is written: core/revocation_record.h, shared with the reader.
// Writing (workers never wait on the log's output):
//   - append() copies the line into a pending buffer under a mutex held only for that copy.
//     The buffer is bounded (limits.revocation_log_buffer): a line that does not fit is
//     dropped and counted, so a reader that stopped reading (stdout into a stalled pipe) or
//     a disk that stalls costs log lines, never answers.
//   - One writer thread owns the output: it takes the whole pending buffer when 64 KiB (or
//     half the bound, if smaller) are pending or once a second, and writes it with the mutex
//     released.
//   - Whole lines or none: when a write stops part-way through a line (ENOSPC, EIO), the
//     fragment is cut off again (ftruncate back to the last full line); where that is not
//     possible (a pipe), the next write starts with '\n' so that no record is glued to the
//     fragment. Lines not written are dropped and counted.
//   - Drops are counted in ocsp_proxy_revocation_log_dropped_total{reason} (buffer_full |
//     write_failed) and logged as event=revocation_log_dropped at most once per 10 s with the
//     number since the previous such line; a failed write is also logged once per failure
//     streak (event=revocation_log_write_failed).
//   - reopen() (SIGHUP/SIGUSR1, after logrotate moved the file) opens the path again at once
//     and hands the new descriptor to the writer; lines still pending go to the new file.
//   - close() (at exit, also from the destructor) writes what is pending and waits for it at
//     most kCloseTimeoutMs: a stalled reader cannot hold up the exit; the lines it did not
//     take are logged (event=revocation_log_unflushed lines=N).
// Output "-" is stdout.
#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/revocation_record.h"
#include "core/source.h"
#include "core/result.h"

namespace ocsp {

// The status of every CertID in `der` (a successful basic response), in the order of `ids`;
// Unknown for a CertID the response does not cover. For multi-CertID requests.
std::vector<std::pair<CertStatus, std::optional<Revocation>>> statusesIn(
    std::string_view der, const std::vector<CertIdInfo>& ids);

class Counter;

class RevocationLog {
 public:
  static constexpr size_t kDefaultMaxPendingBytes = 8u << 20;
  static constexpr int64_t kCloseTimeoutMs = 5'000;

  // How write(2) is called; tests inject a disk that fills up.
  using WriteFn = ssize_t (*)(int fd, const void* data, size_t size);
  struct Options {
    size_t max_pending_bytes = kDefaultMaxPendingBytes;  // lines beyond it are dropped
    Counter* dropped_buffer_full = nullptr;   // lines dropped: the buffer was full
    Counter* dropped_write_failed = nullptr;  // lines dropped: the write failed
    WriteFn write = nullptr;                  // null: ::write
  };

  // "-" = stdout, else a file opened for appending (created 0640). Starts the writer thread.
  static Result<std::unique_ptr<RevocationLog>> open(const std::string& path,
                                                     const Options& options);
  static Result<std::unique_ptr<RevocationLog>> open(const std::string& path) {
    return open(path, Options{});
  }
  ~RevocationLog();
  RevocationLog(const RevocationLog&) = delete;
  RevocationLog& operator=(const RevocationLog&) = delete;

  // Thread-safe; never waits on the output (see above). `line` has no '\n'.
  void append(std::string_view line);
  // Waits until every line appended before the call is written or dropped, at most
  // `timeout_ms`; false on timeout (the output does not take the lines). For tests and exit.
  bool flush(int64_t timeout_ms = kCloseTimeoutMs);
  // Opens the path again (logrotate: the old file was moved away); the writer switches to it
  // before its next write. Stdout is kept.
  Status reopen();
  // Writes what is pending (at most kCloseTimeoutMs) and stops the writer. Idempotent.
  void close();

  const std::string& path() const { return path_; }
  // Lines dropped so far, for any reason.
  uint64_t dropped() const;

 private:
  struct Shared;
  RevocationLog(std::string path, std::shared_ptr<Shared> shared);

  std::string path_;
  std::shared_ptr<Shared> shared_;  // also held by the writer thread, which may outlive us
  std::thread writer_;
  bool closed_ = false;
};

}  // namespace ocsp
