#pragma once
// Helpers shared by the unit tests: locating fixtures and reading files.
#include <string>

namespace ocsp::test {

// Path under ../shared/testdata/real (env OCSP_TESTDATA_REAL, set by meson). Fails the test
// run loudly if the directory is missing: real data is part of the suite, never skipped.
std::string realData(const std::string& relative);
// Path under the source tree (env OCSP_SOURCE_ROOT).
std::string sourcePath(const std::string& relative);
std::string readFile(const std::string& path);

}  // namespace ocsp::test
