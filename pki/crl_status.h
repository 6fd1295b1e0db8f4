#pragma once
// What a validated CRL, merged with its delta CRL, says about one serial (docs/ARCHITECTURE.md
// §8): the status the CRL bridge (upstream/crl_bridge_source.h) answers from. Pure functions,
// thread-safe.
// Delta CRLs (RFC 5280 §5.2.4): a delta lists what changed since a base complete CRL. It may
// be merged with a complete CRL `base` only if:
//   - it is a delta (has a deltaCRLIndicator) and `base` is not;
//   - both have the same issuer name (DER) and, when both signatures were checked, the same
//     signer (the same CA key signs both: RFC 5280 §5.2.4 "issued by the same CA");
//   - neither has a narrower scope than the other (partial_scope equal, so a user-certs-only
//     delta is not read as covering CA certificates);
//   - base.crl_number >= delta.base_crl_number (the delta was built on this base or an older
//     one, RFC 5280 §5.2.4) and delta.crl_number > base.crl_number (it is newer than the base).
// Merge rule for one serial: an entry in the delta wins over the base; an entry with reason
// removeFromCRL (8, RFC 5280 §5.3.1) in the delta means the serial is no longer revoked (it
// was on hold); removeFromCRL in a complete CRL is ignored (the serial is not listed there).
#include <string_view>

#include "core/result.h"
#include "pki/crl.h"

namespace ocsp {

// Error codes (category ValidationFailed): "not_a_delta" (delta lacks a deltaCRLIndicator or
// base has one), "delta_issuer_mismatch", "delta_scope_mismatch", "delta_base_mismatch"
// (base.crl_number < delta.base_crl_number, or either number missing), "delta_not_newer"
// (delta.crl_number <= base.crl_number, or the delta has no cRLNumber). Checked in this order;
// the detail names both CRLs' numbers.
Status checkDeltaFor(const ParsedCrl& base, const ParsedCrl& delta);

struct CrlListing {
  bool revoked = false;         // listed (and not removed by the delta)
  CrlRevocation revocation;     // when revoked: time and reason
};

// The serial's listing in `base` merged with `delta` (may be null; the caller checked it with
// checkDeltaFor). `serial`: INTEGER content bytes as a CertID carries them.
CrlListing crlListing(const ParsedCrl& base, const ParsedCrl* delta, std::string_view serial);

}  // namespace ocsp
