// Upstream response validation (docs/ARCHITECTURE.md §7): real CA and aws-lc responses, OpenSSL's
// corrupted variants, single-byte flips, and a small generated PKI for one rule at a time.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/base64.h"
#include "core/log.h"
#include "core/cert_id.h"
#include "core/ocsp_entry.h"
#include "core/ossl.h"
#include "tests/unit/test_pki.h"
#include "tests/unit/test_util.h"
#include "pki/validator.h"

namespace ocsp {
namespace {

// The generated PKI and the real data files (tests/unit/test_pki.h, test_util.h).
using namespace test;

// Fixed clocks: every `now` given to the validator is kToday, the generated PKI's kT, or read
// from the data.
constexpr int64_t kToday = 1795392000;  // 2026-11-23T00:00:00Z, when the real data was taken

// ---------------------------------------------------------------------------------------------
// Reading the real data

// OpenSSL's .ors fixtures are base64 without PEM armour; everything else is DER.
std::string loadResponse(const std::string& relative) {
  std::string bytes = readFile(realData(relative));
  if (!relative.ends_with(".ors")) return bytes;
  std::erase_if(bytes, [](char c) { return c == '\n' || c == '\r' || c == ' '; });
  auto der = base64Decode(bytes);
  REQUIRE_MESSAGE(der.has_value(), relative << " is not base64");
  return *der;
}

OcspBasicRespPtr basicOf(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  OcspResponsePtr resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  REQUIRE(resp);
  OcspBasicRespPtr bs(OCSP_response_get1_basic(resp.get()));
  REQUIRE(bs);
  return bs;
}

OcspRequestPtr parseRequest(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  OcspRequestPtr req(d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(der.size())));
  REQUIRE(req);
  return req;
}

std::vector<CertIdInfo> certIdsOfRequest(const std::string& der) {
  auto req = parseRequest(der);
  std::vector<CertIdInfo> ids;
  for (int i = 0; i < OCSP_request_onereq_count(req.get()); ++i) {
    CertIdInfo id;
    REQUIRE(certIdInfoFrom(OCSP_onereq_get0_id(OCSP_request_onereq_get0(req.get(), i)), &id));
    ids.push_back(id);
  }
  return ids;
}

// The representation validateResponse expects: the nonce extension's extnValue contents.
std::optional<std::string> nonceOf(OCSP_REQUEST* req) {
  int idx = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1);
  if (idx < 0) return std::nullopt;
  const ASN1_OCTET_STRING* v = X509_EXTENSION_get_data(OCSP_REQUEST_get_ext(req, idx));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(v)),
                     static_cast<size_t>(ASN1_STRING_length(v)));
}

std::optional<std::string> nonceOf(OCSP_BASICRESP* bs) {
  int idx = OCSP_BASICRESP_get_ext_by_NID(bs, NID_id_pkix_OCSP_Nonce, -1);
  if (idx < 0) return std::nullopt;
  const ASN1_OCTET_STRING* v = X509_EXTENSION_get_data(OCSP_BASICRESP_get_ext(bs, idx));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(v)),
                     static_cast<size_t>(ASN1_STRING_length(v)));
}

int64_t producedAtOf(const std::string& der) {
  return *asn1ToEpoch(OCSP_resp_get0_produced_at(basicOf(der).get()));
}

int64_t thisUpdateOf(const std::string& der) {
  auto bs = basicOf(der);
  ASN1_GENERALIZEDTIME* this_update = nullptr;
  OCSP_single_get0_status(OCSP_resp_get0(bs.get(), 0), nullptr, nullptr, &this_update, nullptr);
  return *asn1ToEpoch(this_update);
}

// The CertID a client would compute from the issuer certificate it holds and the serial the
// response answers: checks that the issuer file really is the CertID's issuer.
std::vector<CertIdInfo> certIdFromIssuer(X509* issuer, const std::string& der) {
  auto bs = basicOf(der);
  ASN1_OBJECT* md_oid = nullptr;
  ASN1_INTEGER* serial = nullptr;
  auto* id = const_cast<OCSP_CERTID*>(OCSP_SINGLERESP_get0_id(OCSP_resp_get0(bs.get(), 0)));
  REQUIRE(OCSP_id_get0_info(nullptr, &md_oid, nullptr, &serial, id) == 1);
  const EVP_MD* md = EVP_get_digestbyobj(md_oid);
  REQUIRE(md != nullptr);
  OcspCertIdPtr computed(
      OCSP_cert_id_new(md, X509_get_subject_name(issuer), X509_get0_pubkey_bitstr(issuer), serial));
  CertIdInfo info;
  REQUIRE(certIdInfoFrom(computed.get(), &info));
  return {info};
}

Result<ValidatedResponse> validate(const std::string& der, const std::vector<CertIdInfo>& asked,
                                   X509* issuer, int64_t now, int64_t skew_s = 300,
                                   std::optional<std::string> nonce = std::nullopt) {
  // Initialised in one go: GCC (with -fsanitize=address) reports assigning to the
  // default-constructed optional afterwards as maybe-uninitialized.
  const ValidationInput in{.der = der,
                           .cert_ids = &asked,
                           .issuer = issuer,
                           .now = now,
                           .clock_skew_s = skew_s,
                           .expected_nonce = std::move(nonce)};
  auto result = validateResponse(in);
  CHECK_MESSAGE(ERR_peek_error() == 0, "validateResponse left errors in the OpenSSL queue");
  return result;
}

// The code of a refusal; every refusal must carry its typed Reason too, named by that code
// (callers compare the Reason, the code is the metric label): else "untyped <code>".
std::string codeOf(const Result<ValidatedResponse>& r) {
  if (r.ok()) return "ok";
  const Error& e = r.error();
  return e.reason && reasonName(*e.reason) == e.code ? e.code : "untyped " + e.code;
}
std::string detailOf(const Result<ValidatedResponse>& r) {
  return r.ok() ? "accepted" : r.error().code + ": " + r.error().detail;
}

#define CHECK_CODE(result, expected) CHECK_MESSAGE(codeOf(result) == (expected), detailOf(result))

// The names are metric labels and log values that dashboards and alerts match: they do not
// change with the enum.
TEST_CASE("each refusal reason is named by the code it has always had") {
  const std::pair<Reason, const char*> names[] = {
      {Reason::Unparsable, "unparsable"},
      {Reason::UpstreamStatus, "upstream_status"},
      {Reason::NotBasic, "not_basic"},
      {Reason::SignerNotFound, "signer_not_found"},
      {Reason::ResponderNotIssuedByIssuer, "responder_not_issued_by_issuer"},
      {Reason::ResponderMissingOcspSigning, "responder_missing_ocsp_signing"},
      {Reason::ResponderCertExpired, "responder_cert_expired"},
      {Reason::BadSignature, "bad_signature"},
      {Reason::CertIdMismatch, "certid_mismatch"},
      {Reason::ThisUpdateInFuture, "this_update_in_future"},
      {Reason::Expired, "expired"},
      {Reason::NonceMismatch, "nonce_mismatch"},
      {Reason::UntrustedChain, "untrusted_chain"},
      {Reason::Internal, "internal"},
  };
  for (const auto& [reason, name] : names) {
    CHECK(std::string(reasonName(reason)) == name);
    const Error e = makeError(ErrorCategory::ValidationFailed, reason, "why");
    CHECK(e.code == name);
    CHECK(e.reason == reason);
  }
}

// ---------------------------------------------------------------------------------------------
// The generated PKI (tests/unit/test_pki.h) for the cases no real file covers.

// The request-side nonce for `raw`, in the representation validateResponse expects.
std::string requestNonce(const std::string& raw) {
  OcspRequestPtr req(OCSP_REQUEST_new());
  auto* bytes = reinterpret_cast<unsigned char*>(const_cast<char*>(raw.data()));
  REQUIRE(OCSP_request_add1_nonce(req.get(), bytes, static_cast<int>(raw.size())) == 1);
  return *nonceOf(req.get());
}

// A CA with a proper delegated responder and a TLS certificate (no id-kp-OCSPSigning); an
// unrelated rogue CA whose responder has our responder's name; and an impostor CA with our
// CA's exact name but another key.
struct TestPki {
  Identity ca = issue({.cn = "Test CA", .ca = true}, nullptr);
  Identity responder = issue({.cn = "Test OCSP responder", .ocsp_signing = true}, &ca);
  Identity tls_cert = issue({.cn = "Test TLS server"}, &ca);
  Identity rogue_ca = issue({.cn = "Rogue CA", .ca = true}, nullptr);
  Identity rogue_responder = issue({.cn = "Test OCSP responder", .ocsp_signing = true}, &rogue_ca);
  Identity ca_impostor = issue({.cn = "Test CA", .ca = true}, nullptr);
  OcspCertIdPtr id_a = certIdFor(ca, 1001);
  OcspCertIdPtr id_b = certIdFor(ca, 1002);
  OcspCertIdPtr id_a_sha256 = certIdFor(ca, 1001, EVP_sha256());

  Result<ValidatedResponse> check(const std::string& der, std::vector<CertIdInfo> asked,
                                  int64_t now = kT + 60, int64_t skew_s = 300,
                                  std::optional<std::string> nonce = std::nullopt) {
    return validate(der, asked, ca.cert.get(), now, skew_s, std::move(nonce));
  }
};

// ---------------------------------------------------------------------------------------------
// aws-lc matrix: made with `openssl ocsp` under the s2n test CA.

TEST_CASE("aws-lc good, revoked and unknown answers are accepted with their status") {
  struct Row {
    const char* file;
    CertStatus status;
    int hash_nid;
  };
  const Row rows[] = {
      {"ocsp_response.der", CertStatus::Good, NID_sha1},
      {"ocsp_response_no_nonce.der", CertStatus::Good, NID_sha1},
      {"ocsp_response_revoked.der", CertStatus::Revoked, NID_sha1},
      {"ocsp_response_unknown.der", CertStatus::Unknown, NID_sha1},
      {"ocsp_response_sha256.der", CertStatus::Good, NID_sha256},
      {"ocsp_response_revoked_sha256.der", CertStatus::Revoked, NID_sha256},
      {"ocsp_response_unknown_sha256.der", CertStatus::Unknown, NID_sha256},
  };
  auto ca = loadCert("aws-lc-ocsp/ca_cert.pem");
  for (const auto& row : rows) {
    CAPTURE(row.file);
    std::string der = readFile(realData(std::string("aws-lc-ocsp/") + row.file));
    auto asked = certIdsIn(der);
    REQUIRE(asked.size() == 1);
    CHECK(asked[0].hash_nid == row.hash_nid);
    int64_t this_update = thisUpdateOf(der);
    auto r = validate(der, asked, ca.get(), this_update + 60);
    CHECK_CODE(r, "ok");
    if (!r.ok()) continue;
    CHECK(r->status == row.status);
    CHECK(r->revocation.has_value() == (row.status == CertStatus::Revoked));
    CHECK(r->delegated);
    CHECK(r->this_update == this_update);
    CHECK(r->produced_at == producedAtOf(der));
    CHECK(r->next_update > this_update);
  }
}

TEST_CASE("the aws-lc response answers the CertID of the request file, in its hash only") {
  auto ca = loadCert("aws-lc-ocsp/ca_cert.pem");
  std::string sha1_response = readFile(realData("aws-lc-ocsp/ocsp_response.der"));
  std::string sha256_response = readFile(realData("aws-lc-ocsp/ocsp_response_sha256.der"));
  auto sha1_asked = certIdsOfRequest(readFile(realData("aws-lc-ocsp/ocsp_request.der")));
  auto sha256_asked =
      certIdsOfRequest(readFile(realData("aws-lc-ocsp/ocsp_request_signed_sha256.der")));
  int64_t now = thisUpdateOf(sha256_response) + 60;
  CHECK_CODE(validate(sha1_response, sha1_asked, ca.get(), now), "ok");
  CHECK_CODE(validate(sha256_response, sha256_asked, ca.get(), now), "ok");
  // RFC 6960 §4.1.1: a SHA-1 CertID and a SHA-256 CertID are different questions.
  CHECK_CODE(validate(sha1_response, sha256_asked, ca.get(), now), "certid_mismatch");
  CHECK_CODE(validate(sha256_response, sha1_asked, ca.get(), now), "certid_mismatch");
}

TEST_CASE("an aws-lc nonce is accepted only when it is the one the response echoes") {
  auto ca = loadCert("aws-lc-ocsp/ca_cert.pem");
  std::string der = readFile(realData("aws-lc-ocsp/ocsp_response.der"));
  auto asked = certIdsIn(der);
  int64_t now = thisUpdateOf(der) + 60;
  auto echoed = nonceOf(basicOf(der).get());
  REQUIRE(echoed.has_value());
  CHECK(echoed->size() == 18);  // 04 10 + 16 random bytes (RFC 8954 OCTET STRING)
  CHECK_CODE(validate(der, asked, ca.get(), now, 300, echoed), "ok");
  // The aws-lc request and response were made separately: their nonces differ.
  auto request_nonce =
      nonceOf(parseRequest(readFile(realData("aws-lc-ocsp/ocsp_request.der"))).get());
  REQUIRE(request_nonce.has_value());
  CHECK_CODE(validate(der, asked, ca.get(), now, 300, request_nonce), "nonce_mismatch");
  // A response without a nonce answers a request with one: it is accepted, not echoed.
  std::string no_nonce = readFile(realData("aws-lc-ocsp/ocsp_response_no_nonce.der"));
  auto silent =
      validate(no_nonce, certIdsIn(no_nonce), ca.get(), thisUpdateOf(no_nonce) + 60, 300, echoed);
  CHECK_CODE(silent, "ok");
  CHECK_FALSE(silent->nonce_echoed);
}

TEST_CASE("a CA-signed response is accepted as CA-direct and a responder-signed one as delegated") {
  auto ca = loadCert("aws-lc-ocsp/ca_cert.pem");
  std::string ca_signed = readFile(realData("aws-lc-ocsp/ocsp_response_ca_signed.der"));
  std::string delegated = readFile(realData("aws-lc-ocsp/ocsp_response.der"));
  auto direct = validate(ca_signed, certIdsIn(ca_signed), ca.get(), thisUpdateOf(ca_signed) + 60);
  auto via_responder =
      validate(delegated, certIdsIn(delegated), ca.get(), thisUpdateOf(delegated) + 60);
  REQUIRE_MESSAGE(direct.ok(), detailOf(direct));
  REQUIRE_MESSAGE(via_responder.ok(), detailOf(via_responder));
  CHECK_FALSE(direct->delegated);
  CHECK(via_responder->delegated);
}

TEST_CASE("a response signed by a CA-issued TLS certificate lacks OCSPSigning and is rejected") {
  auto ca = loadCert("aws-lc-ocsp/ca_cert.pem");
  for (const char* file :
       {"ocsp_response_wrong_signer.der", "ocsp_response_wrong_signer_sha256.der"}) {
    CAPTURE(file);
    std::string der = readFile(realData(std::string("aws-lc-ocsp/") + file));
    CHECK_CODE(validate(der, certIdsIn(der), ca.get(), thisUpdateOf(der) + 60),
               "responder_missing_ocsp_signing");
  }
}

TEST_CASE("a response from a delegated responder whose certificate has expired is rejected") {
  auto ca = loadCert("aws-lc-ocsp/ca_cert.pem");
  std::string der = readFile(realData("aws-lc-ocsp/ocsp_response_expired_signer.der"));
  auto r = validate(der, certIdsIn(der), ca.get(), thisUpdateOf(der) + 60);
  CHECK_CODE(r, "responder_cert_expired");
  CHECK(detailOf(r).find("O=AWS") != std::string::npos);  // names the responder
}

TEST_CASE("upstream error statuses are reported as upstream_status with the matching category") {
  struct Row {
    const char* file;
    ErrorCategory category;
  };
  const Row rows[] = {
      {"aws-lc-ocsp/ocsp_response_trylater.der", ErrorCategory::UpstreamUnavailable},
      {"aws-lc-ocsp/ocsp_response_internalerror.der", ErrorCategory::UpstreamUnavailable},
      {"aws-lc-ocsp/ocsp_response_malformedrequest.der", ErrorCategory::MalformedRequest},
      {"aws-lc-ocsp/ocsp_response_unauthorized.der", ErrorCategory::Unauthorized},
      {"aws-lc-ocsp/ocsp_response_sigrequired.der", ErrorCategory::SigRequired},
      {"pyca-cryptography-vectors/ocsp/resp-unauthorized.der", ErrorCategory::Unauthorized},
      {"pyca-cryptography-vectors/ocsp/resp-unknown-response-status.der",
       ErrorCategory::UpstreamUnavailable},
      {"golang-x-crypto-ocsp/errorResponse_malformedRequest.der", ErrorCategory::MalformedRequest},
  };
  auto ca = loadCert("aws-lc-ocsp/ca_cert.pem");
  std::vector<CertIdInfo> asked = certIdsIn(readFile(realData("aws-lc-ocsp/ocsp_response.der")));
  for (const auto& row : rows) {
    CAPTURE(row.file);
    auto r = validate(readFile(realData(row.file)), asked, ca.get(), kToday);
    CHECK_CODE(r, "upstream_status");
    if (!r.ok()) CHECK(r.error().category == row.category);
  }
}

TEST_CASE("a successful response without a BasicOCSPResponse is rejected as not_basic") {
  auto ca = loadCert("aws-lc-ocsp/ca_cert.pem");
  std::vector<CertIdInfo> asked = certIdsIn(readFile(realData("aws-lc-ocsp/ocsp_response.der")));
  for (const char* file :
       {"resp-successful-no-response-bytes.der", "resp-response-type-unknown-oid.der"}) {
    CAPTURE(file);
    std::string der = readFile(realData(std::string("pyca-cryptography-vectors/ocsp/") + file));
    auto r = validate(der, asked, ca.get(), kToday);
    CHECK_CODE(r, "not_basic");
    if (!r.ok()) CHECK(r.error().category == ErrorCategory::ValidationFailed);
  }
}

TEST_CASE("bytes that are not exactly one DER OCSPResponse are unparsable") {
  auto ca = loadCert("aws-lc-ocsp/ca_cert.pem");
  std::string der = readFile(realData("aws-lc-ocsp/ocsp_response.der"));
  auto asked = certIdsIn(der);
  int64_t now = thisUpdateOf(der) + 60;
  CHECK_CODE(validate("", asked, ca.get(), now), "unparsable");
  CHECK_CODE(validate("<html>502 Bad Gateway</html>", asked, ca.get(), now), "unparsable");
  CHECK_CODE(validate(der + '\0', asked, ca.get(), now), "unparsable");
  CHECK_CODE(validate(der.substr(0, der.size() - 1), asked, ca.get(), now), "unparsable");
}

// ---------------------------------------------------------------------------------------------
// Real CA responses.

TEST_CASE("real CA responses are accepted at their producedAt") {
  struct Row {
    const char* response;
    const char* issuer;
    bool delegated;
    CertStatus status;
    int reason;
  };
  const Row rows[] = {
      {"pyca-cryptography-vectors/ocsp/resp-revoked-reason.der",
       "openjdk-certification-tests/QuoVadis_Global_SSL_ICA_G3.pem", true, CertStatus::Revoked,
       OCSP_REVOKED_STATUS_SUPERSEDED},
      {"pyca-cryptography-vectors/ocsp/resp-sha256.der",
       "pyca-cryptography-vectors/certs/letsencryptx3.pem", false, CertStatus::Good, -1},
      {"golang-x-crypto-ocsp/ocspResponse_GTS1C3.der", "golang-x-crypto-ocsp/GTSRoot.pem", false,
       CertStatus::Good, -1},
      {"openssl-ocsp-tests/der/D1.der", "openssl-ocsp-tests/D1_Issuer_ICA.pem", true,
       CertStatus::Good, -1},
      {"openssl-ocsp-tests/D2.ors", "openssl-ocsp-tests/D2_Issuer_Root.pem", true, CertStatus::Good,
       -1},
      {"openssl-ocsp-tests/D3.ors", "openssl-ocsp-tests/D3_Issuer_Root.pem", true, CertStatus::Good,
       -1},
      {"openssl-ocsp-tests/der/ND1.der", "openssl-ocsp-tests/ND1_Issuer_ICA.pem", false,
       CertStatus::Good, -1},
      {"golang-x-crypto-ocsp/ocspResponseWithoutCert.der", "openssl-ocsp-tests/ND1_Issuer_ICA.pem",
       false, CertStatus::Good, -1},
      {"openssl-ocsp-tests/ND2.ors", "openssl-ocsp-tests/ND2_Issuer_Root.pem", false,
       CertStatus::Good, -1},
      {"openssl-ocsp-tests/ND3.ors", "openssl-ocsp-tests/ND3_Issuer_Root.pem", false,
       CertStatus::Good, -1},
  };
  for (const auto& row : rows) {
    CAPTURE(row.response);
    std::string der = loadResponse(row.response);
    auto issuer = loadCert(row.issuer);
    auto r = validate(der, certIdFromIssuer(issuer.get(), der), issuer.get(), producedAtOf(der));
    CHECK_CODE(r, "ok");
    if (!r.ok()) continue;
    CHECK(r->delegated == row.delegated);
    CHECK(r->status == row.status);
    CHECK(r->produced_at == producedAtOf(der));
    if (row.status == CertStatus::Revoked) {
      REQUIRE(r->revocation.has_value());
      CHECK(r->revocation->reason == row.reason);
    }
  }
}

TEST_CASE("the QuoVadis revocation carries its time and superseded reason") {
  std::string der = readFile(realData("pyca-cryptography-vectors/ocsp/resp-revoked-reason.der"));
  auto issuer = loadCert("openjdk-certification-tests/QuoVadis_Global_SSL_ICA_G3.pem");
  auto r = validate(der, certIdFromIssuer(issuer.get(), der), issuer.get(), producedAtOf(der));
  REQUIRE_MESSAGE(r.ok(), detailOf(r));
  REQUIRE(r->revocation.has_value());
  CHECK(r->revocation->time == 1530102601);  // 2018-06-27T12:30:01Z
  CHECK(r->revocation->reason == 4);         // RFC 5280 §5.3.1 superseded
  CHECK(r->this_update == 1535831297);       // 2018-09-01T19:48:17Z
  CHECK(r->next_update == 1536004097);       // 2018-09-03T19:48:17Z
}

TEST_CASE("old delegated responses are rejected today because their responder has expired") {
  struct Row {
    const char* response;
    const char* issuer;
  };
  const Row rows[] = {
      {"pyca-cryptography-vectors/ocsp/resp-revoked-reason.der",
       "openjdk-certification-tests/QuoVadis_Global_SSL_ICA_G3.pem"},
      {"openssl-ocsp-tests/der/D1.der", "openssl-ocsp-tests/D1_Issuer_ICA.pem"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.response);
    std::string der = loadResponse(row.response);
    auto issuer = loadCert(row.issuer);
    auto r = validate(der, certIdFromIssuer(issuer.get(), der), issuer.get(), kToday);
    CHECK_CODE(r, "responder_cert_expired");
    CHECK(detailOf(r).find(rfc3339(kToday)) != std::string::npos);
  }
}

TEST_CASE("old CA-direct responses are rejected today because their nextUpdate has passed") {
  std::string der = readFile(realData("openssl-ocsp-tests/der/ND1.der"));
  auto issuer = loadCert("openssl-ocsp-tests/ND1_Issuer_ICA.pem");
  CHECK_CODE(validate(der, certIdFromIssuer(issuer.get(), der), issuer.get(), kToday), "expired");
}

TEST_CASE("edited real responses fail their signature check") {
  struct Row {
    const char* response;
    const char* issuer;
  };
  const Row rows[] = {
      // An extension was added to tbsResponseData after QuoVadis signed it.
      {"pyca-cryptography-vectors/ocsp/resp-unknown-extension.der",
       "openjdk-certification-tests/QuoVadis_Global_SSL_ICA_G3.pem"},
      // The signature algorithm was replaced by md2WithRSAEncryption.
      {"pyca-cryptography-vectors/ocsp/resp-invalid-signature-oid.der",
       "pyca-cryptography-vectors/certs/letsencryptx3.pem"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.response);
    std::string der = readFile(realData(row.response));
    auto issuer = loadCert(row.issuer);
    CHECK_CODE(validate(der, certIdFromIssuer(issuer.get(), der), issuer.get(), producedAtOf(der)),
               "bad_signature");
  }
}

TEST_CASE("OpenSSL's corrupted responses are each rejected with the fitting reason") {
  struct Row {
    const char* response;
    const char* issuer;
    const char* code;
  };
  const char* d1 = "openssl-ocsp-tests/D1_Issuer_ICA.pem";
  const char* nd1 = "openssl-ocsp-tests/ND1_Issuer_ICA.pem";
  const Row rows[] = {
      {"ISOP_D1.ors", d1, "bad_signature"},  // response signature broken
      {"ISOP_ND1.ors", nd1, "bad_signature"},
      {"WRID_D1.ors", d1, "signer_not_found"},  // ResponderID names no certificate
      {"WRID_ND1.ors", nd1, "signer_not_found"},
      {"WINH_D1.ors", d1, "bad_signature"},  // CertID issuerNameHash edited after signing
      {"WINH_ND1.ors", nd1, "bad_signature"},
      {"WIKH_D1.ors", d1, "bad_signature"},  // CertID issuerKeyHash edited after signing
      {"WIKH_ND1.ors", nd1, "bad_signature"},
      // The embedded responder certificate's own signature is broken.
      {"ISDOSC_D1.ors", d1, "responder_not_issued_by_issuer"},
      // The embedded responder certificate carries another key than the ResponderID's.
      {"WKDOSC_D1.ors", d1, "signer_not_found"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.response);
    std::string der = loadResponse(std::string("openssl-ocsp-tests/") + row.response);
    auto issuer = loadCert(row.issuer);
    CHECK_CODE(validate(der, certIdFromIssuer(issuer.get(), der), issuer.get(), producedAtOf(der)),
               row.code);
  }
}

TEST_CASE("configured issuers are trust anchors: only their name and key matter") {
  struct Row {
    const char* response;
    const char* issuer;
    const char* code;
  };
  const Row rows[] = {
      // A broken signature on the issuer certificate itself is not ours to check.
      {"der/D1.der", "ISIC_D1_Issuer_ICA.pem", "ok"},
      {"der/ND1.der", "ISIC_ND1_Issuer_ICA.pem", "ok"},
      // Wrong key: the delegated responder's signature no longer verifies, and a CA-direct
      // ResponderID byKey no longer matches.
      {"der/D1.der", "WKIC_D1_Issuer_ICA.pem", "responder_not_issued_by_issuer"},
      {"der/ND1.der", "WKIC_ND1_Issuer_ICA.pem", "signer_not_found"},
      // Wrong subject: the responder names another issuer; for CA-direct, the CertID the client
      // computes from this issuer is not the one answered.
      {"der/D1.der", "WSNIC_D1_Issuer_ICA.pem", "responder_not_issued_by_issuer"},
      {"der/ND1.der", "WSNIC_ND1_Issuer_ICA.pem", "certid_mismatch"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.issuer);
    std::string der = readFile(realData(std::string("openssl-ocsp-tests/") + row.response));
    auto issuer = loadCert(std::string("openssl-ocsp-tests/") + row.issuer);
    CHECK_CODE(validate(der, certIdFromIssuer(issuer.get(), der), issuer.get(), producedAtOf(der)),
               row.code);
  }
}

// Where `part` (DER of a sub-structure) sits inside `der`.
std::pair<size_t, size_t> spanOf(const std::string& der, const std::string& part) {
  size_t at = der.find(part);
  REQUIRE(at != std::string::npos);
  return {at, at + part.size()};
}

// Flips one bit in every `step`-th byte. A flip inside tbsResponseData or the signature value
// must never be accepted; elsewhere (framing, signatureAlgorithm, embedded certificates) it
// may be accepted only if what the validator reports is unchanged. Returns how many
// flipped copies were accepted.
size_t flipBytes(const std::string& file, size_t step) {
  auto ca = loadCert("aws-lc-ocsp/ca_cert.pem");
  const std::string der = readFile(realData(file));
  auto asked = certIdsIn(der);
  int64_t now = thisUpdateOf(der) + 60;
  auto original = validate(der, asked, ca.get(), now);
  REQUIRE_MESSAGE(original.ok(), detailOf(original));
  auto bs = basicOf(der);
  auto tbs = spanOf(der, toDer(OCSP_resp_get0_respdata(bs.get()), i2d_OCSP_RESPDATA));
  const ASN1_OCTET_STRING* sig = OCSP_resp_get0_signature(bs.get());
  auto sig_value =
      spanOf(der, std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(sig)),
                              static_cast<size_t>(ASN1_STRING_length(sig))));
  size_t accepted = 0;
  for (size_t i = 0; i < der.size(); i += step) {
    std::string flipped = der;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x01);
    auto r = validate(flipped, asked, ca.get(), now);
    if (!r.ok()) continue;
    ++accepted;
    CAPTURE(i);
    CHECK_FALSE((i >= tbs.first && i < tbs.second));
    CHECK_FALSE((i >= sig_value.first && i < sig_value.second));
    CHECK(r->produced_at == original->produced_at);
    CHECK(r->this_update == original->this_update);
    CHECK(r->next_update == original->next_update);
    CHECK(r->status == original->status);
    CHECK(r->delegated == original->delegated);
  }
  return accepted;
}

TEST_CASE("no flipped byte in a delegated response is accepted with different content") {
  // Every byte of the response. The one flip OpenSSL tolerates is the tag of the NULL
  // parameters of sha1WithRSAEncryption (NULL -> empty OCTET STRING), which is not signed
  // and changes nothing the validator reports.
  CHECK(flipBytes("aws-lc-ocsp/ocsp_response.der", 1) <= 1);
}

TEST_CASE("no flipped byte in a CA-direct response is accepted with different content") {
  // The embedded copy of the CA certificate is not signed by the response, and the validator
  // never trusts that copy: it verifies with the configured issuer's key.
  flipBytes("aws-lc-ocsp/ocsp_response_ca_signed.der", 7);
}

// ---------------------------------------------------------------------------------------------
// Generated responses: one rule at a time.

TEST_CASE("a response from a proper delegated responder is accepted") {
  TestPki pki;
  auto r = pki.check(makeResponse({{pki.id_a.get()}}, pki.responder), {infoOf(pki.id_a)});
  REQUIRE_MESSAGE(r.ok(), detailOf(r));
  CHECK(r->delegated);
  CHECK(r->this_update == kT);
  CHECK(r->next_update == kT + kDay);
  CHECK(r->status == CertStatus::Good);
  CHECK_FALSE(r->revocation.has_value());
  // The responder certificate's validity (test_pki.h CertSpec defaults), for re-checking.
  CHECK(r->responder_not_before == kT - kDay);
  CHECK(r->responder_not_after == kT + 365 * kDay);
}

TEST_CASE("a CA-direct response identified by key hash and without certificates is accepted") {
  TestPki pki;
  std::string der =
      makeResponse({{pki.id_a.get()}}, pki.ca, {.flags = OCSP_NOCERTS | OCSP_RESPID_KEY});
  auto r = pki.check(der, {infoOf(pki.id_a)});
  REQUIRE_MESSAGE(r.ok(), detailOf(r));
  CHECK_FALSE(r->delegated);
  CHECK(r->responder_not_before == 0);
  CHECK(r->responder_not_after == 0);
}

TEST_CASE("a responder once verified does not vouch for a copy with another signature") {
  TestPki pki;
  std::vector<CertIdInfo> asked{infoOf(pki.id_a)};
  // Many answers of one responder: its certificate's signature is verified once and
  // remembered; every answer is still judged on its own signature.
  for (int i = 0; i < 3; ++i) {
    CHECK_CODE(pki.check(makeResponse({{pki.id_a.get()}}, pki.responder), asked), "ok");
  }
  // The same certificate (subject, key, issuer name, key identifiers) with one byte of the
  // CA's signature changed: refused, although the genuine one was accepted just before.
  unsigned char* der = nullptr;
  int len = i2d_X509(pki.responder.cert.get(), &der);
  REQUIRE(len > 0);
  der[len - 1] ^= 0x01;
  const unsigned char* p = der;
  X509Ptr tampered_cert(d2i_X509(nullptr, &p, len));
  OPENSSL_free(der);
  REQUIRE(tampered_cert);
  REQUIRE(EVP_PKEY_up_ref(pki.responder.key.get()) == 1);
  Identity tampered{EvpPkeyPtr(pki.responder.key.get()), std::move(tampered_cert)};
  CHECK_CODE(pki.check(makeResponse({{pki.id_a.get()}}, tampered), asked),
             "responder_not_issued_by_issuer");
  CHECK_CODE(pki.check(makeResponse({{pki.id_a.get()}}, pki.responder), asked), "ok");
}

TEST_CASE("a delegated responder without id-kp-OCSPSigning is rejected") {
  TestPki pki;
  CHECK_CODE(pki.check(makeResponse({{pki.id_a.get()}}, pki.tls_cert), {infoOf(pki.id_a)}),
             "responder_missing_ocsp_signing");
}

TEST_CASE("a responder certificate issued by another CA is rejected") {
  TestPki pki;
  CHECK_CODE(pki.check(makeResponse({{pki.id_a.get()}}, pki.rogue_responder), {infoOf(pki.id_a)}),
             "responder_not_issued_by_issuer");
}

TEST_CASE("a rogue key claiming the CA's name is rejected") {
  TestPki pki;
  std::vector<CertIdInfo> asked{infoOf(pki.id_a)};
  // ResponderID byName is the CA's name and no certificate is embedded: the real CA is found
  // as the signer and its key refuses the signature.
  CHECK_CODE(
      pki.check(makeResponse({{pki.id_a.get()}}, pki.ca_impostor, {.flags = OCSP_NOCERTS}), asked),
      "bad_signature");
  // The impostor's self-signed certificate is embedded too: the configured CA is still the
  // one found for that name (it is searched before embedded certificates), so the impostor
  // cannot shadow it.
  CHECK_CODE(pki.check(makeResponse({{pki.id_a.get()}}, pki.ca_impostor), asked), "bad_signature");
  // ResponderID byKey names the impostor's key, which no available certificate carries.
  CHECK_CODE(pki.check(makeResponse({{pki.id_a.get()}}, pki.ca_impostor,
                                    {.flags = OCSP_NOCERTS | OCSP_RESPID_KEY}),
                       asked),
             "signer_not_found");
}

TEST_CASE("a delegated responder is accepted only within its validity period") {
  TestPki pki;
  Identity later =
      issue({.cn = "Later responder", .ocsp_signing = true, .not_before = kT + kDay}, &pki.ca);
  Identity earlier = issue({.cn = "Earlier responder",
                            .ocsp_signing = true,
                            .not_before = kT - 9 * kDay,
                            .not_after = kT - kDay},
                           &pki.ca);
  std::vector<CertIdInfo> asked{infoOf(pki.id_a)};
  CHECK_CODE(pki.check(makeResponse({{pki.id_a.get()}}, later), asked), "responder_cert_expired");
  CHECK_CODE(pki.check(makeResponse({{pki.id_a.get()}}, earlier), asked), "responder_cert_expired");
  // The same certificate is fine at a time inside its validity.
  CHECK_CODE(
      pki.check(makeResponse({{.id = pki.id_a.get(), .this_update = kT - 2 * kDay}}, earlier),
                asked, kT - 2 * kDay + 60),
      "ok");
}

TEST_CASE("thisUpdate in the future is tolerated only within the clock skew") {
  TestPki pki;
  std::string der = makeResponse(
      {{.id = pki.id_a.get(), .this_update = kT + 600, .next_update = kT + kDay}}, pki.ca);
  std::vector<CertIdInfo> asked{infoOf(pki.id_a)};
  CHECK_CODE(pki.check(der, asked, kT, 300), "this_update_in_future");
  CHECK_CODE(pki.check(der, asked, kT, 900), "ok");
  CHECK_CODE(pki.check(der, asked, kT + 300, 300), "ok");  // exactly at the edge
}

TEST_CASE("a response is expired from its nextUpdate on") {
  TestPki pki;
  std::string der =
      makeResponse({{.id = pki.id_a.get(), .this_update = kT - kDay, .next_update = kT}}, pki.ca);
  std::vector<CertIdInfo> asked{infoOf(pki.id_a)};
  CHECK_CODE(pki.check(der, asked, kT - 1), "ok");
  CHECK_CODE(pki.check(der, asked, kT), "expired");
  CHECK_CODE(pki.check(der, asked, kT + 3600), "expired");
}

TEST_CASE("a response without nextUpdate is accepted with next_update 0") {
  TestPki pki;
  std::string der =
      makeResponse({{.id = pki.id_a.get(), .next_update = std::nullopt}}, pki.responder);
  auto r = pki.check(der, {infoOf(pki.id_a)}, kT + 30 * kDay);
  REQUIRE_MESSAGE(r.ok(), detailOf(r));
  CHECK(r->next_update == 0);
}

TEST_CASE("CertIDs must match the request one to one") {
  TestPki pki;
  CertIdInfo a = infoOf(pki.id_a);
  CertIdInfo b = infoOf(pki.id_b);
  std::string only_a = makeResponse({{pki.id_a.get()}}, pki.responder);
  std::string a_and_b = makeResponse({{pki.id_a.get()}, {pki.id_b.get()}}, pki.responder);
  std::string a_twice = makeResponse({{pki.id_a.get()}, {pki.id_a.get()}}, pki.responder);
  std::string a_sha256 = makeResponse({{pki.id_a_sha256.get()}}, pki.responder);

  CHECK_CODE(pki.check(a_and_b, {a}), "certid_mismatch");    // extra SingleResponse
  CHECK_CODE(pki.check(only_a, {a, b}), "certid_mismatch");  // requested CertID missing
  CHECK_CODE(pki.check(only_a, {b}), "certid_mismatch");     // another serial
  CHECK_CODE(pki.check(a_twice, {a}), "certid_mismatch");    // answered twice
  CHECK_CODE(pki.check(a_sha256, {a}), "certid_mismatch");   // SHA-1 asked, SHA-256 answered
  CHECK_CODE(pki.check(a_and_b, {a, b}), "ok");
  CHECK_CODE(pki.check(a_and_b, {b, a}), "ok");  // order does not matter

  CertIdInfo other_issuer = a;
  other_issuer.issuer_key_hash[0] = static_cast<char>(other_issuer.issuer_key_hash[0] ^ 1);
  CHECK_CODE(pki.check(only_a, {other_issuer}), "certid_mismatch");
}

TEST_CASE("a serial with a redundant leading zero byte still matches its CertID") {
  TestPki pki;
  CertIdInfo a = infoOf(pki.id_a);
  a.serial.insert(0, 1, '\0');
  CHECK_CODE(pki.check(makeResponse({{pki.id_a.get()}}, pki.responder), {a}), "ok");
}

TEST_CASE("with several SingleResponses the earliest times and the first requested status win") {
  TestPki pki;
  std::string der =
      makeResponse({{.id = pki.id_a.get(), .this_update = kT - 100, .next_update = kT + 2 * kDay},
                    {.id = pki.id_b.get(),
                     .status = V_OCSP_CERTSTATUS_REVOKED,
                     .reason = OCSP_REVOKED_STATUS_KEYCOMPROMISE,
                     .this_update = kT - 50,
                     .next_update = kT + kDay}},
                   pki.responder);
  auto b_first = pki.check(der, {infoOf(pki.id_b), infoOf(pki.id_a)});
  REQUIRE_MESSAGE(b_first.ok(), detailOf(b_first));
  CHECK(b_first->this_update == kT - 100);
  CHECK(b_first->next_update == kT + kDay);
  CHECK(b_first->status == CertStatus::Revoked);
  REQUIRE(b_first->revocation.has_value());
  CHECK(b_first->revocation->reason == OCSP_REVOKED_STATUS_KEYCOMPROMISE);
  CHECK(b_first->revocation->time == kT - 30 * kDay);
  // The bounds the time checks compare against: the other extremes.
  CHECK(b_first->latest_this_update == kT - 50);
  CHECK(b_first->earliest_next_update == kT + kDay);

  auto a_first = pki.check(der, {infoOf(pki.id_a), infoOf(pki.id_b)});
  REQUIRE_MESSAGE(a_first.ok(), detailOf(a_first));
  CHECK(a_first->status == CertStatus::Good);
  CHECK_FALSE(a_first->revocation.has_value());

  std::string one_without_next = makeResponse(
      {{pki.id_a.get()}, {.id = pki.id_b.get(), .next_update = std::nullopt}}, pki.responder);
  auto r = pki.check(one_without_next, {infoOf(pki.id_a), infoOf(pki.id_b)});
  REQUIRE_MESSAGE(r.ok(), detailOf(r));
  CHECK(r->next_update == 0);
  CHECK(r->earliest_next_update == kT + kDay);  // the one that has a nextUpdate still expires
}

TEST_CASE("a revocation without a reason reports reason -1") {
  TestPki pki;
  std::string der =
      makeResponse({{.id = pki.id_a.get(), .status = V_OCSP_CERTSTATUS_REVOKED}}, pki.responder);
  auto r = pki.check(der, {infoOf(pki.id_a)});
  REQUIRE_MESSAGE(r.ok(), detailOf(r));
  REQUIRE(r->revocation.has_value());
  CHECK(r->revocation->reason == -1);
}

TEST_CASE("any expiry on any SingleResponse rejects the whole response") {
  TestPki pki;
  std::string der =
      makeResponse({{pki.id_a.get()},
                    {.id = pki.id_b.get(), .this_update = kT - 2 * kDay, .next_update = kT - 1}},
                   pki.responder);
  CHECK_CODE(pki.check(der, {infoOf(pki.id_a), infoOf(pki.id_b)}), "expired");
}

TEST_CASE("a nonce in the response must be the request's byte for byte; none at all is accepted") {
  TestPki pki;
  const std::string raw = "0123456789abcdef";
  std::vector<CertIdInfo> asked{infoOf(pki.id_a)};
  std::string echoed = makeResponse({{pki.id_a.get()}}, pki.responder, {.nonce = raw});
  std::string silent = makeResponse({{pki.id_a.get()}}, pki.responder);

  auto echo = pki.check(echoed, asked, kT + 60, 300, requestNonce(raw));
  CHECK_CODE(echo, "ok");
  CHECK(echo->nonce_echoed);
  // RFC 6960 §4.4.1: a responder may leave the nonce out (CDN responders do).
  auto ignored = pki.check(silent, asked, kT + 60, 300, requestNonce(raw));
  CHECK_CODE(ignored, "ok");
  CHECK_FALSE(ignored->nonce_echoed);
  CHECK_CODE(pki.check(echoed, asked, kT + 60, 300, requestNonce("fedcba9876543210")),
             "nonce_mismatch");
  // The raw nonce is not the expected representation: the extension value wraps it.
  CHECK_CODE(pki.check(echoed, asked, kT + 60, 300, raw), "nonce_mismatch");
  // Without an expected nonce, an echoed one is simply ignored.
  CHECK_CODE(pki.check(echoed, asked), "ok");
}

TEST_CASE("failures carry one-line details naming the facts") {
  TestPki pki;
  auto r = pki.check(makeResponse({{pki.id_a.get()}}, pki.tls_cert), {infoOf(pki.id_a)});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().category == ErrorCategory::ValidationFailed);
  CHECK(r.error().detail.find("CN=Test TLS server") != std::string::npos);
  CHECK(r.error().detail.find('\n') == std::string::npos);

  std::string der =
      makeResponse({{.id = pki.id_a.get(), .this_update = kT - kDay, .next_update = kT}}, pki.ca);
  auto expired = pki.check(der, {infoOf(pki.id_a)}, kT + 5);
  REQUIRE_FALSE(expired.ok());
  CHECK(expired.error().detail.find(rfc3339(kT)) != std::string::npos);
  CHECK(expired.error().detail.find(rfc3339(kT + 5)) != std::string::npos);
}

}  // namespace
}  // namespace ocsp
