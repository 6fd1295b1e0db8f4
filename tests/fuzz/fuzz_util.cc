#include "tests/fuzz/fuzz_util.h"

#include <cstdio>
#include <cstdlib>

namespace ocsp::fuzz {

namespace {

[[noreturn]] void startupFailure(const std::string& what) {
  std::fprintf(stderr, "fuzz target set-up: %s\n", what.c_str());
  std::abort();
}

}  // namespace

std::string realData(const std::string& relative) {
  const char* dir = std::getenv("OCSP_TESTDATA_REAL");
  return std::string(dir != nullptr ? dir : OCSP_FUZZ_REAL_DATA) + "/" + relative;
}

std::string pkiDir() { return OCSP_FUZZ_PKI_DIR; }

std::string pkiFile(const std::string& name) { return pkiDir() + "/" + name; }

std::string readFile(const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "rb"));
  if (!bio) startupFailure("cannot read " + path);
  std::string out;
  char buf[4096];
  int n;
  while ((n = BIO_read(bio.get(), buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

X509Ptr loadCert(const std::string& path) {
  std::string why;
  std::vector<X509Ptr> certs = readCertificates(path, &why);
  if (certs.empty()) startupFailure("no certificate in " + path + ": " + why);
  return std::move(certs.front());
}

void broken(const char* file, int line, const char* condition) {
  std::fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, condition);
  std::abort();
}

}  // namespace ocsp::fuzz
