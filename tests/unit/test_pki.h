#pragma once
// A small in-memory PKI for the unit tests (EC P-256, fast to generate): certificates with
// the extensions one rule at a time needs, CertIDs for them, and signed OCSP responses.
// Helpers fail the running doctest case (REQUIRE) instead of returning errors, so they may be
// called only from inside a TEST_CASE. Not thread-safe (serial numbers come from a counter).
#include <openssl/ocsp.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/cert_id.h"
#include "core/ossl.h"
#include "pki/responder_credentials.h"

namespace ocsp::test {

constexpr int64_t kT = 1800000000;  // 2027-01-15T08:00:00Z, "now" of the generated PKI
constexpr int64_t kDay = 86400;

// The first certificate in a file under the real test data (PEM or DER).
X509Ptr loadCert(const std::string& relative);

struct Identity {
  EvpPkeyPtr key;
  X509Ptr cert;
};

struct CertSpec {
  std::string cn;             // the subject is O=ocsp-proxy tests, CN=<cn>
  bool ca = false;            // basicConstraints CA:TRUE + keyCertSign; else CA:FALSE, serverAuth
  bool ocsp_signing = false;  // non-CA only: id-kp-OCSPSigning instead of serverAuth
  int64_t not_before = kT - kDay;
  int64_t not_after = kT + 365 * kDay;
  // authorityInfoAccess in openssl config syntax ("caIssuers;URI:http://...,OCSP;URI:...");
  // empty for none.
  std::string aia = {};
  // Certify this existing key instead of a new one (the Identity holds its own reference).
  EVP_PKEY* key = nullptr;
  long serial = 0;  // 0: the next of a counter shared by every certificate issued here
};

// Issues `spec` signed by `issuer`, or self-signed when issuer is null.
Identity issue(const CertSpec& spec, const Identity* issuer);
// The certificate as one PEM block ("-----BEGIN CERTIFICATE-----" ...).
std::string pemOf(X509* cert);

OcspCertIdPtr certIdFor(const Identity& ca, long serial, const EVP_MD* md = EVP_sha1());
CertIdInfo infoOf(const OcspCertIdPtr& id);
// The CertIDs an OCSPResponse (DER) answers, in order: what a client asking exactly those
// would have sent.
std::vector<CertIdInfo> certIdsIn(const std::string& response_der);

struct SingleSpec {
  OCSP_CERTID* id;
  int status = V_OCSP_CERTSTATUS_GOOD;
  int reason = OCSP_REVOKED_STATUS_NOSTATUS;
  int64_t this_update = kT;
  std::optional<int64_t> next_update = kT + kDay;
};

struct SignSpec {
  unsigned long flags = 0;  // OCSP_NOCERTS, OCSP_RESPID_KEY
  // Raw nonce bytes to echo; OCSP_basic_add1_nonce wraps them in an OCTET STRING.
  std::optional<std::string> nonce = std::nullopt;
  // Embedded after the signer's own certificate (unless OCSP_NOCERTS), in this order.
  std::vector<X509*> extra_certs = {};
};

// `id` as the proxy's own responder credentials (pki/responder_credentials.h), without files.
ResponderCredentials credentialsOf(const Identity& id);

// A successful OCSPResponse (DER) with one SingleResponse per entry, signed by `signer`.
std::string makeResponse(const std::vector<SingleSpec>& singles, const Identity& signer,
                         const SignSpec& sign = {});

}  // namespace ocsp::test
