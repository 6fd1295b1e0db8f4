#include "proxy/revocation_log.h"

#include <fcntl.h>
#include <openssl/ocsp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/log.h"
#include "core/metrics.h"

namespace ocsp {

namespace {

constexpr size_t kFlushAtBytes = 64 * 1024;

int openAppend(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

}  // namespace

std::vector<std::pair<CertStatus, std::optional<Revocation>>> statusesIn(
    std::string_view der, const std::vector<CertIdInfo>& ids) {
  std::vector<std::pair<CertStatus, std::optional<Revocation>>> out(
      ids.size(), {CertStatus::Unknown, std::nullopt});
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  OcspResponsePtr resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  if (!resp) return out;
  OcspBasicRespPtr bs(OCSP_response_get1_basic(resp.get()));
  if (!bs) return out;
  for (int i = 0; i < OCSP_resp_count(bs.get()); ++i) {
    OCSP_SINGLERESP* single = OCSP_resp_get0(bs.get(), i);
    CertIdInfo info;
    if (!certIdInfoFrom(OCSP_SINGLERESP_get0_id(single), &info)) continue;
    int reason = -1;
    ASN1_GENERALIZEDTIME* revoked_at = nullptr;
    int status = OCSP_single_get0_status(single, &reason, &revoked_at, nullptr, nullptr);
    for (size_t k = 0; k < ids.size(); ++k) {
      if (!sameCertId(ids[k], info)) continue;
      if (status == V_OCSP_CERTSTATUS_GOOD) {
        out[k] = {CertStatus::Good, std::nullopt};
      } else if (status == V_OCSP_CERTSTATUS_REVOKED) {
        auto t = asn1ToEpoch(revoked_at);
        out[k] = {CertStatus::Revoked, Revocation{t ? *t : 0, reason}};
      }
    }
  }
  return out;
}

// Everything the writer thread uses: it may outlive the RevocationLog when close() gives up
// on a stalled output, so it is shared between the two.
struct RevocationLog::Shared {
  Shared(std::string p, int out, const Options& o)
      : path(std::move(p)),
        options(o),
        // A small buffer is written out when half full, so that it has room while written.
        flush_at_bytes(std::min(kFlushAtBytes, options.max_pending_bytes / 2)),
        fd(out) {
    if (options.write == nullptr) options.write = &::write;
  }
  ~Shared() {
    if (fd >= 0) ::close(fd);
    if (next_fd >= 0) ::close(next_fd);
  }

  void run();
  void takeNextFd();
  void writeBatch(const std::string& batch);
  void lostLines(uint64_t lines, Counter* counter, std::atomic<uint64_t>& total);
  void reportDrops(bool now);

  const std::string path;
  Options options;
  const size_t flush_at_bytes;  // pending bytes that wake the writer before its 1 s round

  std::mutex mu;
  std::condition_variable wake;      // to the writer: lines to write, a flush, a reopen, stop
  std::condition_variable progress;  // from the writer: a batch done, or stopped
  std::string pending;               // whole lines, each ending in '\n'
  size_t pending_lines = 0;
  uint64_t appended = 0;             // lines given to append(), dropped ones included
  uint64_t handled = 0;              // of those, lines written or dropped
  bool flush_asked = false;
  bool stopping = false;
  bool stopped = false;
  int next_fd = -1;                  // from reopen(), for the writer to switch to

  // Writer thread only.
  int fd;
  bool failing = false;  // in a streak of failed writes (logged once)
  bool torn = false;     // the output ends in a line fragment that could not be cut off

  std::atomic<uint64_t> dropped_buffer_full{0};
  std::atomic<uint64_t> dropped_write_failed{0};
  std::atomic<uint64_t> reported_drops{0};     // drops already in a revocation_log_dropped line
  std::atomic<int64_t> last_report_ms{INT64_MIN / 2};  // steady clock
};

namespace {

int64_t steadyMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

size_t countLines(std::string_view s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

}  // namespace

void RevocationLog::Shared::run() {
  std::unique_lock<std::mutex> lock(mu);
  std::string batch;
  while (true) {
    wake.wait_for(lock, std::chrono::seconds(1), [this] {
      return stopping || flush_asked || next_fd >= 0 || pending.size() >= flush_at_bytes;
    });
    flush_asked = false;
    takeNextFd();
    batch.clear();
    batch.swap(pending);  // the two buffers keep their capacity from batch to batch
    const size_t lines = pending_lines;
    pending_lines = 0;
    const bool stop = stopping;
    lock.unlock();
    if (!batch.empty()) writeBatch(batch);
    reportDrops(stop);  // at stop, whatever the interval: the last word on drops
    lock.lock();
    handled += lines;
    progress.notify_all();
    if (stop && pending.empty()) {
      stopped = true;
      progress.notify_all();
      return;
    }
  }
}

// Under mu.
void RevocationLog::Shared::takeNextFd() {
  if (next_fd < 0) return;
  ::close(fd);
  fd = next_fd;
  next_fd = -1;
  failing = false;
  torn = false;  // a new file starts at a line boundary
}

void RevocationLog::Shared::writeBatch(const std::string& batch) {
  auto writeAll = [this](std::string_view data, size_t* done) {
    while (*done < data.size()) {
      ssize_t n = options.write(fd, data.data() + *done, data.size() - *done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return n < 0 ? errno : EIO;
      *done += static_cast<size_t>(n);
    }
    return 0;
  };
  size_t done = 0;
  int err = 0;
  if (torn) {
    // Ends the fragment left by an earlier failure, so that no record is glued to it.
    size_t newline = 0;
    err = writeAll("\n", &newline);
    if (err == 0) torn = false;
  }
  if (err == 0) err = writeAll(batch, &done);
  if (err == 0) {
    failing = false;
    return;
  }
  // Keep whole lines only: a line the write stopped inside is cut off again when it is the
  // end of a file we can truncate; otherwise the next write starts on a new line.
  const size_t last_newline = done == 0 ? std::string::npos : batch.rfind('\n', done - 1);
  const size_t whole = last_newline == std::string::npos ? 0 : last_newline + 1;
  const auto fragment = static_cast<off_t>(done - whole);
  if (fragment > 0) {
    const off_t here = ::lseek(fd, 0, SEEK_CUR);
    const off_t end = ::lseek(fd, 0, SEEK_END);
    // Only our own tail: another writer sharing the descriptor may have appended after it.
    if (here < 0 || here != end || ::ftruncate(fd, end - fragment) != 0) torn = true;
  }
  const size_t lost = countLines(std::string_view(batch).substr(whole));
  lostLines(lost, options.dropped_write_failed, dropped_write_failed);
  if (!failing) {
    logEvent(LogLevel::Error, "revocation_log_write_failed",
             {{"path", path}, {"detail", std::strerror(err)},
              {"dropped_lines", std::to_string(lost)}});
  }
  failing = true;
}

void RevocationLog::Shared::lostLines(uint64_t lines, Counter* counter,
                                      std::atomic<uint64_t>& total) {
  if (lines == 0) return;
  total.fetch_add(lines, std::memory_order_relaxed);
  if (counter != nullptr) counter->inc(lines);
}

// One line per interval, never one per dropped record: a stalled reader drops thousands.
// Called where lines are dropped (a worker in append(), the writer after a failed write), so
// that drops are reported while the writer is blocked; whoever moves last_report_ms reports.
void RevocationLog::Shared::reportDrops(bool now) {
  constexpr int64_t kReportEveryMs = 10'000;
  const uint64_t full = dropped_buffer_full.load(std::memory_order_relaxed);
  const uint64_t failed = dropped_write_failed.load(std::memory_order_relaxed);
  if (full + failed == reported_drops.load(std::memory_order_relaxed)) return;
  const int64_t at = steadyMs();
  int64_t last = last_report_ms.load(std::memory_order_relaxed);
  if (!now && at - last < kReportEveryMs) return;
  if (!last_report_ms.compare_exchange_strong(last, at)) return;
  const uint64_t lines = full + failed - reported_drops.exchange(full + failed);
  if (lines == 0) return;
  logEvent(LogLevel::Warn, "revocation_log_dropped",
           {{"path", path}, {"lines", std::to_string(lines)},
            {"total_buffer_full", std::to_string(full)},
            {"total_write_failed", std::to_string(failed)}});
}

RevocationLog::RevocationLog(std::string path, std::shared_ptr<Shared> shared)
    : path_(std::move(path)), shared_(std::move(shared)) {
  writer_ = std::thread([shared = shared_] { shared->run(); });
}

Result<std::unique_ptr<RevocationLog>> RevocationLog::open(const std::string& path,
                                                           const Options& options) {
  int fd = path == "-" ? ::dup(STDOUT_FILENO) : openAppend(path);
  if (fd < 0) {
    return makeError(ErrorCategory::Config, "revocation_log",
                     "cannot open revocation log " + path + ": " + std::strerror(errno));
  }
  return std::unique_ptr<RevocationLog>(
      new RevocationLog(path, std::make_shared<Shared>(path, fd, options)));
}

RevocationLog::~RevocationLog() { close(); }

void RevocationLog::append(std::string_view line) {
  Shared& s = *shared_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    ++s.appended;
    if (!s.stopped && s.pending.size() + line.size() + 1 <= s.options.max_pending_bytes) {
      const bool was_below = s.pending.size() < s.flush_at_bytes;
      s.pending.append(line);
      s.pending.push_back('\n');
      ++s.pending_lines;
      if (was_below && s.pending.size() >= s.flush_at_bytes) s.wake.notify_one();
      return;
    }
    ++s.handled;
  }
  s.lostLines(1, s.options.dropped_buffer_full, s.dropped_buffer_full);
  s.reportDrops(false);
}

bool RevocationLog::flush(int64_t timeout_ms) {
  Shared& s = *shared_;
  std::unique_lock<std::mutex> lock(s.mu);
  const uint64_t target = s.appended;
  s.flush_asked = true;
  s.wake.notify_one();
  return s.progress.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                             [&] { return s.handled >= target || s.stopped; }) &&
         s.handled >= target;
}

Status RevocationLog::reopen() {
  if (path_ == "-") return Ok{};
  int fd = openAppend(path_);
  if (fd < 0) {
    return makeError(ErrorCategory::Config, "revocation_log",
                     "cannot reopen revocation log " + path_ + ": " + std::strerror(errno));
  }
  Shared& s = *shared_;
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.next_fd >= 0) ::close(s.next_fd);
  s.next_fd = fd;
  s.wake.notify_one();
  return Ok{};
}

void RevocationLog::close() {
  if (closed_) return;
  closed_ = true;
  Shared& s = *shared_;
  std::unique_lock<std::mutex> lock(s.mu);
  s.stopping = true;
  s.wake.notify_one();
  if (s.progress.wait_for(lock, std::chrono::milliseconds(kCloseTimeoutMs),
                          [&] { return s.stopped; })) {
    lock.unlock();
    writer_.join();
    return;
  }
  // The output has not taken a write for kCloseTimeoutMs (a reader that stopped reading):
  // leave the writer blocked in it; the process is about to exit.
  const uint64_t unwritten = s.appended - s.handled;
  lock.unlock();
  writer_.detach();
  s.reportDrops(true);
  logEvent(LogLevel::Error, "revocation_log_unflushed",
           {{"path", path_}, {"lines", std::to_string(unwritten)},
            {"detail", "the output took no write for " + std::to_string(kCloseTimeoutMs) + " ms"}});
}

uint64_t RevocationLog::dropped() const {
  return shared_->dropped_buffer_full.load(std::memory_order_relaxed) +
         shared_->dropped_write_failed.load(std::memory_order_relaxed);
}

}  // namespace ocsp
