// The answers the proxy signs with its own responder key (pki/ocsp_builder.h), read back with
// OpenSSL the way a client reads them.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <openssl/ocsp.h>
#include <openssl/sha.h>

#include <memory>
#include <string>
#include <vector>

#include "core/cert_id.h"
#include "core/ossl.h"
#include "pki/ocsp_builder.h"
#include "tests/unit/test_pki.h"

namespace ocsp {
namespace {

using namespace test;

OcspBasicRespPtr basicOf(const std::string& der, int* status = nullptr) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  OcspResponsePtr resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  REQUIRE(resp);
  if (status != nullptr) *status = OCSP_response_status(resp.get());
  OcspBasicRespPtr bs(OCSP_response_get1_basic(resp.get()));
  REQUIRE(bs);
  return bs;
}

int64_t epochOf(const ASN1_TIME* t) {
  auto e = asn1ToEpoch(t);
  REQUIRE(e.has_value());
  return *e;
}

struct Fixture {
  Identity ca = issue({.cn = "CRL-only CA", .ca = true}, nullptr);
  // The responder is independent of the CA: self-signed, as `responder-key new` makes it.
  Identity responder = issue({.cn = "local responder", .ocsp_signing = true}, nullptr);
  ResponderCredentials creds = credentialsOf(responder);
  CertIdInfo good_id = infoOf(certIdFor(ca, 11));
  CertIdInfo revoked_id = infoOf(certIdFor(ca, 12, EVP_sha256()));
  CertIdInfo unknown_id = infoOf(certIdFor(ca, 13));

  OcspBuildInput input() const {
    OcspBuildInput in;
    in.singles = {{&good_id, CertStatus::Good, {}},
                  {&revoked_id, CertStatus::Revoked, {kT - 5 * kDay, 1}},
                  {&unknown_id, CertStatus::Unknown, {}}};
    in.produced_at = kT + 60;
    in.this_update = kT - 3600;
    in.next_update = kT + 7 * kDay;
    in.signer = &creds;
    return in;
  }
};

TEST_CASE("each CertID is answered in order with its status, times and the client's DER") {
  Fixture f;
  auto der = buildOcspResponse(f.input());
  REQUIRE_MESSAGE(der.ok(), der.error().detail);
  int status = -1;
  auto bs = basicOf(*der, &status);
  CHECK(status == OCSP_RESPONSE_STATUS_SUCCESSFUL);
  REQUIRE(OCSP_resp_count(bs.get()) == 3);
  CHECK(epochOf(OCSP_resp_get0_produced_at(bs.get())) == kT + 60);

  const CertIdInfo* expected_ids[] = {&f.good_id, &f.revoked_id, &f.unknown_id};
  const int expected_status[] = {V_OCSP_CERTSTATUS_GOOD, V_OCSP_CERTSTATUS_REVOKED,
                                 V_OCSP_CERTSTATUS_UNKNOWN};
  for (int i = 0; i < 3; ++i) {
    OCSP_SINGLERESP* single = OCSP_resp_get0(bs.get(), i);
    CertIdInfo got;
    REQUIRE(certIdInfoFrom(OCSP_SINGLERESP_get0_id(single), &got));
    CHECK(got.der == expected_ids[i]->der);
    int reason = -2;
    ASN1_GENERALIZEDTIME* revoked_at = nullptr;
    ASN1_GENERALIZEDTIME* this_update = nullptr;
    ASN1_GENERALIZEDTIME* next_update = nullptr;
    CHECK(OCSP_single_get0_status(single, &reason, &revoked_at, &this_update, &next_update) ==
          expected_status[i]);
    CHECK(epochOf(this_update) == kT - 3600);
    CHECK(epochOf(next_update) == kT + 7 * kDay);
    // RFC 6960 §4.2.1: times are GeneralizedTime.
    CHECK(ASN1_STRING_type(this_update) == V_ASN1_GENERALIZEDTIME);
    if (i == 1) {
      CHECK(epochOf(revoked_at) == kT - 5 * kDay);
      CHECK(reason == 1);  // keyCompromise
    }
  }
}

TEST_CASE("a revocation without a reason has no revocationReason") {
  Fixture f;
  OcspBuildInput in = f.input();
  in.singles = {{&f.revoked_id, CertStatus::Revoked, {kT - kDay, -1}}};
  auto der = buildOcspResponse(in);
  REQUIRE(der.ok());
  auto bs = basicOf(*der);
  int reason = -2;
  ASN1_GENERALIZEDTIME* revoked_at = nullptr;
  CHECK(OCSP_single_get0_status(OCSP_resp_get0(bs.get(), 0), &reason, &revoked_at, nullptr,
                                nullptr) == V_OCSP_CERTSTATUS_REVOKED);
  CHECK(reason == OCSP_REVOKED_STATUS_NOSTATUS);
}

TEST_CASE("ResponderID byKey, SHA-256 signature, the responder certificate embedded, no nonce") {
  Fixture f;
  auto der = buildOcspResponse(f.input());
  REQUIRE(der.ok());
  auto bs = basicOf(*der);

  const ASN1_OCTET_STRING* key_hash = nullptr;
  const X509_NAME* name = nullptr;
  REQUIRE(OCSP_resp_get0_id(bs.get(), &key_hash, &name) == 1);
  REQUIRE(key_hash != nullptr);
  CHECK(name == nullptr);
  // RFC 6960 §4.2.2.3: SHA-1 of the value of the BIT STRING subjectPublicKey.
  const ASN1_BIT_STRING* spk = X509_get0_pubkey_bitstr(f.responder.cert.get());
  unsigned char sha1[SHA_DIGEST_LENGTH];
  SHA1(ASN1_STRING_get0_data(spk), static_cast<size_t>(ASN1_STRING_length(spk)), sha1);
  CHECK(asn1Bytes(key_hash) == std::string_view(reinterpret_cast<char*>(sha1), sizeof(sha1)));

  CHECK(OBJ_obj2nid(OCSP_resp_get0_tbs_sigalg(bs.get())->algorithm) == NID_ecdsa_with_SHA256);
  const STACK_OF(X509)* certs = OCSP_resp_get0_certs(bs.get());
  REQUIRE(sk_X509_num(certs) == 1);
  CHECK(toDer(sk_X509_value(certs, 0), i2d_X509) == f.creds.cert_der);
  CHECK(OCSP_BASICRESP_get_ext_by_NID(bs.get(), NID_id_pkix_OCSP_Nonce, -1) < 0);

  // What `openssl ocsp -VAfile responder.pem` does: the responder certificate trusted as is.
  X509StorePtr store(X509_STORE_new());
  X509StackPtr trusted(sk_X509_new_null());
  REQUIRE(X509_up_ref(f.responder.cert.get()) == 1);
  sk_X509_push(trusted.get(), f.responder.cert.get());
  CHECK(OCSP_basic_verify(bs.get(), trusted.get(), store.get(), OCSP_TRUSTOTHER) == 1);
  // Someone else's key does not verify it.
  Identity other = issue({.cn = "local responder", .ocsp_signing = true}, nullptr);
  CHECK(OCSP_basic_verify(bs.get(), nullptr, store.get(), OCSP_NOVERIFY) == 1);  // embedded
  X509StackPtr wrong(sk_X509_new_null());
  REQUIRE(X509_up_ref(other.cert.get()) == 1);
  sk_X509_push(wrong.get(), other.cert.get());
  CHECK(OCSP_basic_verify(bs.get(), wrong.get(), store.get(), OCSP_NOINTERN | OCSP_TRUSTOTHER) !=
        1);
  ERR_clear_error();
}

TEST_CASE("an RSA responder key signs with SHA-256 too") {
  Fixture f;
  EvpPkeyPtr rsa(EVP_RSA_gen(2048));
  REQUIRE(rsa);
  Identity responder =
      issue({.cn = "rsa responder", .ocsp_signing = true, .key = rsa.get()}, nullptr);
  ResponderCredentials creds = credentialsOf(responder);
  OcspBuildInput in = f.input();
  in.signer = &creds;
  auto der = buildOcspResponse(in);
  REQUIRE(der.ok());
  CHECK(OBJ_obj2nid(OCSP_resp_get0_tbs_sigalg(basicOf(*der).get())->algorithm) ==
        NID_sha256WithRSAEncryption);
}

TEST_CASE("input that breaks a rule is build_failed, not a signed answer") {
  Fixture f;
  auto code = [](const OcspBuildInput& in) {
    auto r = buildOcspResponse(in);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().category == ErrorCategory::Internal);
    return r.error().code;
  };
  OcspBuildInput none = f.input();
  none.singles.clear();
  CHECK(code(none) == "build_failed");
  OcspBuildInput unsigned_input = f.input();
  unsigned_input.signer = nullptr;
  CHECK(code(unsigned_input) == "build_failed");
  OcspBuildInput backwards = f.input();
  backwards.next_update = backwards.this_update;
  CHECK(code(backwards) == "build_failed");
  OcspBuildInput bad_reason = f.input();
  bad_reason.singles[1].revocation.reason = 7;  // unused in RFC 5280 §5.3.1
  CHECK(code(bad_reason) == "build_failed");
  OcspBuildInput no_id = f.input();
  no_id.singles[0].cert_id = nullptr;
  CHECK(code(no_id) == "build_failed");
}

}  // namespace
}  // namespace ocsp
