#include "tests/unit/test_util.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/clock.h"
#include "core/handles.h"

namespace ocsp::test {

namespace {
std::string envDir(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    throw std::runtime_error(std::string(name) + " is not set (run the tests with meson test)");
  }
  return v;
}
}  // namespace

std::string realData(const std::string& relative) {
  return envDir("OCSP_TESTDATA_REAL") + "/" + relative;
}

std::string sourcePath(const std::string& relative) {
  return envDir("OCSP_SOURCE_ROOT") + "/" + relative;
}

TempDir::TempDir(const std::string& prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

std::string TempDir::write(const std::string& name, const std::string& content) const {
  std::string file = path + "/" + name;
  std::ofstream(file, std::ios::binary) << content;
  return file;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read test fixture " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

StderrCapture::StderrCapture() {
  char name[] = "/tmp/ocsp_test_stderr.XXXXXX";
  fd_ = mkstemp(name);
  if (fd_ < 0) throw std::runtime_error("mkstemp failed");
  unlink(name);
  std::fflush(stderr);
  saved_ = dup(STDERR_FILENO);
  dup2(fd_, STDERR_FILENO);
}

StderrCapture::~StderrCapture() {
  std::fflush(stderr);
  dup2(saved_, STDERR_FILENO);
  close(saved_);
  close(fd_);
}

std::string StderrCapture::text() const {
  std::string out;
  char buf[4096];
  ssize_t n;
  for (off_t at = 0; (n = pread(fd_, buf, sizeof(buf), at)) > 0; at += n) {
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

int StderrCapture::count(std::initializer_list<std::string_view> parts) const {
  int n = 0;
  std::string all = text();
  size_t start = 0;
  while (start < all.size()) {
    size_t end = all.find('\n', start);
    if (end == std::string::npos) end = all.size();
    std::string_view line(all.data() + start, end - start);
    bool match = true;
    for (auto p : parts) match = match && line.find(p) != std::string_view::npos;
    n += match ? 1 : 0;
    start = end + 1;
  }
  return n;
}

bool loopUntil(event_base* base, const std::function<bool()>& done, int64_t timeout_ms) {
  const int64_t deadline = monotonicMs() + timeout_ms;
  // Wakes the loop every few milliseconds so that the deadline is noticed.
  EventPtr tick(evtimer_new(
      base, [](evutil_socket_t, short, void*) {}, nullptr));
  while (!done()) {
    if (monotonicMs() >= deadline) return false;
    timeval tv{0, 5'000};
    evtimer_add(tick.get(), &tv);
    event_base_loop(base, EVLOOP_ONCE);
  }
  return true;
}

conf::Upstream upstreamAt(const std::string& name, std::vector<std::string> fqdns) {
  conf::Upstream up;
  up.name = name;
  up.fqdns = std::move(fqdns);
  up.port = 80;
  return up;
}

}  // namespace ocsp::test
