#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
// The revocation log's writer (proxy/revocation_log.h): append() never waits on the output,
// the buffer is bounded and drops are counted, and only whole lines reach the file when the
// disk fills up (every line stays readable by `ocsp-proxy report`).
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/metrics.h"
#include "proxy/revocation_log.h"
#include "tests/unit/test_util.h"
#include "tools/log_record.h"

namespace ocsp {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "revlog-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path); }
  fs::path path;
};

// A revocation-log line as the proxy writes it, for the `n`th answer.
std::string recordLine(int n) {
  CertIdInfo id;
  id.hash_nid = NID_sha1;
  id.issuer_key_hash = std::string(20, '\x11');
  id.issuer_name_hash = std::string(20, '\x22');
  id.serial = std::string(1, static_cast<char>(n & 0x7f)) + std::string(15, '\x33');
  RevocationRecord r;
  r.time_ms = 1'795'000'000'000 + n;
  r.client = "10.0.0.5:51234";
  r.upstream = "digicert";
  r.upstream_fqdn = "ocsp.digicert.com";
  r.issuer = "CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1,O=DigiCert Inc,C=US";
  r.cert_id = &id;
  r.status = CertStatus::Good;
  r.source = AnswerSource::Upstream;
  return formatRevocationRecord(r);
}

std::vector<std::string> linesOf(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A disk with `g_space` bytes left: a write takes what fits and then fails with ENOSPC, as
// write(2) does on a full file system.
std::atomic<long> g_space{0};
ssize_t writeToSmallDisk(int fd, const void* data, size_t size) {
  const long space = g_space.load();
  if (space <= 0) {
    errno = ENOSPC;
    return -1;
  }
  const size_t n = std::min(size, static_cast<size_t>(space));
  ssize_t written = ::write(fd, data, n);
  if (written > 0) g_space -= written;
  return written;
}

// An output nobody reads: every write blocks until the test lets it go.
std::mutex g_stall_mu;
std::condition_variable g_stall_cv;
bool g_stalled = true;
int g_blocked_writes = 0;
ssize_t writeToStalledReader(int, const void*, size_t size) {
  std::unique_lock<std::mutex> lock(g_stall_mu);
  ++g_blocked_writes;
  g_stall_cv.wait(lock, [] { return !g_stalled; });
  return static_cast<ssize_t>(size);
}

TEST_CASE("an upstream_fqdn with bytes that are not UTF-8 is written as \\xNN and the line stays valid JSON") {
  CertIdInfo id;
  id.hash_nid = NID_sha1;
  id.issuer_key_hash = std::string(20, '\x11');
  id.serial = "\x0a";
  RevocationRecord r;
  r.client = "10.0.0.5:51234";
  r.upstream = "digicert";
  r.upstream_fqdn = "ocsp.caf\xe9.test\xff";  // as read from a Redis entry
  r.issuer = "CN=Soci\xc3\xa9t\xc3\xa9";
  r.cert_id = &id;
  r.status = CertStatus::Revoked;
  r.revocation = Revocation{1'790'000'000, 1};
  r.source = AnswerSource::Redis;
  const std::string line = formatRevocationRecord(r);
  CHECK(line.find("\"upstream_fqdn\":\"ocsp.caf\\\\xe9.test\\\\xff\"") != std::string::npos);
  report::LogRecordParser parser;
  report::Answer answer;
  const report::Problem problem = parser.parse(line, answer);
  REQUIRE_MESSAGE(problem.fault == nullptr, report::describe(problem));
  CHECK(answer.status == report::kRevoked);
  CHECK(answer.fqdn == "ocsp.caf\\xe9.test\\xff");
  CHECK(answer.issuer == "CN=Soci\xc3\xa9t\xc3\xa9");
  CHECK_FALSE(answer.invalid_utf8);  // nothing raw left for the report to repair
}

TEST_CASE("after the disk filled up, every line of the log is whole and the lost ones are counted") {
  TempDir dir;
  const std::string path = (dir.path / "revocations.jsonl").string();
  Metrics metrics;
  Counter& failed = metrics.counter(Metric::RevocationLogDropped, {"write_failed"});
  RevocationLog::Options options;
  options.write = &writeToSmallDisk;
  options.dropped_write_failed = &failed;
  const size_t line_bytes = recordLine(0).size() + 1;
  g_space = static_cast<long>(line_bytes * 3 + line_bytes / 2);  // room for 3.5 lines
  auto log = RevocationLog::open(path, options);
  REQUIRE(log);
  test::StderrCapture stderr_lines;
  for (int i = 0; i < 10; ++i) (*log)->append(recordLine(i));
  REQUIRE((*log)->flush());

  g_space = 1 << 20;  // space was freed
  for (int i = 10; i < 12; ++i) (*log)->append(recordLine(i));
  REQUIRE((*log)->flush());
  (*log)->close();

  const std::vector<std::string> lines = linesOf(test::readFile(path));
  report::LogRecordParser parser;
  for (const std::string& line : lines) {
    report::Answer answer;
    const report::Problem problem = parser.parse(line, answer);
    INFO(line);
    CHECK_MESSAGE(problem.fault == nullptr, report::describe(problem));
  }
  REQUIRE(lines.size() == 5);
  CHECK(lines[0] == recordLine(0));
  CHECK(lines[2] == recordLine(2));
  CHECK(lines[3] == recordLine(10));
  CHECK(lines[4] == recordLine(11));
  CHECK(failed.value() == 7);
  CHECK((*log)->dropped() == 7);
  CHECK(stderr_lines.count({"event=revocation_log_write_failed", "detail=\"No space left on device\""}) == 1);
  CHECK(stderr_lines.count({"event=revocation_log_dropped"}) >= 1);
}

TEST_CASE("a line cut off where the file cannot be truncated ends before the next record starts") {
  // /dev/full-like output that is not a regular file: ftruncate fails, so the next write
  // must begin on a new line.
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const std::string line_path = "/proc/self/fd/" + std::to_string(fds[1]);
  RevocationLog::Options options;
  options.write = &writeToSmallDisk;
  const size_t line_bytes = recordLine(0).size() + 1;
  g_space = static_cast<long>(line_bytes + line_bytes / 2);
  auto log = RevocationLog::open(line_path, options);
  REQUIRE(log);
  test::StderrCapture quiet;
  (*log)->append(recordLine(0));
  (*log)->append(recordLine(1));
  REQUIRE((*log)->flush());
  g_space = 1 << 20;
  (*log)->append(recordLine(2));
  REQUIRE((*log)->flush());
  (*log)->close();
  ::close(fds[1]);
  std::string text(1 << 16, '\0');
  const ssize_t n = ::read(fds[0], text.data(), text.size());
  ::close(fds[0]);
  REQUIRE(n > 0);
  text.resize(static_cast<size_t>(n));
  const std::vector<std::string> lines = linesOf(text);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == recordLine(0));
  CHECK(lines[1] == recordLine(1).substr(0, line_bytes / 2));  // the fragment, on its own
  CHECK(lines[2] == recordLine(2));
  CHECK((*log)->dropped() == 1);
}

TEST_CASE("append never waits for an output that stopped reading; lines past the bound are dropped and counted") {
  TempDir dir;
  Metrics metrics;
  Counter& full = metrics.counter(Metric::RevocationLogDropped, {"buffer_full"});
  RevocationLog::Options options;
  options.write = &writeToStalledReader;
  options.max_pending_bytes = 64 * 1024;
  options.dropped_buffer_full = &full;
  auto log = RevocationLog::open((dir.path / "r.jsonl").string(), options);
  REQUIRE(log);
  test::StderrCapture stderr_lines;
  const std::string line = recordLine(1);
  // Enough to start a write (64 KiB pending), which then blocks.
  for (size_t bytes = 0; bytes < 70 * 1024; bytes += line.size() + 1) (*log)->append(line);
  auto blocked = [] {
    std::lock_guard<std::mutex> lock(g_stall_mu);
    return g_blocked_writes > 0;
  };
  for (int i = 0; i < 1000 && !blocked(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(blocked());
  const auto started = std::chrono::steady_clock::now();
  constexpr int kLines = 20'000;
  for (int i = 0; i < kLines; ++i) (*log)->append(line);
  const auto took = std::chrono::steady_clock::now() - started;
  // 20,000 copies into memory; a wait on the stalled write would never end.
  CHECK(took < std::chrono::seconds(5));
  const uint64_t buffered = (64 * 1024) / (line.size() + 1);
  CHECK(full.value() >= kLines - buffered);
  CHECK(full.value() <= kLines);
  CHECK((*log)->flush(200) == false);  // the output still takes nothing
  {
    std::lock_guard<std::mutex> lock(g_stall_mu);
    g_stalled = false;
  }
  g_stall_cv.notify_all();
  CHECK((*log)->flush());
  (*log)->close();
  // One line when the drops began and one at close with the rest: never one per line.
  CHECK(stderr_lines.count({"event=revocation_log_dropped"}) >= 1);
  CHECK(stderr_lines.count({"event=revocation_log_dropped"}) <= 2);
}

}  // namespace
}  // namespace ocsp
