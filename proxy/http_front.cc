#include "proxy/http_front.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <openssl/ocsp.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>

#include "core/log.h"
#include "proxy/ocsp_errors.h"
#include "proxy/request_decoder.h"

namespace ocsp {

namespace {

constexpr const char* kOcspResponseType = "application/ocsp-response";
constexpr const char* kCrlType = "application/pkix-crl";  // RFC 2585 §4.2

// ocsp_proxy_requests_total{result}, in HttpFront::requests_ order.
constexpr const char* kResultNames[] = {"good",         "revoked",   "unknown",
                                        "malformed_request", "unauthorized", "try_later",
                                        "internal_error",    "not_modified"};
enum ResultIndex { kGood, kRevoked, kUnknown, kMalformed, kUnauthorized, kTryLater, kInternal, kNotModified };

int resultIndexFor(int ocsp_status) {
  switch (ocsp_status) {
    case OCSP_RESPONSE_STATUS_MALFORMEDREQUEST: return kMalformed;
    case OCSP_RESPONSE_STATUS_TRYLATER: return kTryLater;
    case OCSP_RESPONSE_STATUS_UNAUTHORIZED:
    case OCSP_RESPONSE_STATUS_SIGREQUIRED: return kUnauthorized;
    default: return kInternal;
  }
}

int resultIndexFor(CertStatus status) {
  return status == CertStatus::Good ? kGood : status == CertStatus::Revoked ? kRevoked : kUnknown;
}

std::string peerOf(evhttp_request* req) {
  evhttp_connection* conn = evhttp_request_get_connection(req);
  if (conn == nullptr) return "";
  char* addr = nullptr;
  ev_uint16_t port = 0;
  evhttp_connection_get_peer(conn, &addr, &port);
  return std::string(addr != nullptr ? addr : "?") + ":" + std::to_string(port);
}

// The client's address without the port: what a per-client limit counts.
std::string peerAddress(evhttp_connection* conn) {
  char* addr = nullptr;
  ev_uint16_t port = 0;
  evhttp_connection_get_peer(conn, &addr, &port);
  return addr != nullptr ? addr : "?";
}

void sendBody(evhttp_request* req, int code, const char* reason, std::string_view body) {
  evbuffer_add(evhttp_request_get_output_buffer(req), body.data(), body.size());
  evhttp_send_reply(req, code, reason, nullptr);
}

void sendText(evhttp_request* req, int code, const char* reason, const std::string& text) {
  evkeyvalq* h = evhttp_request_get_output_headers(req);
  evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
  evhttp_add_header(h, "Cache-Control", "no-store");
  sendBody(req, code, reason, text + "\n");
}

void sendOcspError(evhttp_request* req, int ocsp_status) {
  evkeyvalq* h = evhttp_request_get_output_headers(req);
  evhttp_add_header(h, "Content-Type", kOcspResponseType);
  // An error status is about this moment; caches must not keep it.
  evhttp_add_header(h, "Cache-Control", "no-store");
  sendBody(req, HTTP_OK, "OK", ocspErrorResponse(ocsp_status));
}

void methodNotAllowed(evhttp_request* req, const char* allow, const std::string& why) {
  evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
  sendText(req, 405, "Method Not Allowed", why);
}

void addFreshnessHeaders(evkeyvalq* h, int64_t max_age, const std::string& expires,
                         const std::string& last_modified, const std::string& etag) {
  if (max_age < 0) max_age = 0;
  // RFC 5019 §6.2: let HTTP caches keep the answer until it stops being fresh.
  std::string cc = "max-age=" + std::to_string(max_age) + ", public, no-transform, must-revalidate";
  evhttp_add_header(h, "Cache-Control", cc.c_str());
  evhttp_add_header(h, "Expires", expires.c_str());
  evhttp_add_header(h, "Last-Modified", last_modified.c_str());
  evhttp_add_header(h, "ETag", etag.c_str());
}

bool etagMatches(evhttp_request* req, const std::string& etag) {
  const char* inm = evhttp_find_header(evhttp_request_get_input_headers(req), "If-None-Match");
  return inm != nullptr && etag == inm;
}

// The OCSP GET path of a forward URL: the target without its query, and without the
// upstream's configured path prefix ("/ocsp/MFQw..." with path "/ocsp" -> "/MFQw...").
std::string ocspGetPath(const std::string& target, const std::string& upstream_path) {
  std::string path = target.substr(0, target.find('?'));
  std::string prefix = upstream_path;
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (!prefix.empty() && path.compare(0, prefix.size() + 1, prefix + "/") == 0) {
    path.erase(0, prefix.size());
  }
  return path;
}

// RFC 9110 §7.2: a request with several Host headers is refused; one that names another host
// than the absolute URI is a smuggling attempt or a confused client.
bool hostHeaderAgrees(evhttp_request* req, const HttpUrl& url, std::string* seen) {
  int count = 0;
  const evkeyvalq* headers = evhttp_request_get_input_headers(req);
  for (const evkeyval* kv = headers->tqh_first; kv != nullptr; kv = kv->next.tqe_next) {
    if (evutil_ascii_strcasecmp(kv->key, "Host") != 0) continue;
    ++count;
    *seen = kv->value;
  }
  if (count == 0) return true;  // HTTP/1.0: the URI alone names the host
  return count == 1 && hostHeaderMatches(*seen, url);
}

// ocsp_proxy_limit_rejections_total{limit}, in HttpFront::limit_rejections_ order.
enum LimitIndex { kLimitConnections, kLimitHeaders, kLimitHeaderBytes, kLimitBody, kLimitRate };
constexpr const char* kLimitNames[] = {"connections", "headers", "header_bytes", "body", "rate"};

// evbuffer_add_reference cleanup: drops the reply's hold on a cached entry.
template <class Entry>
void releaseEntry(const void*, size_t, void* holder) {
  delete static_cast<std::shared_ptr<const Entry>*>(holder);
}

}  // namespace

HttpFront::HttpFront(FrontDeps deps) : d_(std::move(deps)) {
  if (d_.metrics == nullptr) return;
  static_assert(sizeof(kResultNames) / sizeof(kResultNames[0]) == kResults);
  for (int mode = 0; mode < 2; ++mode) {
    for (int r = 0; r < kResults; ++r) {
      requests_[mode][r] = &d_.metrics->counter(Metric::Requests,
                                                {mode == 0 ? "responder" : "forward", kResultNames[r]});
    }
  }
  const char* layers[] = {"memory", "redis", "stale"};
  for (int i = 0; i < 3; ++i) hits_[i] = &d_.metrics->counter(Metric::CacheHits, {layers[i]});
  misses_ = &d_.metrics->counter(Metric::CacheMisses);
  coalesced_ = &d_.metrics->counter(Metric::Coalesced);
  for (int i = 0; i < kLimits; ++i) {
    limit_rejections_[i] = &d_.metrics->counter(Metric::LimitRejections, {kLimitNames[i]});
  }
}

const OcspQuery* RequestMemo::find(std::string_view request) const {
  auto it = decoded_.find(request);
  return it != decoded_.end() ? &it->second : nullptr;
}

void RequestMemo::remember(std::string_view request, const OcspQuery& query) {
  if (query.nonce) return;  // every one differs: it would never be found again
  if (decoded_.size() >= kEntries) decoded_.clear();
  decoded_.emplace(std::string(request), query);
}

std::optional<Result<OcspQuery>> HttpFront::decodeOcspRequest(evhttp_request* req,
                                                              const std::string& get_path) {
  evhttp_cmd_type method = evhttp_request_get_command(req);
  const bool post = method == EVHTTP_REQ_POST;
  if (!post && method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) return std::nullopt;
  std::string_view request = get_path;
  if (post) {
    evbuffer* in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char* data = reinterpret_cast<const char*>(evbuffer_pullup(in, -1));
    request = std::string_view(data != nullptr ? data : "", len);
  }
  RequestMemo& memo = post ? post_memo_ : get_memo_;
  if (const OcspQuery* known = memo.find(request)) return Result<OcspQuery>(*known);
  Result<OcspQuery> decoded = post ? decodeOcspDer(request) : decodeOcspGetPath(request);
  if (decoded) memo.remember(request, *decoded);
  return decoded;
}

HttpFront::~HttpFront() {
  for (evhttp_connection* conn : connections_) {
    evhttp_connection_set_closecb(conn, nullptr, nullptr);
    if (d_.connections != nullptr) d_.connections->leave();
  }
}

void HttpFront::onComplete(evhttp_request*, void* self) {
  --static_cast<HttpFront*>(self)->in_flight_;
}

void HttpFront::onConnectionClosed(evhttp_connection* conn, void* self) {
  auto* front = static_cast<HttpFront*>(self);
  if (front->connections_.erase(conn) != 0 && front->d_.connections != nullptr) {
    front->d_.connections->leave();
  }
}

void HttpFront::settle(evhttp_request* req) {
  // libevent detaches a request whose client went away (evhttp_connection_fail_) and frees
  // it at our reply without calling onComplete.
  if (evhttp_request_get_connection(req) == nullptr) --in_flight_;
  evkeyvalq* h = evhttp_request_get_output_headers(req);
  if (draining_ && evhttp_find_header(h, "Connection") == nullptr) {
    evhttp_add_header(h, "Connection", "close");
  }
}

void HttpFront::rejectByLimit(evhttp_request* req, int limit, int code, const char* reason_phrase,
                              const std::string& detail) {
  logEvent(LogLevel::Warn, "limit_rejected",
           {{"client", peerOf(req)}, {"limit", kLimitNames[limit]}, {"detail", detail}});
  if (d_.metrics != nullptr) limit_rejections_[limit]->inc();
  sendText(req, code, reason_phrase, detail);
}

bool HttpFront::admit(evhttp_request* req) {
  const conf::Limits& lim = d_.config->limits;
  evhttp_connection* conn = evhttp_request_get_connection(req);
  if (conn != nullptr && connections_.insert(conn).second) {
    // First request on this connection: count it until it closes.
    evhttp_connection_set_closecb(conn, &HttpFront::onConnectionClosed, this);
    if (d_.connections != nullptr && !d_.connections->enter(lim.max_connections)) {
      evkeyvalq* h = evhttp_request_get_output_headers(req);
      evhttp_add_header(h, "Connection", "close");
      evhttp_add_header(h, "Retry-After", "1");
      rejectByLimit(req, kLimitConnections, 503, "Service Unavailable",
                    "too many connections (limits.max_connections is " +
                        std::to_string(lim.max_connections) + ")");
      return false;
    }
  }
  int64_t headers = 0;
  // The header block as sent: the request line, then "name: value\r\n" per field.
  const char* uri = evhttp_request_get_uri(req);
  size_t header_bytes = (uri != nullptr ? std::strlen(uri) : 0) + 16;
  const evkeyvalq* in = evhttp_request_get_input_headers(req);
  for (const evkeyval* kv = in->tqh_first; kv != nullptr; kv = kv->next.tqe_next) {
    ++headers;
    header_bytes += std::strlen(kv->key) + std::strlen(kv->value) + 4;
  }
  if (headers > lim.max_headers) {
    rejectByLimit(req, kLimitHeaders, 431, "Request Header Fields Too Large",
                  std::to_string(headers) + " header fields (limits.max_headers is " +
                      std::to_string(lim.max_headers) + ")");
    return false;
  }
  if (header_bytes > lim.max_header_bytes) {
    rejectByLimit(req, kLimitHeaderBytes, 431, "Request Header Fields Too Large",
                  "header block of about " + std::to_string(header_bytes) +
                      " bytes (limits.max_header_bytes is " +
                      std::to_string(lim.max_header_bytes) + ")");
    return false;
  }
  const size_t body_bytes = evbuffer_get_length(evhttp_request_get_input_buffer(req));
  if (body_bytes > lim.max_request_bytes) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
    rejectByLimit(req, kLimitBody, 413, "Payload Too Large",
                  std::to_string(body_bytes) + "-byte body (limits.max_request_bytes is " +
                      std::to_string(lim.max_request_bytes) + ")");
    return false;
  }
  if (d_.rate != nullptr && lim.rate_per_client > 0 && conn != nullptr &&
      !d_.rate->allow(peerAddress(conn), lim.rate_per_client, lim.rate_burst, monotonicMs())) {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
    rejectByLimit(req, kLimitRate, 429, "Too Many Requests",
                  "more than " + std::to_string(lim.rate_per_client) +
                      " requests per second from this address (limits.rate_per_client)");
    return false;
  }
  return true;
}

void HttpFront::count(Mode mode, int result_index) {
  if (d_.metrics != nullptr) requests_[mode == Mode::Forward ? 1 : 0][result_index]->inc();
}

// A forward request we will not serve: logged once, counted, answered with `code`.
void HttpFront::refuse(evhttp_request* req, int code, const char* reason_phrase,
                       const std::string& reason, const std::string& host,
                       const std::string& detail) {
  logEvent(LogLevel::Warn, "forward_refused",
           {{"client", peerOf(req)}, {"reason", reason}, {"host", host}, {"detail", detail}});
  if (d_.metrics != nullptr) d_.metrics->counter(Metric::ForwardRefused, {reason}).inc();
  sendText(req, code, reason_phrase, "refused: " + detail);
}

void HttpFront::onRequest(evhttp_request* req, void* self) {
  static_cast<HttpFront*>(self)->handle(req);
}

void HttpFront::handle(evhttp_request* req) {
  int64_t started_ms = monotonicMs();
  ++in_flight_;
  evhttp_request_set_on_complete_cb(req, &HttpFront::onComplete, this);
  if (draining_) evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
  if (!admit(req)) return;
  evhttp_cmd_type method = evhttp_request_get_command(req);
  if (method == EVHTTP_REQ_CONNECT) {
    // Tunnels would let clients reach anything over TLS; we only proxy plain http.
    const char* target = evhttp_request_get_uri(req);
    logEvent(LogLevel::Warn, "forward_refused",
             {{"client", peerOf(req)}, {"reason", "connect"}, {"host", target ? target : ""}});
    if (d_.metrics != nullptr) d_.metrics->counter(Metric::ForwardRefused, {"connect"}).inc();
    methodNotAllowed(req, "GET, HEAD, POST",
                     "CONNECT is not supported: only http:// OCSP and CRL URLs of allowed hosts "
                     "are proxied");
    return;
  }
  const char* raw = evhttp_request_get_uri(req);
  if (raw != nullptr && raw[0] != '/') {
    handleForward(req, raw, started_ms);
    return;
  }
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* path = uri != nullptr ? evhttp_uri_get_path(uri) : nullptr;
  auto decoded = decodeOcspRequest(req, path != nullptr ? path : "");
  if (!decoded) {
    methodNotAllowed(req, "GET, HEAD, POST", "method not allowed: use GET or POST");
    return;
  }
  lookupOcsp(req, std::move(*decoded), started_ms, nullptr);
}

void HttpFront::handleForward(evhttp_request* req, const char* raw_uri, int64_t started_ms) {
  auto url = parseHttpUrl(raw_uri);
  if (!url) {
    refuse(req, 400, "Bad Request", url.error().code, "", url.error().detail);
    return;
  }
  if (!d_.config->forward.enabled) {
    refuse(req, 403, "Forbidden", "forward_disabled", url->host,
           "this proxy does not accept forward-proxy requests (forward.enabled is false)");
    return;
  }
  auto target = d_.allow.classify(*url);
  if (!target) {
    refuse(req, 403, "Forbidden", target.error().code, url->host, target.error().detail);
    return;
  }
  std::string host_header;
  if (!hostHeaderAgrees(req, *url, &host_header)) {
    refuse(req, 400, "Bad Request", "host_mismatch", url->host,
           "Host header \"" + host_header + "\" does not match the URL's host " +
               url->authority());
    return;
  }
  evhttp_cmd_type method = evhttp_request_get_command(req);
  if (target->kind == TargetKind::Crl) {
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
      methodNotAllowed(req, "GET, HEAD", "CRLs are fetched with GET");
      return;
    }
    if (d_.crl == nullptr) {
      sendText(req, 502, "Bad Gateway", "CRL service not running");
      return;
    }
    d_.crl->lookup(*url, peerOf(req), d_.mailbox,
                 [this, req](Result<std::shared_ptr<const CrlEntry>> result) {
                   answerCrl(req, result);
                 });
    return;
  }
  const conf::Upstream& up = d_.config->upstreams.at(target->upstream_index);
  auto decoded = decodeOcspRequest(req, ocspGetPath(url->target, up.path));
  if (!decoded) {
    methodNotAllowed(req, "GET, HEAD, POST", "method not allowed: OCSP uses GET or POST");
    return;
  }
  lookupOcsp(req, std::move(*decoded), started_ms, &*target);
}

void HttpFront::lookupOcsp(evhttp_request* req, Result<OcspQuery> decoded, int64_t started_ms,
                           const ForwardTarget* forward) {
  if (!decoded) {
    const Error& err = decoded.error();
    std::string client = peerOf(req);
    logEvent(LogLevel::Info, "malformed_request",
             {{"client", client}, {"reason", err.code}, {"detail", err.detail}});
    count(forward != nullptr ? Mode::Forward : Mode::Responder, kMalformed);
    sendOcspError(req, ocspStatusFor(err.category));
    return;
  }
  auto query = std::make_shared<OcspQuery>(std::move(decoded).value());
  query->mode = forward != nullptr ? Mode::Forward : Mode::Responder;
  if (forward != nullptr) {
    query->forward_upstream = forward->upstream_index;
    query->forward_fqdn = forward->fqdn_index;
  }
  query->client = peerOf(req);
  std::shared_ptr<const OcspQuery> shared = query;
  // libevent keeps `req` alive until we reply, even if the client goes away meanwhile
  // (evhttp_connection_fail_ detaches an unanswered request instead of freeing it), so the
  // callback may always answer it.
  d_.chain.lookup(shared, [this, req, shared, started_ms](Result<Answer> result) {
    answer(req, *shared, result, started_ms);
  });
}

void HttpFront::answer(evhttp_request* req, const OcspQuery& query, const Result<Answer>& result,
                       int64_t started_ms) {
  const int64_t latency_ms = monotonicMs() - started_ms;
  settle(req);
  evkeyvalq* h = evhttp_request_get_output_headers(req);
  const bool issuer_revoked =
      d_.watch != nullptr && query.route && d_.watch->isRevoked(query.route->issuer.get());
  if (issuer_revoked) evhttp_add_header(h, "X-OCSP-Proxy-Flags", "issuer_revoked");
  if (d_.revocation_log != nullptr) logAnswer(query, result, issuer_revoked, latency_ms);
  if (!result) {
    const Error& err = result.error();
    logEvent(LogLevel::Debug, "answer_error",
             {{"client", query.client}, {"category", categoryName(err.category)},
              {"reason", err.code}});
    if (err.code == "distrusted_issuer") evhttp_add_header(h, "X-OCSP-Proxy-Flags", "distrusted");
    int status = ocspStatusFor(err.category);
    count(query.mode, resultIndexFor(status));
    sendOcspError(req, status);
    return;
  }
  const OcspEntry& e = *result->entry;
  if (d_.metrics != nullptr) {
    switch (result->source) {
      case AnswerSource::Memory: hits_[0]->inc(); break;
      case AnswerSource::Redis: hits_[1]->inc(); break;
      case AnswerSource::Stale: hits_[2]->inc(); break;
      case AnswerSource::Upstream: (result->coalesced ? coalesced_ : misses_)->inc(); break;
    }
  }
  evhttp_add_header(h, "Content-Type", kOcspResponseType);
  if (e.cacheable) {
    addFreshnessHeaders(h, e.fresh_until - d_.clock.now(), e.expires, e.last_modified, e.etag);
  } else {
    // Carries this client's nonce, or was not validated (forward.unknown_issuer: pass).
    evhttp_add_header(h, "Cache-Control", "no-store");
  }
  if (logEnabled(LogLevel::Debug)) {
    logEvent(LogLevel::Debug, "answer",
             {{"client", query.client},
              {"mode", query.mode == Mode::Forward ? "forward" : "responder"},
              {"status", certStatusName(e.status)},
              {"source", answerSourceName(result->source)},
              {"latency_ms", std::to_string(latency_ms)}});
  }
  if (e.cacheable && evhttp_request_get_command(req) != EVHTTP_REQ_POST &&
      etagMatches(req, e.etag)) {
    count(query.mode, kNotModified);
    evhttp_send_reply(req, 304, "Not Modified", nullptr);
    return;
  }
  count(query.mode, resultIndexFor(e.status));
  // The body references the cached bytes (no copy); the entry is kept alive until sent.
  auto* holder = new std::shared_ptr<const OcspEntry>(result->entry);
  evbuffer_add_reference(evhttp_request_get_output_buffer(req), e.der.data(), e.der.size(),
                         &releaseEntry<OcspEntry>, holder);
  evhttp_send_reply(req, HTTP_OK, "OK", nullptr);
}

// One revocation-log line per CertID of the request (DESIGN.md §7).
void HttpFront::logAnswer(const OcspQuery& query, const Result<Answer>& result,
                          bool issuer_revoked, int64_t latency_ms) {
  using namespace std::chrono;
  RevocationRecord r;
  r.time_ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  r.client = query.client;
  r.mode = query.mode;
  if (query.route) {
    r.upstream = query.route->upstream_name;
    r.issuer = query.route->issuer ? std::string_view(query.route->issuer_name) : "";
  }
  r.issuer_revoked = issuer_revoked;
  r.latency_ms = latency_ms;
  if (!result) {
    r.error = result.error().code;
    for (const CertIdInfo& id : query.cert_ids) {
      r.cert_id = &id;
      d_.revocation_log->append(formatRevocationRecord(r));
    }
    return;
  }
  const OcspEntry& e = *result->entry;
  r.upstream_fqdn = e.upstream_fqdn;
  r.source = result->source;
  r.validated = e.validated;
  if (query.cert_ids.size() == 1) {
    r.cert_id = &query.cert_ids.front();
    r.status = e.status;
    r.revocation = e.revocation;
    d_.revocation_log->append(formatRevocationRecord(r));
    return;
  }
  auto statuses = statusesIn(e.der, query.cert_ids);
  for (size_t i = 0; i < query.cert_ids.size(); ++i) {
    r.cert_id = &query.cert_ids[i];
    r.status = statuses[i].first;
    r.revocation = statuses[i].second;
    d_.revocation_log->append(formatRevocationRecord(r));
  }
}

void HttpFront::answerCrl(evhttp_request* req,
                          const Result<std::shared_ptr<const CrlEntry>>& result) {
  settle(req);
  auto crlCount = [this](const char* what) {
    if (d_.metrics != nullptr) d_.metrics->counter(Metric::CrlRequests, {what}).inc();
  };
  if (!result) {
    crlCount("error");
    // Logged by the CRL service with the URL and the detail.
    sendText(req, 502, "Bad Gateway", "CRL not available: " + result.error().code);
    return;
  }
  const std::shared_ptr<const CrlEntry>& e = *result;
  evkeyvalq* h = evhttp_request_get_output_headers(req);
  evhttp_add_header(h, "Content-Type", kCrlType);
  addFreshnessHeaders(h, e->hard_expiry - d_.clock.now(), e->expires, e->last_modified, e->etag);
  bool not_modified = etagMatches(req, e->etag);
  if (!not_modified) {
    const char* ims =
        evhttp_find_header(evhttp_request_get_input_headers(req), "If-Modified-Since");
    // RFC 9110 §13.1.3: If-Modified-Since is ignored when If-None-Match is present.
    bool has_inm = evhttp_find_header(evhttp_request_get_input_headers(req), "If-None-Match");
    int64_t since = ims != nullptr && !has_inm ? parseHttpDate(ims) : -1;
    not_modified = since >= 0 && e->crl.this_update <= since;
  }
  if (not_modified) {
    crlCount("not_modified");
    evhttp_send_reply(req, 304, "Not Modified", nullptr);
    return;
  }
  crlCount("served");
  // The reply references the cached bytes (a CRL may be tens of MB): the entry is kept alive
  // until libevent has sent them.
  auto* holder = new std::shared_ptr<const CrlEntry>(e);
  evbuffer_add_reference(evhttp_request_get_output_buffer(req), e->bytes.data(),
                         e->bytes.size(), &releaseEntry<CrlEntry>, holder);
  evhttp_send_reply(req, HTTP_OK, "OK", nullptr);
}

}  // namespace ocsp
