#include "tests/unit/test_util.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

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

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read test fixture " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace ocsp::test
