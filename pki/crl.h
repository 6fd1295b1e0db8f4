#pragma once
// Parses and validates a downloaded CRL (docs/ARCHITECTURE.md §8) and keeps its revoked serials in
// a compact table, so that `/status` and the report can say whether a serial is on it.
// A CRL is accepted only if:
//   - it is one DER (or one PEM "X509 CRL" block) CertificateList with nothing after it;
//   - it carries no critical CRL or entry extension we do not understand (RFC 5280 §5.2:
//     "If a CRL contains a critical extension that the application cannot process, then the
//     application MUST NOT use that CRL to determine the status of certificates");
//   - when an issuer is found (see below), its signature verifies with that issuer's key;
//   - thisUpdate <= now + skew and, when nextUpdate is present, now < nextUpdate.
// What is not checked: the issuer certificate's own validity period and chain (the caller
// configured it or put it in the trust store), and the scope an issuingDistributionPoint gives
// the CRL (onlySomeReasons, onlyContainsUserCerts, ...): it is reported (partial_scope), since
// a serial missing from a partial CRL is not proof that it is good. What the CRL's extensions
// say is read by pki/crl_extensions.h.
// All functions are pure and thread-safe (they run on the background parser thread).
#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ossl.h"
#include "core/result.h"

namespace ocsp {

struct CrlRevocation {
  int64_t time = 0;  // revocationDate, seconds since the epoch
  int reason = -1;   // RFC 5280 §5.3.1 CRLReason code; -1 when absent or not a known code
};

// The revoked serials of one CRL, sorted for binary search. Each serial occupies a fixed-width
// slot in one contiguous buffer (width = the longest serial magnitude in the CRL; big-endian
// magnitude, leading zero bytes stripped, left-padded with zeros), so memcmp order is numeric
// order and a million 20-byte serials cost ~29 MB with no per-entry allocation. Immutable once
// built; safe to share between threads.
class RevokedSerials {
 public:
  // Collects entries in CRL order (appends to flat buffers), then sorts an index once.
  class Builder {
   public:
    void reserve(size_t entries);
    // `magnitude`: big-endian magnitude of a non-negative serial (leading zeros allowed).
    // `reason`: CRLReason code, -1 when absent. When a serial repeats, the first one counts.
    void add(std::string_view magnitude, int64_t time, int reason);
    RevokedSerials finish() &&;

   private:
    std::string bytes_;            // magnitudes back to back, leading zeros stripped
    std::vector<size_t> offsets_;  // entry i is bytes_[offsets_[i], offsets_[i + 1])
    std::vector<int64_t> times_;
    std::vector<int8_t> reasons_;
  };

  RevokedSerials() = default;

  // `serial`: INTEGER content bytes as a CertID or certificate carries them (two's complement
  // as encoded, possibly with a leading 0x00). Empty or negative serials never match: RFC 5280
  // §4.1.2.2 serials are positive, and negative CRL entries are dropped when parsing.
  std::optional<CrlRevocation> find(std::string_view serial) const;
  size_t size() const { return times_.size(); }
  // Bytes held by this table (heap and object), for cache accounting.
  size_t footprint() const;

 private:
  size_t width_ = 0;             // bytes per slot
  std::string slots_;            // size() * width_ bytes, ascending
  std::vector<int64_t> times_;   // revocation time of slot i
  std::vector<int8_t> reasons_;  // CRLReason of slot i, -1 when absent
};

struct ParsedCrl {
  std::string issuer;              // one-line issuer name (RFC 2253) for logs
  int64_t this_update = 0;         // seconds since the epoch
  int64_t next_update = 0;         // 0 when the CRL has no nextUpdate
  std::string crl_number;          // lower-case hex of the cRLNumber, "" if absent
  bool delta = false;              // has a deltaCRLIndicator (RFC 5280 §5.2.4)
  // A delta CRL's BaseCRLNumber (the deltaCRLIndicator's value), lower-case hex; "" otherwise.
  std::string base_crl_number;
  // The http:// URIs of the Freshest CRL extension (RFC 5280 §5.2.6): where the deltas of
  // this complete CRL are published. Empty when absent.
  std::vector<std::string> freshest_urls;
  // An issuingDistributionPoint narrows the CRL's scope (onlyContainsUserCerts/CACerts/
  // AttributeCerts, onlySomeReasons, indirectCRL): a serial missing from it proves nothing.
  bool partial_scope = false;
  std::string issuer_der;          // the issuer Name, DER (compares a delta with its base)
  // SHA-1 of the public key (BIT STRING contents) that verified the signature, 20 raw bytes;
  // "" when signature_checked is false. Names the CA whose CRL this is, as a CertID's
  // issuerKeyHash does (upstream/known_serials.h issuerKeySha1).
  std::string signer_key_sha1;
  bool signature_checked = false;  // an issuer was found and the signature verified
  std::string signer;              // subject of the certificate that verified it, "" if none
  RevokedSerials revoked;
};

struct CrlCheckInput {
  std::string_view bytes;  // DER, or PEM "-----BEGIN X509 CRL-----" (served as-is either way)
  const std::vector<SharedX509>* candidates = nullptr;  // configured issuers, may be null
  X509_STORE* trust_store = nullptr;                    // roots, may be null
  int64_t now = 0;                                      // seconds since the epoch
  int64_t clock_skew_s = 300;
};

// Issuer lookup: the candidates first, then the trust store certificates with the CRL issuer's
// subject. A certificate is the issuer when its subject equals the CRL's issuer name and, if
// the CRL's AuthorityKeyIdentifier has a keyIdentifier and the certificate a
// SubjectKeyIdentifier, the two are equal (RFC 5280 §5.2.1). One that has a keyUsage
// extension without cRLSign may not sign CRLs (RFC 5280 §4.2.1.3) and is passed over. When no
// certificate is the issuer the CRL is still accepted with signature_checked = false: the
// caller applies its unknown-issuer policy.
//
// Entries: serials are parsed into RevokedSerials with their revocationDate and reasonCode
// (an unreadable reasonCode or one outside RFC 5280 §5.3.1 reads as -1: the entry still
// revokes; removeFromCRL, 8, is kept as such: in a delta CRL it un-revokes, pki/crl_status.h).
// Entries with a negative serial are dropped. In an indirect CRL, entries that a
// certificateIssuer extension attributes to another CA (RFC 5280 §5.3.3: the attribution
// carries over to the following entries) are dropped, since the table answers for this
// CRL's issuer only.
//
// Error codes (Error::code), all with category ValidationFailed:
//   "not_a_crl"             not DER/PEM CertificateList, trailing bytes, unreadable times,
//                           an unreadable deltaCRLIndicator
//   "unsupported"           a critical CRL or entry extension we do not process: CRL
//                           extensions other than cRLNumber, deltaCRLIndicator, AKI,
//                           issuingDistributionPoint, freshestCRL, authorityInfoAccess;
//                           entry extensions other than reasonCode, invalidityDate,
//                           certificateIssuer
//   "issuer_not_crl_signer" every certificate that is the issuer lacks cRLSign
//   "bad_signature"         an issuer that may sign CRLs exists but no such key verifies it
//   "this_update_in_future" thisUpdate > now + clock_skew_s
//   "expired"               nextUpdate present and now >= nextUpdate
Result<ParsedCrl> parseAndValidateCrl(const CrlCheckInput& in);

}  // namespace ocsp
