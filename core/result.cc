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

}  // namespace ocsp
