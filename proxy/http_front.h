#pragma once
// The thin HTTP handler (docs/ARCHITECTURE.md §1, §2, §11; STYLE.md). Three modes on one
// listener (core/source.h Mode):
//   - local responder: origin-form requests ("POST /", "GET /<base64>") with any other Host:
//     an OCSP POST or RFC 5019 GET, answered through the source chain;
//   - forward proxy: absolute-form requests ("POST http://ocsp.example/ HTTP/1.1") from
//     clients that use us as their HTTP proxy (forward.enabled). Only allow-listed FQDNs
//     (AllowList) are served: OCSP URLs go through the same chain (and cache keys) as the
//     local responder, routed by the URL's FQDN; CRL URLs are answered by the CrlService,
//     caIssuers URLs (forward.aia_fqdns hosts, upstream/allow_list.h) by the CrlService of
//     kind CaIssuers.
//   - transparent (DNS-override): an origin-form request with exactly one Host header whose
//     host and port (80 when it writes none) AllowList::lists() is served exactly as the
//     absolute-form request for "http://<Host><target>" in forward mode (the same refusals,
//     minus the Host check the URL was made from), counted and logged as mode transparent.
//     The site's DNS sends the CAs' names to us, so the client asked the CA. It does not
//     depend on forward.enabled: it reaches nothing forward mode could not, and a proxy that
//     nobody's DNS points at never sees such a Host. Any other Host (the proxy's own name or
//     address, a host nobody allowed, several Host headers, none) is the local responder.
// Never an open proxy: only hosts the allow list names are ever contacted for a client.
// It decodes, calls the chain, and sends the HTTP answer that proxy/ocsp_reply.h makes of
// the result (status, OCSP error bodies, RFC 5019 §6.2 headers, 304): this file is the I/O
// around that pure function. Knows nothing about caches or curl.
//
// HTTP statuses it produces itself:
//   508  in every mode, a request whose Via names this process: its own upstream fetch come
//        back (DNS points a CA's name here and the proxy resolves it the same way;
//        proxy/request_loop.h)
//   405  methods other than GET/HEAD/POST (with Allow), CONNECT, POST to a CRL or caIssuers URL
//   403  forward request to a host that is not allowed, an IP literal, userinfo, a port not
//        configured, https, or forward mode disabled; forward or transparent request for a
//        CRL URL with a query crl.urls does not list (event=forward_refused reason=...)
//   400  absolute URI that does not parse, or a Host header that disagrees with it
//   304  GET or HEAD whose If-None-Match matches the ETag (OCSP, CRL), or CRL
//        If-Modified-Since (proxy/ocsp_reply.h)
//   502  CRL that could not be fetched or did not validate, caIssuers download that could not
//        be fetched or was not certificates (reason in the body and the log)
//   503  a new connection over limits.max_connections, or over the open-file limit's share for
//        client connections, when no slower connection could make room (Retry-After; sent
//        at once on accept, then closed)                       limit=connections, open_files
//   408  a request head, or body, not complete within limits.request_timeout (however
//        steadily its bytes trickle in)                         limit=request_timeout
//   408  a connection closed to make room for a new one (the slowest: no complete request for
//        the longest time, at least 1 s)                        limit=evicted
//   431  more request header fields than limits.max_headers, or a header block over
//        limits.max_header_bytes; chunked trailer fields count against both, head and
//        trailers together                                      limit=headers, header_bytes
//   413  a body over limits.max_request_bytes                   limit=body
//   429  more requests per second from one address than limits.rate_per_client (Retry-After)
//                                                               limit=rate
// A request listing more CertIDs than limits.max_cert_ids_per_request gets OCSP
// malformedRequest                                               limit=cert_ids
// Each refusal by a limit is counted in ocsp_proxy_limit_rejections_total{limit} and logged
// (event=limit_rejected). Events a client can trigger at will (limit_rejected,
// forward_refused, malformed_request) are logged within a global budget per event
// (core/log.h LogRateLimit: 10 lines a second, then suppressed=K on a later line). The
// connection layer (http/http_server.h) finds all but the rate and CertID limits and answers
// protocol errors (400, 417, 501, 505) itself; it drops clients idle past
// limits.client_timeout.
// OCSP answers are HTTP 200 with an OCSPResponse body: the answer, or an unsigned error
// status (malformedRequest, unauthorized, tryLater, internalError; RFC 6960 §4.2.1); the
// rules for their headers are in proxy/ocsp_reply.h.
//
// Every OCSP answer (good, revoked, unknown or an error status) is counted
// (ocsp_proxy_answers_total{upstream,status}) and written to the revocation log, one line per
// CertID, and each CertID answered `revoked` to the status page's recent revocations
// (proxy/recent_revocations.h, with or without the log); an answer under a watched
// intermediate found revoked carries `X-OCSP-Proxy-Flags: issuer_revoked`, a refusal of a
// distrusted issuer `distrusted`, an answer served under a distrust still in its `warn` stage
// `distrust-pending` (Lookup::distrust_pending).
//
// Threading: one instance per worker; handle() runs on that worker's event loop thread.

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cache/crl_store.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "core/mailbox.h"
#include "core/source.h"
#include "core/url.h"
#include "upstream/allow_list.h"
#include "http/client_limits.h"
#include "http/http_server.h"
#include "proxy/front_limits.h"
#include "proxy/ocsp_reply.h"
#include "proxy/request_memo.h"
#include "proxy/recent_revocations.h"
#include "proxy/revocation_log.h"
#include "upstream/crl_service.h"

namespace ocsp {

// What the front reads of the config (derived in proxy/component_options.cc).
struct FrontOptions {
  FrontLimitOptions limits;  // the limits.* keys a refusal names, and the rate

  size_t max_cert_ids_per_request = 0;     // limits.max_cert_ids_per_request
  size_t request_memo_bytes = 0;           // each of the GET and POST memos (proxy/request_memo.h)
  bool forward_enabled = false;            // forward.enabled
};

// What one worker's front needs. Everything referenced must outlive the front and every
// request in flight.
struct FrontDeps {
  Source& chain;
  const Clock& clock;
  FrontOptions options;
  const AllowList& allow;
  CrlService* crl;                  // null: CRL URLs get 502
  Mailbox& mailbox;                 // this worker's
  RevocationLog* revocation_log;    // null: no revocation log
  Metrics* metrics;                 // null: not counted (tests)
  ConnectionGate* connections;      // null: no connection limit
  RateLimiter* rate;                // null: no rate limit
  CrlService* ca_issuers = nullptr;  // the caIssuers service; null: caIssuers URLs get 502
  RecentRevocations* recent_revocations = nullptr;  // revoked answers for the status page
};

class HttpFront final : public HttpHandler {
 public:
  explicit HttpFront(FrontDeps deps);
  HttpFront(const HttpFront&) = delete;
  HttpFront& operator=(const HttpFront&) = delete;

  // The exchange stays valid until answered (http/http_server.h), even if its client goes.
  void onRequest(HttpExchange& ex) override;

 private:
  // The OCSP request of a POST body or of a GET/HEAD `get_path`; nullopt for other methods.
  // The query is this request's own (a remembered one reused, or a new one).
  std::optional<Result<std::shared_ptr<OcspQuery>>> decodeOcspRequest(HttpExchange& ex,
                                                                      std::string_view get_path);
  // The URL of an absolute-form request that forward mode may serve; nullopt if `ex` was
  // answered with a refusal.
  std::optional<HttpUrl> forwardUrl(HttpExchange& ex);
  // The URL an origin-form request means in transparent mode (its one Host header names a
  // host the allow list lists), else nullopt: the local responder answers it.
  std::optional<HttpUrl> transparentUrl(const HttpExchange& ex) const;
  // A request for `url` in forward or transparent mode: refused unless the allow list lets
  // it reach that host; a CRL URL goes to the CrlService, anything else is OCSP.
  void handleForward(HttpExchange& ex, const HttpUrl& url, Mode mode, int64_t started_ms);
  void lookupOcsp(HttpExchange& ex, Result<std::shared_ptr<OcspQuery>> decoded,
                  int64_t started_ms, Mode mode, const ForwardTarget* forward);
  void answer(HttpExchange& ex, const Lookup& lookup, const Result<Answer>& result,
              int64_t started_ms);
  // The status of each CertID of a multi-CertID answer (empty for one CertID or an error).
  using Statuses = std::vector<std::pair<CertStatus, std::optional<Revocation>>>;
  void countAnswers(const Lookup& lookup, const Result<Answer>& result, const Statuses& statuses);
  void logAnswer(const Lookup& lookup, const Result<Answer>& result, const Statuses& statuses,
                 int64_t latency_ms);
  // One record: to the revocation log if on, and to the recent revocations if revoked.
  void record(const RevocationRecord& r);
  // A CRL or caIssuers URL: GET or HEAD only, answered by `service` (null: 502).
  void lookupDocument(HttpExchange& ex, const HttpUrl& url, CrlService* service, DocKind kind);
  void answerDocument(HttpExchange& ex, DocKind kind,
                      const Result<std::shared_ptr<const CrlEntry>>& result);
  void count(Mode mode, OcspResult result);
  void refuse(HttpExchange& ex, int code, const char* reason_phrase, const std::string& reason,
              const std::string& host, const std::string& detail);

  FrontDeps d_;
  // Resolved once: the request path only does relaxed atomic adds (core/metrics.h).
  Counter* requests_[kModes][kOcspResults] = {};  // [mode][OcspResult]
  Counter* hits_[3] = {};                // memory, redis, stale
  Counter* misses_ = nullptr;
  Counter* coalesced_ = nullptr;
  // ocsp_proxy_answers_total by upstream name ("" unrouted), then good, revoked, unknown,
  // error; resolved on a name's first answer (names come from the config: a small map).
  std::unordered_map<std::string, std::array<Counter*, 4>> answers_;
  FrontLimits limits_;
  RequestMemo post_memo_;
  RequestMemo get_memo_;
};

}  // namespace ocsp
