#include "core/result.h"

namespace ocsp {

const char* categoryName(ErrorCategory c) {
  switch (c) {
    case ErrorCategory::MalformedRequest: return "malformed_request";
    case ErrorCategory::Unauthorized: return "unauthorized";
    case ErrorCategory::SigRequired: return "sig_required";
    case ErrorCategory::UpstreamUnavailable: return "upstream_unavailable";
    case ErrorCategory::ValidationFailed: return "validation_failed";
    case ErrorCategory::Internal: return "internal";
    case ErrorCategory::Config: return "config";
  }
  return "internal";
}

const char* reasonName(Reason r) {
  switch (r) {
    case Reason::Unparsable: return "unparsable";
    case Reason::UpstreamStatus: return "upstream_status";
    case Reason::NotBasic: return "not_basic";
    case Reason::SignerNotFound: return "signer_not_found";
    case Reason::ResponderNotIssuedByIssuer: return "responder_not_issued_by_issuer";
    case Reason::ResponderMissingOcspSigning: return "responder_missing_ocsp_signing";
    case Reason::ResponderCertExpired: return "responder_cert_expired";
    case Reason::BadSignature: return "bad_signature";
    case Reason::CertIdMismatch: return "certid_mismatch";
    case Reason::ThisUpdateInFuture: return "this_update_in_future";
    case Reason::Expired: return "expired";
    case Reason::NonceMismatch: return "nonce_mismatch";
    case Reason::UntrustedChain: return "untrusted_chain";
    case Reason::Internal: return "internal";
  }
  return "internal";
}

}  // namespace ocsp
