#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
// What a caIssuers download must be before the forward proxy caches or serves it
// (docs/ARCHITECTURE.md §8): real CA certificates, PKCS#7 bundles made from them by the
// OpenSSL CLI as CAs make their .p7c files, and the things a caIssuers URL answers instead
// (an HTML error page, a CRL, a truncated download).
#include <doctest/doctest.h>
#include <openssl/err.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "cache/crl_store.h"
#include "core/log.h"
#include "core/ossl.h"
#include "pki/ca_issuers_document.h"
#include "tests/unit/test_util.h"

namespace ocsp {
namespace {

using test::readFile;
using test::realData;

const std::string kQuoVadis = "openjdk-certification-tests/QuoVadis_Global_SSL_ICA_G3.pem";
const std::string kLetsEncrypt = "pyca-cryptography-vectors/certs/letsencryptx3.pem";

// What `command` writes to stdout (binary safe).
std::string outputOf(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe.get())) > 0) out.append(buf, n);
  return out;
}

// A certs-only PKCS#7 of both real intermediates, as `openssl crl2pkcs7 -nocrl` makes it.
std::string bundle(const char* outform) {
  std::string out =
      outputOf("openssl crl2pkcs7 -nocrl -outform " + std::string(outform) + " -certfile " +
               realData(kQuoVadis) + " -certfile " + realData(kLetsEncrypt));
  REQUIRE(!out.empty());
  return out;
}

std::string derOf(const std::string& pem_file) {
  return outputOf("openssl x509 -outform DER -in " + realData(pem_file));
}

}  // namespace

TEST_CASE("a real certificate in DER or PEM is a caIssuers document") {
  const std::string der = derOf(kQuoVadis);
  auto d = checkCaIssuersDocument(der);
  REQUIRE_MESSAGE(d.ok(), d.error().detail);
  CHECK(d->form == CaIssuersForm::Certificate);
  CHECK(std::string(contentTypeOf(d->form)) == "application/pkix-cert");
  CHECK(d->certificates == 1);
  CHECK(d->subject == "CN=QuoVadis Global SSL ICA G3,O=QuoVadis Limited,C=BM");
  CHECK(d->not_before == 1352213418);  // Nov  6 14:50:18 2012 GMT, as openssl x509 -dates says
  CHECK(d->not_after == 1667746218);   // Nov  6 14:50:18 2022 GMT

  auto pem = checkCaIssuersDocument(readFile(realData(kQuoVadis)));
  REQUIRE(pem.ok());
  CHECK(pem->form == CaIssuersForm::Pem);
  CHECK(std::string(contentTypeOf(pem->form)) == "application/x-pem-file");
  CHECK(pem->not_after == d->not_after);
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE(
    "a certs-only PKCS#7 bundle in DER or PEM is a caIssuers document of all its certificates") {
  auto der = checkCaIssuersDocument(bundle("DER"));
  REQUIRE_MESSAGE(der.ok(), der.error().detail);
  CHECK(der->form == CaIssuersForm::Pkcs7);
  CHECK(std::string(contentTypeOf(der->form)) == "application/pkcs7-mime");
  CHECK(der->certificates == 2);
  auto one = checkCaIssuersDocument(derOf(kQuoVadis));
  auto other = checkCaIssuersDocument(derOf(kLetsEncrypt));
  REQUIRE(one.ok());
  REQUIRE(other.ok());
  // The bundle is good only as long as its first certificate to expire.
  CHECK(der->not_after == std::min(one->not_after, other->not_after));
  CHECK(der->not_before == std::max(one->not_before, other->not_before));

  auto pem = checkCaIssuersDocument(bundle("PEM"));
  REQUIRE_MESSAGE(pem.ok(), pem.error().detail);
  CHECK(pem->form == CaIssuersForm::Pem);
  CHECK(pem->certificates == 2);
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("what is not a certificate or a bundle of them is refused as not_a_certificate") {
  const std::string der = derOf(kQuoVadis);
  const std::string p7c = bundle("DER");
  struct Row {
    const char* what;
    std::string bytes;
  };
  const Row rows[] = {
      {"an HTML error page",
       "<!DOCTYPE html><html><head><title>404 Not Found</title></head><body></body></html>"},
      {"a real CRL (PEM)", readFile(realData("pyca-cryptography-vectors/crl/crl_all_reasons.pem"))},
      {"a real CRL (DER)", outputOf("openssl crl -outform DER -in " +
                                    realData("pyca-cryptography-vectors/crl/crl_all_reasons.pem"))},
      {"a truncated DER certificate", der.substr(0, der.size() / 2)},
      {"a truncated PKCS#7 bundle", p7c.substr(0, p7c.size() - 10)},
      {"a DER certificate with bytes behind it", der + "garbage"},
      {"garbage", std::string("\x30\x03\x02\x01\x05", 5)},
      {"nothing", ""},
  };
  for (const Row& row : rows) {
    CAPTURE(row.what);
    auto d = checkCaIssuersDocument(row.bytes);
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().code == "not_a_certificate");
    CHECK(d.error().category == ErrorCategory::ValidationFailed);
    CHECK(ERR_peek_error() == 0);
  }
}

}  // namespace ocsp

namespace ocsp {

TEST_CASE(
    "a caIssuers document is kept forward.aia_ttl after its download, never past a notAfter") {
  auto doc = checkCaIssuersDocument(derOf(kQuoVadis));
  REQUIRE(doc.ok());
  auto entryAt = [&](int64_t fetched_at) {
    CrlEntry e;
    e.kind = DocKind::CaIssuers;
    e.ca_issuers = *doc;
    e.bytes = derOf(kQuoVadis);
    e.fetched_at = fetched_at;
    finishCrlEntry(e, 86400, 0.5);
    return e;
  };
  const int64_t year_before = doc->not_after - 365 * 86400;
  CrlEntry early = entryAt(year_before);
  CHECK(early.hard_expiry == year_before + 86400);
  CHECK(early.refresh_at == year_before + 43200);
  CHECK(early.last_modified == httpDate(doc->not_before));
  CrlEntry late = entryAt(doc->not_after - 600);
  CHECK(late.hard_expiry == doc->not_after);
  // Downloaded after its certificate expired: handed to the clients waiting, kept nowhere.
  CrlEntry expired = entryAt(doc->not_after + 1);
  CHECK(expired.hard_expiry <= expired.fetched_at);
  CrlStore store(1u << 20);
  store.put(std::make_shared<const CrlEntry>(expired));
  CHECK(store.get(expired.url, expired.fetched_at) == nullptr);
}

}  // namespace ocsp
