#pragma once
// Decodes what a client sends into an OcspQuery (RFC 6960 §4.1, Appendix A; RFC 5019 §5):
// a POST body of DER, or a GET path ending in the base64 of the DER. No routing or caching
// here.
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

// `path` is the request path as received, with its leading '/' and without query string:
// "/MFQwUjBQ%2F...", or with the path of the responder URL the client took from the
// certificate's AIA before it ("/gts1c3/MFQw...", "/gsrsaovsslca2018/MFQw...", "//MFQw..."
// when the AIA URL ends in '/'). Every shape clients send is accepted, in every mode:
//   - %-escapes are decoded first (a malformed one: bad_escape); a space, which a client
//     that form-decodes makes of '+', is read as '+';
//   - the request is the longest suffix starting after a '/' (the base64 may itself hold
//     '/', and runs of '/' are fine) that is the standard base64 (RFC 4648 §4) or base64url
//     (§5), padding optional, of one DER OCSPRequest with nothing after it. That request is
//     decoded as decodeOcspDer() does, its errors (too_many_cert_ids, duplicate_certid, ...)
//     included;
//   - work is bounded: a suffix whose length cannot be that of the base64 of the SEQUENCE
//     its first characters announce is skipped after reading 8 characters, and at most
//     kMaxGetPathCandidates suffixes are decoded in full;
//   - when no suffix is a request, the error is that of the first suffix decoded in full,
//     else of the whole path read as base64 (bad_base64, empty, not_der).
// The result depends on `path` alone (the request memo keys on it).
inline constexpr size_t kMaxGetPathCandidates = 4;
Result<OcspQuery> decodeOcspGetPath(std::string_view path, size_t max_cert_ids = kNoCertIdLimit);

}  // namespace ocsp
