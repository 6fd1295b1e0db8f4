#pragma once
// Unsigned OCSPResponses for the error statuses (RFC 6960 §4.2.1), encoded once.
#include <string>

#include "core/result.h"

namespace ocsp {

// The DER of an OCSPResponse with only responseStatus set.
const std::string& ocspErrorResponse(int status);  // OCSP_RESPONSE_STATUS_*

// Which OCSP status answers an error of this category (STYLE.md: one table).
int ocspStatusFor(ErrorCategory category);

}  // namespace ocsp
