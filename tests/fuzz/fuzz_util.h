#pragma once
// Shared by the libFuzzer targets in tests/fuzz/fuzz_*.cc: where their fixed inputs live and
// how a broken invariant stops the run. A target fails on a sanitizer report, an uncaught
// exception, or a FUZZ_CHECK: libFuzzer then saves the input as crash-<sha1> (see
// tests/fuzz/run_fuzz.sh for where CI keeps it).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/ossl.h"

namespace ocsp::fuzz {

// A file under tests/data/real (env OCSP_TESTDATA_REAL overrides the path meson
// compiled in, as for the unit tests).
std::string realData(const std::string& relative);
// tests/fuzz/pki, the generated PKI made by tests/fuzz/make_corpus.sh, and a file in it.
std::string pkiDir();
std::string pkiFile(const std::string& name);
// Start-up only: these abort with a message when the file is missing or unreadable, since a
// target without its fixed inputs would fuzz nothing of interest.
std::string readFile(const std::string& path);
X509Ptr loadCert(const std::string& path);  // the first certificate, PEM or DER

// Prints the failed condition and aborts, so libFuzzer records the input as a crash.
[[noreturn]] void broken(const char* file, int line, const char* condition);

inline std::string_view asView(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace ocsp::fuzz

#define FUZZ_CHECK(condition) \
  ((condition) ? static_cast<void>(0) : ::ocsp::fuzz::broken(__FILE__, __LINE__, #condition))
