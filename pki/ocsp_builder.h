#pragma once
// Builds and signs an OCSP response (RFC 6960 §4.2.1) with the proxy's own responder
// credentials (pki/responder_credentials.h): the answers the CRL bridge makes from validated
// CRLs (docs/ARCHITECTURE.md §8). Rules:
//   - one SingleResponse per CertID, in the order given, echoing each CertID's DER exactly as
//     the client sent it (RFC 6960 §4.2.2.3: the client matches on it);
//   - certStatus good, revoked (revocationTime, and revocationReason when the CRL gave one,
//     RFC 6960 §4.2.1), or unknown;
//   - thisUpdate and nextUpdate as given (the CRL's, or the delta's when merged), producedAt as
//     given; no nonce (the answer is shared, RFC 5019 §2.2.1);
//   - ResponderID byKey (RFC 6960 §4.2.2.3: SHA-1 of the responder's public key), signed with
//     the credentials' key (SHA-256), the responder certificate embedded so a client that
//     trusts it by subject (Java ocsp.responderCertSubjectName) or by file (openssl ocsp
//     -VAfile) finds it;
//   - the responder certificate carries id-pkix-ocsp-nocheck when made by `responder-key new`;
//     nothing here depends on it.
// Pure function; thread-safe.
#include <cstdint>
#include <string>
#include <vector>

#include "core/cert_id.h"
#include "core/ocsp_entry.h"
#include "core/result.h"
#include "pki/responder_credentials.h"

namespace ocsp {

struct BuiltSingle {
  const CertIdInfo* cert_id = nullptr;  // the CertID as the client sent it
  CertStatus status = CertStatus::Unknown;
  Revocation revocation;                // when revoked; reason -1 = no revocationReason
};

struct OcspBuildInput {
  std::vector<BuiltSingle> singles;     // at least one
  int64_t produced_at = 0;
  int64_t this_update = 0;
  int64_t next_update = 0;              // > this_update
  const ResponderCredentials* signer = nullptr;
};

// The DER OCSPResponse (responseStatus successful). Error code "build_failed" (category
// Internal) when OpenSSL refuses (with its error text), or when the input breaks a rule above.
Result<std::string> buildOcspResponse(const OcspBuildInput& in);

}  // namespace ocsp
