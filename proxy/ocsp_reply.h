#pragma once
// How the result of a lookup becomes the HTTP answer (docs/ARCHITECTURE.md §11): a pure
// function of what the request asked, the chain's answer or error, and the time. No I/O; the
// front (proxy/http_front.h) sends the value with HttpExchange, the unit tests inspect it.
//
// OCSP (ocspReply):
//   - An answer is HTTP 200, Content-Type application/ocsp-response, with the entry's DER
//     byte for byte as the body (referenced, not copied: `keep` holds the entry).
//   - An error is HTTP 200 with an unsigned OCSPResponse that carries only responseStatus
//     (RFC 6960 §4.2.1), chosen by the error's category in one table (proxy/ocsp_errors.h):
//     malformed request -> malformedRequest, unauthorized -> unauthorized, signature required
//     -> sigRequired, upstream unavailable or failed validation -> tryLater, internal or
//     config -> internalError. An error is about this moment: Cache-Control: no-store. A
//     refusal of a distrusted issuer carries X-OCSP-Proxy-Flags: distrusted. (An answer the
//     front serves under a distrust in its `warn` stage carries distrust-pending: the front
//     sets HttpReply::distrust_pending from the Lookup.)
//   - A cacheable answer carries the RFC 5019 §6.2 headers so that HTTP caches on the way
//     keep it exactly as long as we do: Cache-Control "max-age=<fresh_until - now>, public,
//     no-transform, must-revalidate", Expires (fresh_until), Last-Modified (thisUpdate) and
//     ETag (SHA-256 of the DER), as pre-rendered in the entry. A stale answer (served past
//     fresh_until while the upstream is down, docs/ARCHITECTURE.md §4) keeps its headers
//     with max-age=0: a cache may hold it only while it revalidates. Date and Content-Length
//     are added by the connection layer (http/http_server.h) to every answer.
//   - An answer that is not cacheable (it carries this client's nonce: passthrough, RFC 8954;
//     or it was not validated: forward.unknown_issuer pass) gets Cache-Control: no-store and
//     no validators.
//   - Conditional GET and HEAD (RFC 9110 §13.1.2, §13.2.2): a cacheable answer whose ETag
//     equals If-None-Match gets 304 Not Modified with the same headers and no body. POST is
//     never conditional (RFC 9110 §13.2.1: the condition is for retrieval methods), and
//     If-Modified-Since is not used for OCSP: the ETag alone decides.
//   - An answer under an intermediate the issuer watch found revoked carries
//     X-OCSP-Proxy-Flags: issuer_revoked, whatever the answer or error.
//   - Forward-proxy answers (absolute-form requests) follow the same rules; the mode only
//     changes which counter the front increments.
//   - HEAD gets the headers GET would get; the connection layer sends no body for it (RFC
//     9110 §9.3.2) while its Content-Length is that of the body GET would get.
//
// CRL (crlReply): a CRL is HTTP 200, Content-Type application/pkix-crl (RFC 2585 §4.2), its
// bytes exactly as the CA served them, with the same freshness headers up to its hard expiry
// (nextUpdate). 304 when If-None-Match equals the ETag, or, without If-None-Match (RFC 9110
// §13.1.3: If-Modified-Since is then ignored), when If-Modified-Since is at or after its
// thisUpdate. A CRL that could not be had is 502 with a text body naming why, no-store.
//
// caIssuers (caIssuersReply): a certificate download a forward-proxy client asked for (RFC
// 5280 §4.2.2.1) follows the CRL rules, with the Content-Type of what it is
// (pki/ca_issuers_document.h: application/pkix-cert for one DER certificate,
// application/pkcs7-mime for a PKCS#7 bundle, application/x-pem-file for PEM), its freshness up
// to forward.aia_ttl after the download (never past the first notAfter), Last-Modified the
// latest notBefore of its certificates, and 502 text, no-store, when the download failed or
// was not certificates.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cache/crl_store.h"
#include "core/ocsp_entry.h"
#include "core/source.h"
#include "core/result.h"

namespace ocsp {

// What the answer depends on in the request.
struct ReplyRequest {
  std::string_view method = {};                        // "GET", "HEAD" or "POST"
  std::optional<std::string_view> if_none_match = {};  // the field's value, if present
  std::optional<std::string_view> if_modified_since = {};
};

// Which ocsp_proxy_requests_total{result} an OCSP answer counts as, in kOcspResultNames order.
enum class OcspResult : uint8_t {
  Good,
  Revoked,
  Unknown,
  MalformedRequest,
  Unauthorized,
  TryLater,
  InternalError,
  NotModified,
};
inline constexpr int kOcspResults = 8;
inline constexpr const char* kOcspResultNames[kOcspResults] = {
    "good",         "revoked",   "unknown",        "malformed_request",
    "unauthorized", "try_later", "internal_error", "not_modified"};

// The HTTP answer as a value. Header values are views into static text, into the entry that
// `keep` holds, or into the reply itself (cache_control), so the reply stays valid as long as
// it lives, whatever happens to the answer it was made from.
struct HttpReply {
  int code = 200;
  const char* reason = "OK";
  OcspResult result = OcspResult::Good;  // OCSP replies only
  bool issuer_revoked = false;           // X-OCSP-Proxy-Flags: issuer_revoked
  bool distrusted = false;               // X-OCSP-Proxy-Flags: distrusted
  bool distrust_pending = false;         // X-OCSP-Proxy-Flags: distrust-pending
  const char* content_type = nullptr;    // null: none
  FixedText<80> cache_control;           // empty: none
  std::string_view expires;              // empty: none (and the same below)
  std::string_view last_modified;
  std::string_view etag;
  std::string_view bytes;            // the body unless `text` is set
  std::string_view bytes_rest;       // what follows `bytes` (a shared suffix of the DER)
  std::shared_ptr<const void> keep;  // keeps `bytes`, `bytes_rest` and the header views valid
  std::string text;                  // a generated body (error text)

  // The body as sent: `text`, or `bytes` then `bytes_rest` (sent without joining them).
  std::string_view bodyFirst() const { return text.empty() ? bytes : std::string_view(text); }
  std::string_view bodyRest() const { return text.empty() ? bytes_rest : std::string_view(); }
  // The whole body, copied.
  std::string body() const { return std::string(bodyFirst()).append(bodyRest()); }

  // Every header field in the order it is sent; `f(name, value)`.
  template <class F>
  void forEachField(F&& f) const {
    if (issuer_revoked) f("X-OCSP-Proxy-Flags", "issuer_revoked");
    if (distrusted) f("X-OCSP-Proxy-Flags", "distrusted");
    if (distrust_pending) f("X-OCSP-Proxy-Flags", "distrust-pending");
    if (content_type != nullptr) f("Content-Type", content_type);
    if (cache_control.size() != 0) f("Cache-Control", cache_control.view());
    if (!expires.empty()) f("Expires", expires);
    if (!last_modified.empty()) f("Last-Modified", last_modified);
    if (!etag.empty()) f("ETag", etag);
  }
};

// The answer to an OCSP request given the chain's result; `now` in seconds since the epoch
// (the same clock as the entry's fresh_until); `issuer_revoked` as the policy stage found it
// (Lookup::issuer_revoked, docs/ARCHITECTURE.md §9).
HttpReply ocspReply(const ReplyRequest& request, const Result<Answer>& result,
                    bool issuer_revoked, int64_t now);

// The answer to an OCSP request that could not be decoded (or listed too many CertIDs): the
// OCSP error status of `category`, counted as malformed_request.
HttpReply undecodableRequestReply(ErrorCategory category);

// The answer to a CRL request given the CRL service's result.
HttpReply crlReply(const ReplyRequest& request,
                   const Result<std::shared_ptr<const CrlEntry>>& result, int64_t now);

// The answer to a caIssuers request given the caIssuers service's result.
HttpReply caIssuersReply(const ReplyRequest& request,
                         const Result<std::shared_ptr<const CrlEntry>>& result, int64_t now);

}  // namespace ocsp
