#pragma once
// CRLs for the unit tests, signed by CAs of the test PKI (tests/unit/test_pki.h): entries with
// the serials, dates and reasons one rule needs, and the CRL extensions of complete and delta
// CRLs (cRLNumber, deltaCRLIndicator, freshestCRL, issuingDistributionPoint). Like test_pki.h,
// the helpers REQUIRE and may be called only from inside a TEST_CASE.
#include <openssl/x509.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ossl.h"
#include "tests/unit/test_pki.h"

namespace ocsp::test {

using ExtensionPtr = std::unique_ptr<X509_EXTENSION, FreeWith<X509_EXTENSION_free>>;

// "00ff" -> the two bytes 0x00 0xff: INTEGER contents as a CertID carries them.
std::string bytes(std::string_view hex);

// A private extension (1.3.6.1.4.1.55555.7) nothing processes.
ExtensionPtr unknownExtension(bool critical);

struct EntrySpec {
  std::string serial_hex;  // big-endian magnitude; "" is serial 0
  bool negative = false;
  int64_t time = kT - 10 * kDay;
  int reason = -1;                               // CRLReason; -1: no reasonCode
  const Identity* certificate_issuer = nullptr;  // indirect CRL: attribute to this CA
  bool critical_unknown = false;
};

struct CrlSpec {
  int64_t this_update = kT - kDay;
  std::optional<int64_t> next_update = kT + 6 * kDay;
  bool authority_key_id = true;
  std::optional<long> number = 42;      // cRLNumber; none when empty
  std::optional<long> delta_base = {};  // a delta CRL: critical deltaCRLIndicator with this base
  std::vector<std::string> freshest = {};  // freshestCRL: one distribution point, these URIs
  // issuingDistributionPoint in openssl config syntax ("critical,onlyuser:TRUE"), "" for none.
  std::string idp = {};
  std::optional<ExtensionPtr> extra_extension = std::nullopt;
};

// An unsigned CRL of `issuer` (the issuer's name and, if asked, its key identifier).
X509CrlPtr newCrl(const Identity& issuer, const CrlSpec& spec);
void addEntry(X509_CRL* crl, const EntrySpec& e);
// Signs with signer's key (SHA-256); the DER.
std::string signCrl(X509_CRL* crl, const Identity& signer);
// newCrl + entries, signed by `issuer`.
std::string makeCrl(const Identity& issuer, const std::vector<EntrySpec>& entries,
                    const CrlSpec& spec = {});

// A CRL (DER) by `issuer`, signed with its key, revoking `serials` (revoked at thisUpdate). No
// AuthorityKeyIdentifier: the issuer is found by name.
std::string makeCrl(const Identity& issuer, int64_t this_update, std::optional<int64_t> next_update,
                    const std::vector<long>& serials = {});

}  // namespace ocsp::test
