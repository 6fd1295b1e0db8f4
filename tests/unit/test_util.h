#pragma once
// Helpers shared by the unit tests: locating fixtures and reading files.
#include <event2/event.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.h"

namespace ocsp::test {

// Path under tests/data/real (env OCSP_TESTDATA_REAL, set by meson). Fails the test
// run loudly if the directory is missing: real data is part of the suite, never skipped.
std::string realData(const std::string& relative);
// Path under the source tree (env OCSP_SOURCE_ROOT).
std::string sourcePath(const std::string& relative);
std::string readFile(const std::string& path);

// A fresh directory under the system's temporary directory, removed with everything in it
// when the object goes. `prefix` starts its name.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "ocsp-proxy-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Writes `content` to the file `name` in it; its path.
  std::string write(const std::string& name, const std::string& content) const;

  std::string path;
};

// An upstream as the config loader would give it: `name`, its FQDNs, port 80, no issuers.
conf::Upstream upstreamAt(const std::string& name, std::vector<std::string> fqdns);

// Runs `base` until `done()` holds or `timeout_ms` has passed; true if done. The timeout is
// a safety net for a broken test, never what a test waits for.
bool loopUntil(event_base* base, const std::function<bool()>& done, int64_t timeout_ms);

// Everything written to stderr (where logEvent writes) while it is alive.
class StderrCapture {
 public:
  StderrCapture();
  ~StderrCapture();
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;

  std::string text() const;
  // Lines that contain every one of `parts`.
  int count(std::initializer_list<std::string_view> parts) const;

 private:
  int fd_ = -1;
  int saved_ = -1;
};

}  // namespace ocsp::test
