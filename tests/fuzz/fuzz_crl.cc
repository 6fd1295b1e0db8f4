// Fuzz target: a downloaded CRL (pki/crl.h parseAndValidateCrl), DER or PEM. Issuers are
// fixed: configured candidates (pyca's CRL signer, a PKITS CA, the fuzz PKI's issuing CA) and
// a trust store (the PKITS trust anchor, the fuzz PKI root), so signature, keyUsage and AKI
// matching run on the seeds that carry those issuers' names. `now` is the CRL's thisUpdate
// plus a minute when it can be read, so old and fresh seeds are inside their validity; a
// second pass at a fixed date without issuers runs the time rules elsewhere.
// Checked: errors are ValidationFailed; an accepted CRL's times agree with now; the table
// holds every non-negative serial of a CRL without certificateIssuer entries and answers
// lookups of arbitrary bytes; the OpenSSL error queue is left empty.
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/ossl.h"
#include "tests/fuzz/fuzz_util.h"
#include "pki/crl.h"

namespace ocsp {
namespace {

constexpr int64_t kFixedNow = 1795392000;  // 2026-11-23T00:00:00Z
constexpr int64_t kSkewS = 300;

struct Issuers {
  std::vector<SharedX509> candidates;
  X509StorePtr trust_store{X509_STORE_new()};
};

const Issuers& issuers() {
  static const Issuers all = [] {
    Issuers i;
    i.candidates.push_back(shareX509(
        fuzz::loadCert(fuzz::realData("pyca-cryptography-vectors/crl/valid_signature_cert.pem"))));
    i.candidates.push_back(shareX509(
        fuzz::loadCert(fuzz::realData("pyca-cryptography-vectors/PKITS/deltaCRLCA1Cert.crt"))));
    i.candidates.push_back(shareX509(fuzz::loadCert(fuzz::pkiFile("ica.pem"))));
    for (const std::string& root :
         {fuzz::realData("pyca-cryptography-vectors/PKITS/TrustAnchorRootCertificate.crt"),
          fuzz::pkiFile("root.pem")}) {
      X509Ptr cert = fuzz::loadCert(root);
      if (X509_STORE_add_cert(i.trust_store.get(), cert.get()) != 1) {
        fuzz::broken(__FILE__, __LINE__, "cannot fill the trust store");
      }
    }
    return i;
  }();
  return all;
}

// The same bytes read with plain OpenSSL calls, leniently (no trailing-bytes rule); PEM when
// they start like PEM, as crl.cc decides.
X509CrlPtr readCrl(std::string_view bytes) {
  const size_t start = std::min(bytes.size(), bytes.find_first_not_of(" \t\r\n"));
  if (bytes.substr(start).starts_with("-----BEGIN ")) {
    BioPtr bio(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
    return X509CrlPtr(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  }
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  return X509CrlPtr(d2i_X509_CRL(nullptr, &p, static_cast<long>(bytes.size())));
}

// A serial as a CertID carries it: INTEGER contents, a 00 in front of a set top bit.
std::string contentBytes(const ASN1_INTEGER* serial) {
  std::string magnitude(asn1Bytes(serial));
  if (magnitude.empty() || (static_cast<unsigned char>(magnitude[0]) & 0x80) != 0) {
    magnitude.insert(0, 1, '\0');
  }
  return magnitude;
}

void checkTable(std::string_view bytes, const ParsedCrl& parsed) {
  X509CrlPtr crl = readCrl(bytes);
  FUZZ_CHECK(crl != nullptr);
  STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crl.get());
  const int count = std::max(0, sk_X509_REVOKED_num(entries));
  FUZZ_CHECK(parsed.revoked.size() <= static_cast<size_t>(count));
  bool indirect = false;
  for (int i = 0; i < count; ++i) {
    X509_REVOKED* entry = sk_X509_REVOKED_value(entries, i);
    indirect = indirect || X509_REVOKED_get_ext_by_NID(entry, NID_certificate_issuer, -1) >= 0;
  }
  for (int i = 0; i < count && !indirect; ++i) {
    const ASN1_INTEGER* serial = X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(entries, i));
    if (ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER) continue;
    FUZZ_CHECK(parsed.revoked.find(contentBytes(serial)).has_value());
  }
  // Lookups of arbitrary byte strings must stay inside the table.
  for (size_t len : {size_t{1}, size_t{8}, size_t{20}, size_t{40}}) {
    if (bytes.size() >= len) parsed.revoked.find(bytes.substr(bytes.size() - len));
  }
  parsed.revoked.find(std::string(1, '\0'));
  FUZZ_CHECK(parsed.revoked.footprint() >= sizeof(RevokedSerials));
  ERR_clear_error();
}

void check(std::string_view bytes, const Result<ParsedCrl>& result, int64_t now) {
  FUZZ_CHECK(ERR_peek_error() == 0);  // crl.h's ErrorQueueGuard leaves it empty
  if (!result.ok()) {
    FUZZ_CHECK(result.error().category == ErrorCategory::ValidationFailed);
    return;
  }
  const ParsedCrl& parsed = *result;
  FUZZ_CHECK(parsed.this_update <= now + kSkewS);
  FUZZ_CHECK(parsed.next_update == 0 || now < parsed.next_update);
  FUZZ_CHECK(parsed.signature_checked == !parsed.signer.empty());
  checkTable(bytes, parsed);
}

int64_t nowFor(std::string_view bytes) {
  X509CrlPtr crl = readCrl(bytes);
  std::optional<int64_t> this_update;
  if (crl) this_update = asn1ToEpoch(X509_CRL_get0_lastUpdate(crl.get()));
  ERR_clear_error();
  return this_update ? *this_update + 60 : kFixedNow;
}

}  // namespace
}  // namespace ocsp

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ocsp;
  const std::string_view bytes = fuzz::asView(data, size);
  CrlCheckInput in;
  in.bytes = bytes;
  in.candidates = &issuers().candidates;
  in.trust_store = issuers().trust_store.get();
  in.now = nowFor(bytes);
  in.clock_skew_s = kSkewS;
  check(bytes, parseAndValidateCrl(in), in.now);

  CrlCheckInput bare;
  bare.bytes = bytes;
  bare.now = kFixedNow;
  bare.clock_skew_s = kSkewS;
  check(bytes, parseAndValidateCrl(bare), bare.now);
  return 0;
}
