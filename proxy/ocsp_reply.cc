#include "proxy/ocsp_reply.h"

#include <openssl/ocsp.h>

#include <charconv>
#include <cstring>

#include "core/log.h"
#include "proxy/ocsp_errors.h"

namespace ocsp {

namespace {

constexpr const char* kOcspResponseType = "application/ocsp-response";
constexpr const char* kCrlType = "application/pkix-crl";  // RFC 2585 §4.2

OcspResult resultFor(int ocsp_status) {
  switch (ocsp_status) {
    case OCSP_RESPONSE_STATUS_MALFORMEDREQUEST: return OcspResult::MalformedRequest;
    case OCSP_RESPONSE_STATUS_TRYLATER: return OcspResult::TryLater;
    case OCSP_RESPONSE_STATUS_UNAUTHORIZED:
    case OCSP_RESPONSE_STATUS_SIGREQUIRED: return OcspResult::Unauthorized;
    default: return OcspResult::InternalError;
  }
}

OcspResult resultFor(CertStatus status) {
  switch (status) {
    case CertStatus::Good: return OcspResult::Good;
    case CertStatus::Revoked: return OcspResult::Revoked;
    case CertStatus::Unknown: break;
  }
  return OcspResult::Unknown;
}

// An unsigned OCSPResponse with only `ocsp_status` (RFC 6960 §4.2.1), not to be kept.
void setOcspError(HttpReply& r, int ocsp_status) {
  r.content_type = kOcspResponseType;
  r.cache_control = "no-store";
  r.bytes = ocspErrorResponse(ocsp_status);  // static: outlives every reply
  r.result = resultFor(ocsp_status);
}

// RFC 5019 §6.2: let HTTP caches keep the answer until it stops being fresh.
void setFreshness(HttpReply& r, int64_t max_age, std::string_view expires,
                  std::string_view last_modified, std::string_view etag) {
  if (max_age < 0) max_age = 0;
  char cc[80] = "max-age=";
  char* p = std::to_chars(cc + 8, cc + 40, max_age).ptr;
  static constexpr std::string_view kRest = ", public, no-transform, must-revalidate";
  std::memcpy(p, kRest.data(), kRest.size());
  p += kRest.size();
  r.cache_control = std::string_view(cc, static_cast<size_t>(p - cc));
  r.expires = expires;
  r.last_modified = last_modified;
  r.etag = etag;
}

bool etagMatches(const ReplyRequest& request, std::string_view etag) {
  return request.if_none_match && *request.if_none_match == etag;
}

}  // namespace

HttpReply ocspReply(const ReplyRequest& request, const Result<Answer>& result,
                    bool issuer_revoked, int64_t now) {
  HttpReply r;
  r.issuer_revoked = issuer_revoked;
  if (!result) {
    r.distrusted = result.error().code == "distrusted_issuer";
    setOcspError(r, ocspStatusFor(result.error().category));
    return r;
  }
  const OcspEntry& e = *result->entry;
  r.content_type = kOcspResponseType;
  r.keep = result->entry;
  if (e.cacheable) {
    setFreshness(r, e.fresh_until - now, e.expires, e.last_modified, e.etag);
  } else {
    // Carries this client's nonce, or was not validated (forward.unknown_issuer: pass).
    r.cache_control = "no-store";
  }
  if (e.cacheable && request.method != "POST" && etagMatches(request, e.etag)) {
    r.code = 304;
    r.reason = "Not Modified";
    r.result = OcspResult::NotModified;
    return r;
  }
  r.result = resultFor(e.status);
  // The body references the cached bytes (no copy), in the two parts the entry holds them in
  // (core/entry_der.h); `keep` holds the entry until they are sent.
  r.bytes = e.der.prefix();
  r.bytes_rest = e.der.suffix();
  return r;
}

HttpReply undecodableRequestReply(ErrorCategory category) {
  HttpReply r;
  setOcspError(r, ocspStatusFor(category));
  r.result = OcspResult::MalformedRequest;
  return r;
}

namespace {

// A document of the CRL chain (a CRL, a caIssuers download): its bytes as the CA served them
// with the freshness headers up to its hard expiry, or 502 naming why it could not be had.
HttpReply documentReply(const ReplyRequest& request,
                        const Result<std::shared_ptr<const CrlEntry>>& result, int64_t now,
                        const char* what) {
  HttpReply r;
  if (!result) {
    // The service logs the URL and the detail.
    r.code = 502;
    r.reason = "Bad Gateway";
    r.content_type = "text/plain; charset=utf-8";
    r.cache_control = "no-store";
    r.text = std::string(what) + " not available: " + result.error().code + "\n";
    return r;
  }
  const std::shared_ptr<const CrlEntry>& e = *result;
  r.content_type = e->kind == DocKind::Crl ? kCrlType : contentTypeOf(e->ca_issuers.form);
  r.keep = e;
  setFreshness(r, e->hard_expiry - now, e->expires, e->last_modified, e->etag);
  bool not_modified = etagMatches(request, e->etag);
  if (!not_modified && !request.if_none_match && request.if_modified_since) {
    // RFC 9110 §13.1.3: If-Modified-Since is ignored when If-None-Match is present.
    const int64_t since = parseHttpDate(*request.if_modified_since);
    not_modified = since >= 0 && e->issued() <= since;
  }
  if (not_modified) {
    r.code = 304;
    r.reason = "Not Modified";
    return r;
  }
  // A CRL may be tens of MB: the body references the cached bytes, `keep` holds the entry.
  r.bytes = e->bytes;
  return r;
}

}  // namespace

HttpReply crlReply(const ReplyRequest& request,
                   const Result<std::shared_ptr<const CrlEntry>>& result, int64_t now) {
  return documentReply(request, result, now, "CRL");
}

HttpReply caIssuersReply(const ReplyRequest& request,
                         const Result<std::shared_ptr<const CrlEntry>>& result, int64_t now) {
  return documentReply(request, result, now, "caIssuers certificate");
}

}  // namespace ocsp
