#pragma once
// Validates an upstream OCSP response against the request it answers (docs/ARCHITECTURE.md §7).
// A response is accepted only if:
//   - responseStatus is successful and responseBytes is a BasicOCSPResponse (RFC 6960 §4.2.1);
//   - its signature verifies with the issuer's key (CA-direct), or with a delegated responder
//     certificate that the same issuer issued, that carries id-kp-OCSPSigning and is valid at
//     `now` (RFC 6960 §4.2.2.2);
//   - every requested CertID has a SingleResponse and every SingleResponse's CertID was
//     requested (RFC 6960 §4.2.2.3 / §3.2 item 1);
//   - thisUpdate <= now + clock_skew and now < nextUpdate (RFC 6960 §3.2 items 4, 5);
//   - with `expected_nonce` set (the request's nonce), a response that carries a nonce carries
//     exactly that one; a response without a nonce is accepted and says so (nonce_echoed
//     false): the nonce is optional (RFC 6960 §4.4.1), RFC 5019 responders leave it out.
// Its result is a function of its inputs (the issuer signatures of delegated responder
// certificates are remembered per certificate pair, which only saves work); thread-safe.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/cert_id.h"
#include "core/ocsp_entry.h"
#include "core/result.h"

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
  // The proxy's own responder certificate (crl_bridge.cert, pki/responder_credentials.h), or
  // null. An answer signed by it (its ResponderID naming it, this very certificate embedded,
  // byte for byte, and the signature verifying with its key) is accepted for any issuer: the
  // proxy built it from a CRL it validated (docs/ARCHITECTURE.md §8). Such an answer is not
  // `delegated`; a signature by it that does not verify is "bad_signature"; an answer that
  // does not name it or lacks the certificate goes through the issuer rules above. Every other
  // rule applies unchanged. Re-validation of cached copies (Redis, the state snapshot) passes
  // it so such answers survive there too; ValidationMemo keys on it.
  X509* local_responder = nullptr;
  // SHA-256 of `der` (32 raw bytes) if the caller computed it already; the validation memo
  // keys on it. Empty: computed when needed.
  std::string_view der_sha256 = {};
};

struct ValidatedResponse {
  int64_t produced_at = 0;
  int64_t this_update = 0;        // earliest thisUpdate over all SingleResponses
  int64_t next_update = 0;        // earliest nextUpdate; 0 if any SingleResponse has none
  CertStatus status = CertStatus::Good;  // of the SingleResponse for the first requested CertID
  std::optional<Revocation> revocation;  // when that status is revoked
  bool delegated = false;         // signed by a delegated responder (not the CA itself)
  bool nonce_echoed = false;      // expected_nonce was set and the response carries it
  // What the checks that depend on `now` compared against, so that an accepted response can
  // be judged again at another time without validating it again (recheckTimes below):
  int64_t latest_this_update = 0;    // latest thisUpdate over all SingleResponses
  int64_t earliest_next_update = 0;  // earliest nextUpdate of those that have one; 0 if none
  int64_t responder_not_before = 0;  // delegated: the responder certificate's validity,
  int64_t responder_not_after = 0;   // seconds since epoch; 0 when not delegated
};

// Error codes (Error::code; Error::reason is the matching core/result.h Reason), all with
// category ValidationFailed unless noted:
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
//   "nonce_mismatch"        expected_nonce set and the response carries another nonce (or
//                           more than one nonce extension)
//   "internal"              (category Internal) caller bug: no issuer or no CertIDs given
// A delegated responder's validity is checked before its EKU, so an expired certificate
// without extensions reports responder_cert_expired.
Result<ValidatedResponse> validateResponse(const ValidationInput& in);

// The checks of validateResponse that depend on `now`, redone at `now` on a response it
// accepted with the same clock_skew_s: the delegated responder's validity first, then
// thisUpdate and nextUpdate, failing with the code validateResponse would give at that `now`
// ("responder_cert_expired", "this_update_in_future", "expired"). Since the response passed
// all of them at one time, thisUpdate and nextUpdate cannot both fail at another, so the
// order of its SingleResponses does not matter. The details cannot name a CertID.
Status recheckTimes(const ValidatedResponse& accepted, int64_t now, int64_t clock_skew_s);

}  // namespace ocsp
