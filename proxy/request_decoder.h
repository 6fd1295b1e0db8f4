#pragma once
// Decodes what a client sends into an OcspQuery (RFC 6960 §4.1, Appendix A; RFC 5019 §5):
// a POST body of DER, or a GET path holding the base64 of the DER (standard alphabet
// URL-encoded, or base64url; padding optional). No routing or caching here.
#include <cstddef>
#include <limits>
#include <string_view>

#include "core/source.h"

namespace ocsp {

// A request is malformed (Error category MalformedRequest) when: it is not a DER
// OCSPRequest (BER such as indefinite or non-minimal lengths is refused too: RFC 6960 §4.1
// requires DER; checked by encoding the parsed request again and comparing, which costs a
// few µs, paid only when the request memo (proxy/request_memo.h) does not know the bytes),
// has bytes after the DER, has no CertID, lists more than `max_cert_ids` CertIDs (code
// too_many_cert_ids: limits.max_cert_ids_per_request, checked before any CertID is decoded),
// lists one CertID twice (duplicate_certid: no answer could fit it), or a CertID uses a hash
// algorithm we do not know. Signed requests are accepted; their signature is not our business (we do not
// require signed requests and never forward them as-is unless nonce passthrough applies).
inline constexpr size_t kNoCertIdLimit = std::numeric_limits<size_t>::max();
Result<OcspQuery> decodeOcspDer(std::string_view der, size_t max_cert_ids = kNoCertIdLimit);

// `path` is the request path as received (after the listener's prefix), with its leading
// '/' and without query string, e.g. "/MFQwUjBQ%2F...".
Result<OcspQuery> decodeOcspGetPath(std::string_view path, size_t max_cert_ids = kNoCertIdLimit);

}  // namespace ocsp
