#pragma once
// Validates an upstream OCSP response against the request it answers (DESIGN.md §5).
// A response is accepted only if:
//   - responseStatus is successful and responseBytes is a BasicOCSPResponse (RFC 6960 §4.2.1);
//   - its signature verifies with the issuer's key (CA-direct), or with a delegated responder
//     certificate that the same issuer issued, that carries id-kp-OCSPSigning and is valid at
//     `now` (RFC 6960 §4.2.2.2);
//   - every requested CertID has a SingleResponse and every SingleResponse's CertID was
//     requested (RFC 6960 §4.2.2.3 / §3.2 item 1);
//   - thisUpdate <= now + clock_skew and now < nextUpdate (RFC 6960 §3.2 items 4, 5);
//   - if the request carried a nonce and `expected_nonce` is set, the response echoes it.
// Pure function of its inputs; thread-safe.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ocsp_types.h"

namespace ocsp {

struct ValidationInput {
  std::string_view der;                      // response as received
  const std::vector<CertIdInfo>* cert_ids;   // what was asked
  X509* issuer = nullptr;                    // the CA that issued the certificates asked about
  int64_t now = 0;                           // seconds since epoch (injectable clock)
  int64_t clock_skew_s = 300;
  std::optional<std::string> expected_nonce; // nonce passthrough only
  // forward.unknown_issuer: pass with no issuer to check against: every rule except the
  // signature and the delegation (`issuer` is then ignored and may be null). The result is
  // never cached nor called validated; it only keeps garbage and stale answers from clients.
  bool without_issuer = false;
};

struct ValidatedResponse {
  int64_t produced_at = 0;
  int64_t this_update = 0;        // earliest thisUpdate over all SingleResponses
  int64_t next_update = 0;        // earliest nextUpdate; 0 if any SingleResponse has none
  CertStatus status = CertStatus::Good;  // of the SingleResponse for the first requested CertID
  std::optional<Revocation> revocation;  // when that status is revoked
  bool delegated = false;         // signed by a delegated responder (not the CA itself)
};

// Error codes (Error::code), all with category ValidationFailed unless noted:
//   "unparsable"            not a DER OCSPResponse (trailing bytes count as unparsable)
//   "upstream_status"       responseStatus not successful; category maps the status:
//                           malformedRequest -> MalformedRequest, unauthorized -> Unauthorized,
//                           sigRequired -> SigRequired, others -> UpstreamUnavailable
//   "not_basic"             responseBytes missing or not id-pkix-ocsp-basic
//   "signer_not_found"      no certificate matches the ResponderID (issuer or embedded)
//   "responder_not_issued_by_issuer"  delegated signer not signed by the CertID issuer
//   "responder_missing_ocsp_signing"  delegated signer lacks id-kp-OCSPSigning
//   "responder_cert_expired"          delegated signer not valid at now (either bound)
//   "bad_signature"         the response signature does not verify
//   "certid_mismatch"       a requested CertID is missing or an extra one is present
//   "this_update_in_future" thisUpdate > now + skew
//   "expired"               nextUpdate <= now
//   "nonce_mismatch"        expected_nonce set and not echoed
//   "internal"              (category Internal) caller bug: no issuer or no CertIDs given
// A delegated responder's validity is checked before its EKU, so an expired certificate
// without extensions reports responder_cert_expired.
Result<ValidatedResponse> validateResponse(const ValidationInput& in);

}  // namespace ocsp
