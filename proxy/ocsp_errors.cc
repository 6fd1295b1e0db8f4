#include "proxy/ocsp_errors.h"

#include <array>

#include "core/ossl.h"

namespace ocsp {

namespace {
std::string encodeStatus(int status) {
  OcspResponsePtr resp(OCSP_response_create(status, nullptr));
  return toDer(resp.get(), i2d_OCSP_RESPONSE);
}
}  // namespace

const std::string& ocspErrorResponse(int status) {
  // Statuses 0..6 (4 is unused by RFC 6960); built once, thread-safe static init.
  static const std::array<std::string, 7> table = [] {
    std::array<std::string, 7> t;
    for (int s = 0; s < 7; ++s) t[static_cast<size_t>(s)] = encodeStatus(s);
    return t;
  }();
  if (status < 0 || status > 6) status = OCSP_RESPONSE_STATUS_INTERNALERROR;
  return table[static_cast<size_t>(status)];
}

int ocspStatusFor(ErrorCategory category) {
  switch (category) {
    case ErrorCategory::MalformedRequest: return OCSP_RESPONSE_STATUS_MALFORMEDREQUEST;
    case ErrorCategory::Unauthorized: return OCSP_RESPONSE_STATUS_UNAUTHORIZED;
    case ErrorCategory::SigRequired: return OCSP_RESPONSE_STATUS_SIGREQUIRED;
    case ErrorCategory::UpstreamUnavailable:
    case ErrorCategory::ValidationFailed: return OCSP_RESPONSE_STATUS_TRYLATER;
    case ErrorCategory::Internal:
    case ErrorCategory::Config: return OCSP_RESPONSE_STATUS_INTERNALERROR;
  }
  return OCSP_RESPONSE_STATUS_INTERNALERROR;
}

}  // namespace ocsp
