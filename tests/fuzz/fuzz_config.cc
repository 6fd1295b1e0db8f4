// Fuzz target: the config loader on YAML text (conf/config.h parseConfig), both phases:
// yaml-cpp, the schema tables and every value parser, then the cross-field rules. Relative
// paths resolve against tests/fuzz/pki, so seeds can name real certificate files (ica.pem,
// root.pem, resp.pem) and reach the checks that need loaded issuers.
// Checked: nothing escapes as an exception; an error is a Config error that names the file
// and a line inside it ("fuzz.yaml:LINE: path: message", STYLE.md); an accepted config has
// an upstream.
#include <cstddef>
#include <cstdint>
#include <string>

#include "conf/config.h"
#include "core/log.h"
#include "tests/fuzz/fuzz_util.h"

namespace ocsp {
namespace {

// The line number an error names, -1 if the message does not start with "fuzz.yaml:N:".
long lineOfError(const std::string& detail) {
  const std::string prefix = "fuzz.yaml:";
  if (!detail.starts_with(prefix)) return -1;
  size_t end = detail.find(':', prefix.size());
  if (end == std::string::npos || end == prefix.size()) return -1;
  long line = 0;
  for (size_t i = prefix.size(); i < end; ++i) {
    if (detail[i] < '0' || detail[i] > '9' || line > 1'000'000'000) return -1;
    line = line * 10 + (detail[i] - '0');
  }
  return line;
}

}  // namespace
}  // namespace ocsp

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ocsp::setLogLevel(ocsp::LogLevel::Error);  // accepted configs log warnings; not of interest
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ocsp;
  const std::string text(fuzz::asView(data, size));
  // The loader reads the files a config names (operator-controlled paths). Reading a device
  // or /proc could block or never end, which says nothing about the parser.
  for (const char* special : {"/dev", "/proc", "/sys"}) {
    if (text.find(special) != std::string::npos) return 0;
  }
  auto config = conf::parseConfig(text, "fuzz.yaml", fuzz::pkiDir());
  if (!config.ok()) {
    FUZZ_CHECK(config.error().category == ErrorCategory::Config);
    // yaml-cpp ends lines at \n, \r\n and \r; the line after the last one is where an error
    // about something missing at the end points.
    long lines = 1;
    for (char c : text) lines += c == '\n' || c == '\r' ? 1 : 0;
    long line = lineOfError(config.error().detail);
    FUZZ_CHECK(line >= 1);
    FUZZ_CHECK(line <= lines + 1);
    return 0;
  }
  FUZZ_CHECK(*config != nullptr);
  FUZZ_CHECK(!(*config)->upstreams.empty());
  return 0;
}
