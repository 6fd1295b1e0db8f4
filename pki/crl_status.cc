#include "pki/crl_status.h"

#include <string>
#include <utility>

namespace ocsp {
namespace {

constexpr int kRemoveFromCrl = 8;  // RFC 5280 §5.3.1 CRLReason removeFromCRL

Error refuse(std::string code, std::string detail) {
  return makeError(ErrorCategory::ValidationFailed, std::move(code), std::move(detail));
}

// <0, 0, >0 as the CRL numbers a and b (lower-case hex, pki/crl.h) compare as integers.
int compareNumbers(std::string_view a, std::string_view b) {
  while (a.size() > 1 && a.front() == '0') a.remove_prefix(1);
  while (b.size() > 1 && b.front() == '0') b.remove_prefix(1);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return a.compare(b);
}

std::string numberText(const std::string& hex) { return hex.empty() ? "none" : "0x" + hex; }

}  // namespace

Status checkDeltaFor(const ParsedCrl& base, const ParsedCrl& delta) {
  if (!delta.delta) return refuse("not_a_delta", "the CRL of " + delta.issuer + " is not a delta");
  if (base.delta) {
    return refuse("not_a_delta", "the base CRL of " + base.issuer + " is a delta itself");
  }
  if (base.issuer_der != delta.issuer_der) {
    return refuse("delta_issuer_mismatch",
                  "delta of " + delta.issuer + " for a CRL of " + base.issuer);
  }
  if (base.signature_checked && delta.signature_checked &&
      base.signer_key_sha1 != delta.signer_key_sha1) {
    return refuse("delta_issuer_mismatch", "delta of " + delta.issuer +
                                               " signed by another key than its base (" +
                                               delta.signer + ", " + base.signer + ")");
  }
  if (base.partial_scope != delta.partial_scope) {
    return refuse("delta_scope_mismatch",
                  std::string("the ") + (delta.partial_scope ? "delta" : "base") + " CRL of " +
                      base.issuer + " has a narrower scope (issuingDistributionPoint)");
  }
  const std::string numbers = "base CRL number " + numberText(base.crl_number) +
                              ", delta's BaseCRLNumber " + numberText(delta.base_crl_number) +
                              ", delta CRL number " + numberText(delta.crl_number);
  // RFC 5280 §5.2.4: the delta was built on a base numbered BaseCRLNumber; it completes any
  // complete CRL at least that new.
  if (base.crl_number.empty() || delta.base_crl_number.empty() ||
      compareNumbers(base.crl_number, delta.base_crl_number) < 0) {
    return refuse("delta_base_mismatch", "delta of " + delta.issuer + " needs a newer base: " +
                                             numbers);
  }
  if (delta.crl_number.empty() || compareNumbers(delta.crl_number, base.crl_number) <= 0) {
    return refuse("delta_not_newer",
                  "delta of " + delta.issuer + " is not newer than its base: " + numbers);
  }
  return Ok{};
}

CrlListing crlListing(const ParsedCrl& base, const ParsedCrl* delta, std::string_view serial) {
  CrlListing out;
  std::optional<CrlRevocation> hit;
  if (delta != nullptr) hit = delta->revoked.find(serial);
  if (!hit) hit = base.revoked.find(serial);
  // RFC 5280 §5.3.1: removeFromCRL "is for use only in delta CRLs"; in the delta it ends a
  // hold, in a complete CRL the serial is not listed.
  if (hit && hit->reason != kRemoveFromCrl) {
    out.revoked = true;
    out.revocation = *hit;
  }
  return out;
}

}  // namespace ocsp
