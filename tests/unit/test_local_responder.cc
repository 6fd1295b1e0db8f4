// The proxy's own responder (ValidationInput::local_responder, docs/ARCHITECTURE.md §8): the
// answers the CRL bridge signs (pki/ocsp_builder.h) validate for any issuer with exactly that
// certificate configured, and for nothing else; the validation memo keeps them apart.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/cert_id.h"
#include "core/ossl.h"
#include "pki/ocsp_builder.h"
#include "pki/validation_memo.h"
#include "pki/validator.h"
#include "tests/unit/test_pki.h"

namespace ocsp {
namespace {

using namespace test;

std::string codeOf(const Result<ValidatedResponse>& r) { return r.ok() ? "ok" : r.error().code; }

// A CA that publishes only CRLs, and the proxy's self-signed responder that answers for it.
struct Bridge {
  Identity ca = issue({.cn = "CRL-only CA", .ca = true}, nullptr);
  Identity responder = issue({.cn = "local responder", .ocsp_signing = true}, nullptr);
  ResponderCredentials creds = credentialsOf(responder);
  std::vector<CertIdInfo> asked = {infoOf(certIdFor(ca, 21)), infoOf(certIdFor(ca, 22))};

  std::string answer(const ResponderCredentials& signer) const {
    OcspBuildInput in;
    in.singles = {{&asked[0], CertStatus::Revoked, {kT - 2 * kDay, 4}},
                  {&asked[1], CertStatus::Good, {}}};
    in.produced_at = kT + 60;  // "20270115080100Z"
    in.this_update = kT - 3600;
    in.next_update = kT + kDay;
    in.signer = &signer;
    auto der = buildOcspResponse(in);
    REQUIRE_MESSAGE(der.ok(), der.error().detail);
    return *der;
  }
  std::string answer() const { return answer(creds); }

  ValidationInput input(const std::string& der, X509* local, int64_t now = kT) const {
    ValidationInput in;
    in.der = der;
    in.cert_ids = &asked;
    in.issuer = ca.cert.get();
    in.now = now;
    in.local_responder = local;
    return in;
  }
};

TEST_CASE("an answer the local responder signed validates for the CA it answers about") {
  Bridge b;
  std::string der = b.answer();
  auto v = validateResponse(b.input(der, b.responder.cert.get()));
  REQUIRE_MESSAGE(v.ok(), v.error().detail);
  CHECK(v->status == CertStatus::Revoked);
  REQUIRE(v->revocation.has_value());
  CHECK(v->revocation->time == kT - 2 * kDay);
  CHECK(v->revocation->reason == 4);
  CHECK(v->produced_at == kT + 60);
  CHECK(v->next_update == kT + kDay);
  CHECK_FALSE(v->delegated);

  // Any issuer: the same responder answers for another CA too.
  Identity other_ca = issue({.cn = "another CRL-only CA", .ca = true}, nullptr);
  std::vector<CertIdInfo> other_asked = {infoOf(certIdFor(other_ca, 5))};
  OcspBuildInput in;
  in.singles = {{&other_asked[0], CertStatus::Unknown, {}}};
  in.produced_at = kT;
  in.this_update = kT - 60;
  in.next_update = kT + kDay;
  in.signer = &b.creds;
  auto unknown = buildOcspResponse(in);
  REQUIRE(unknown.ok());
  ValidationInput for_other = b.input(*unknown, b.responder.cert.get());
  for_other.cert_ids = &other_asked;
  for_other.issuer = other_ca.cert.get();
  auto v2 = validateResponse(for_other);
  REQUIRE_MESSAGE(v2.ok(), v2.error().detail);
  CHECK(v2->status == CertStatus::Unknown);
}

TEST_CASE("without the local responder configured its answers are refused") {
  Bridge b;
  std::string der = b.answer();
  // The embedded self-signed certificate is taken for a delegated responder the CA never
  // issued (RFC 6960 §4.2.2.2).
  auto v = validateResponse(b.input(der, nullptr));
  CHECK(codeOf(v) == "responder_not_issued_by_issuer");
}

TEST_CASE("another local responder, even one for the same key, does not accept them") {
  Bridge b;
  std::string der = b.answer();
  Identity stranger = issue({.cn = "local responder", .ocsp_signing = true}, nullptr);
  CHECK(codeOf(validateResponse(b.input(der, stranger.cert.get()))) ==
        "responder_not_issued_by_issuer");
  // A second certificate for the responder's key and name: not the configured certificate.
  Identity reissued =
      issue({.cn = "local responder", .ocsp_signing = true, .key = b.responder.key.get()}, nullptr);
  CHECK(codeOf(validateResponse(b.input(der, reissued.cert.get()))) ==
        "responder_not_issued_by_issuer");
}

TEST_CASE("a tampered answer is a bad signature") {
  Bridge b;
  std::string der = b.answer();
  // producedAt 08:01:00 -> 08:02:00: still DER, no longer what was signed.
  size_t at = der.find("20270115080100Z");
  REQUIRE(at != std::string::npos);
  der[at + 11] = '2';
  auto v = validateResponse(b.input(der, b.responder.cert.get()));
  CHECK(codeOf(v) == "bad_signature");
}

TEST_CASE("an answer by the responder's key without its certificate goes by the CA rules") {
  Bridge b;
  OcspCertIdPtr first = certIdFor(b.ca, 21);
  OcspCertIdPtr second = certIdFor(b.ca, 22);
  std::string der = makeResponse({{first.get()}, {second.get()}}, b.responder,
                                 {.flags = OCSP_NOCERTS | OCSP_RESPID_KEY});
  CHECK(codeOf(validateResponse(b.input(der, b.responder.cert.get()))) == "signer_not_found");
}

TEST_CASE("every other rule still applies to the local responder's answers") {
  Bridge b;
  std::string der = b.answer();
  X509* local = b.responder.cert.get();
  CHECK(codeOf(validateResponse(b.input(der, local, kT + kDay))) == "expired");
  CHECK(codeOf(validateResponse(b.input(der, local, kT - 3600 - 301))) == "this_update_in_future");
  ValidationInput fewer = b.input(der, local);
  std::vector<CertIdInfo> one = {b.asked[0]};
  fewer.cert_ids = &one;
  CHECK(codeOf(validateResponse(fewer)) == "certid_mismatch");
}

TEST_CASE("the CA's own answers still validate with a local responder configured") {
  Bridge b;
  OcspCertIdPtr first = certIdFor(b.ca, 21);
  OcspCertIdPtr second = certIdFor(b.ca, 22);
  std::string der = makeResponse({{first.get()}, {second.get()}}, b.ca);
  auto v = validateResponse(b.input(der, b.responder.cert.get()));
  REQUIRE_MESSAGE(v.ok(), v.error().detail);
  CHECK_FALSE(v->delegated);
}

TEST_CASE("the memo never carries an acceptance over to another local responder or to none") {
  Bridge b;
  std::string der = b.answer();
  Identity stranger = issue({.cn = "local responder", .ocsp_signing = true}, nullptr);
  ValidationMemo memo(1024);
  CHECK(codeOf(memo.validate(b.input(der, b.responder.cert.get()))) == "ok");
  CHECK(codeOf(memo.validate(b.input(der, b.responder.cert.get()))) == "ok");
  CHECK(memo.stats().hits == 1);
  CHECK(codeOf(memo.validate(b.input(der, stranger.cert.get()))) ==
        "responder_not_issued_by_issuer");
  CHECK(codeOf(memo.validate(b.input(der, nullptr))) == "responder_not_issued_by_issuer");
  CHECK(memo.stats().hits == 1);
  CHECK(memo.stats().misses == 3);
}

}  // namespace
}  // namespace ocsp
