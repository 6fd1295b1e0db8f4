#include "proxy/http_front.h"

#include <chrono>
#include <optional>
#include <string>

#include "core/log.h"
#include "proxy/ocsp_reply.h"
#include "proxy/request_decoder.h"
#include "proxy/request_loop.h"

namespace ocsp {

namespace {

void sendText(HttpExchange& ex, int code, const char* reason, const std::string& text) {
  ex.addHeader("Content-Type", "text/plain; charset=utf-8");
  ex.addHeader("Cache-Control", "no-store");
  ex.reply(code, reason, text + "\n");
}

void methodNotAllowed(HttpExchange& ex, const char* allow, const std::string& why) {
  ex.addHeader("Allow", allow);
  sendText(ex, 405, "Method Not Allowed", why);
}

// What the answer depends on in the request (proxy/ocsp_reply.h).
ReplyRequest replyRequestOf(const HttpExchange& ex) {
  ReplyRequest r;
  r.method = ex.method();
  if (const HttpHeader* h = ex.header("If-None-Match")) r.if_none_match = h->value;
  if (const HttpHeader* h = ex.header("If-Modified-Since")) r.if_modified_since = h->value;
  return r;
}

// Whether `answer` may say `revoked` for a CertID of `query`: the first status says so, or
// others are in it (read only then: statusesIn parses the response).
bool mayHoldRevoked(const OcspQuery& query, const Answer& answer) {
  return answer.entry->status == CertStatus::Revoked || query.cert_ids.size() > 1;
}

void send(HttpExchange& ex, HttpReply reply) {
  reply.forEachField([&ex](std::string_view name, std::string_view value) {
    ex.addHeader(name, value);
  });
  ex.reply(reply.code, reply.reason, reply.bodyFirst(), std::move(reply.keep), reply.bodyRest());
}

// The OCSP GET path of a URL: its target without the query. Whatever path the responder
// URL has before the request, the decoder finds the request after it.
std::string_view ocspGetPath(std::string_view target) { return target.substr(0, target.find('?')); }

// RFC 9110 §7.2: a request with several Host headers is refused; one that names another host
// than the absolute URI is a smuggling attempt or a confused client.
bool hostHeaderAgrees(const HttpExchange& ex, const HttpUrl& url, std::string* seen) {
  int count = 0;
  for (const HttpHeader& h : ex.head().headers) {
    if (!httpNameEquals(h.name, "Host")) continue;
    ++count;
    *seen = std::string(h.value);
  }
  if (count == 0) return true;  // HTTP/1.0: the URI alone names the host
  return count == 1 && hostHeaderMatches(*seen, url);
}

// Events any client can trigger at will: a global budget of lines each (core/log.h).
LogRateLimit g_forward_refused_log;
LogRateLimit g_malformed_request_log;

}  // namespace

HttpFront::HttpFront(FrontDeps deps)
    : d_(std::move(deps)),
      limits_(d_.options.limits, d_.rate, d_.metrics),
      post_memo_(RequestMemo::kDefaultCapacity, d_.options.request_memo_bytes),
      get_memo_(RequestMemo::kDefaultCapacity, d_.options.request_memo_bytes) {
  if (d_.metrics == nullptr) return;
  for (int mode = 0; mode < kModes; ++mode) {
    for (int r = 0; r < kOcspResults; ++r) {
      requests_[mode][r] = &d_.metrics->counter(
          Metric::Requests, {modeName(static_cast<Mode>(mode)), kOcspResultNames[r]});
    }
  }
  const char* layers[] = {"memory", "redis", "stale"};
  for (int i = 0; i < 3; ++i) hits_[i] = &d_.metrics->counter(Metric::CacheHits, {layers[i]});
  misses_ = &d_.metrics->counter(Metric::CacheMisses);
  coalesced_ = &d_.metrics->counter(Metric::Coalesced);
}

std::optional<Result<std::shared_ptr<OcspQuery>>> HttpFront::decodeOcspRequest(
    HttpExchange& ex, std::string_view get_path) {
  const std::string_view method = ex.method();
  const bool post = method == "POST";
  if (!post && method != "GET" && method != "HEAD") return std::nullopt;
  std::string_view request = post ? ex.body() : get_path;
  RequestMemo& memo = post ? post_memo_ : get_memo_;
  if (auto known = memo.take(request)) return Result<std::shared_ptr<OcspQuery>>(std::move(known));
  const size_t max_cert_ids = d_.options.max_cert_ids_per_request;
  Result<OcspQuery> decoded = post ? decodeOcspDer(request, max_cert_ids)
                                   : decodeOcspGetPath(request, max_cert_ids);
  if (!decoded) return Result<std::shared_ptr<OcspQuery>>(decoded.error());
  auto query = std::make_shared<OcspQuery>(std::move(decoded).value());
  memo.remember(request, query);
  return Result<std::shared_ptr<OcspQuery>>(std::move(query));
}

void HttpFront::count(Mode mode, OcspResult result) {
  if (d_.metrics != nullptr) {
    requests_[static_cast<int>(mode)][static_cast<int>(result)]->inc();
  }
}

// A forward request we will not serve: logged once, counted, answered with `code`.
void HttpFront::refuse(HttpExchange& ex, int code, const char* reason_phrase,
                       const std::string& reason, const std::string& host,
                       const std::string& detail) {
  logEventLimited(g_forward_refused_log, LogLevel::Warn, "forward_refused",
                  {{"client", std::string(ex.peer())}, {"reason", reason}, {"host", host},
                   {"detail", detail}});
  if (d_.metrics != nullptr) d_.metrics->counter(Metric::ForwardRefused, {reason}).inc();
  sendText(ex, code, reason_phrase, "refused: " + detail);
}

void HttpFront::onRequest(HttpExchange& ex) {
  int64_t started_ms = monotonicMs();
  if (!limits_.admit(ex)) return;
  if (refuseRequestLoop(ex, d_.metrics)) return;
  const std::string_view method = ex.method();
  if (method == "CONNECT") {
    // Tunnels would let clients reach anything over TLS; we only proxy plain http.
    logEventLimited(g_forward_refused_log, LogLevel::Warn, "forward_refused",
                    {{"client", std::string(ex.peer())}, {"reason", "connect"},
                     {"host", std::string(ex.target())}});
    if (d_.metrics != nullptr) d_.metrics->counter(Metric::ForwardRefused, {"connect"}).inc();
    methodNotAllowed(ex, "GET, HEAD, POST",
                     "CONNECT is not supported: only http:// OCSP and CRL URLs of allowed hosts "
                     "are proxied");
    return;
  }
  if (ex.target().front() != '/') {
    auto url = forwardUrl(ex);
    if (url) handleForward(ex, *url, Mode::Forward, started_ms);
    return;
  }
  if (auto url = transparentUrl(ex)) {
    handleForward(ex, *url, Mode::Transparent, started_ms);
    return;
  }
  auto decoded = decodeOcspRequest(ex, ex.path());
  if (!decoded) {
    methodNotAllowed(ex, "GET, HEAD, POST", "method not allowed: use GET or POST");
    return;
  }
  lookupOcsp(ex, std::move(*decoded), started_ms, Mode::Responder, nullptr);
}

std::optional<HttpUrl> HttpFront::forwardUrl(HttpExchange& ex) {
  auto url = parseHttpUrl(ex.target());
  if (!url) {
    refuse(ex, 400, "Bad Request", url.error().code, "", url.error().detail);
    return std::nullopt;
  }
  if (!d_.options.forward_enabled) {
    refuse(ex, 403, "Forbidden", "forward_disabled", url->host,
           "this proxy does not accept forward-proxy requests (forward.enabled is false)");
    return std::nullopt;
  }
  return std::move(url).value();
}

std::optional<HttpUrl> HttpFront::transparentUrl(const HttpExchange& ex) const {
  const HttpHeader* host = nullptr;
  for (const HttpHeader& h : ex.head().headers) {
    if (!httpNameEquals(h.name, "Host")) continue;
    if (host != nullptr) return std::nullopt;  // several: not ours to guess which one counts
    host = &h;
  }
  if (host == nullptr) return std::nullopt;
  auto url = originFormUrl(host->value, ex.target());
  if (!url || !d_.allow.lists(*url)) return std::nullopt;
  return std::move(url).value();
}

void HttpFront::handleForward(HttpExchange& ex, const HttpUrl& url, Mode mode,
                              int64_t started_ms) {
  auto target = d_.allow.classify(url);
  if (!target) {
    refuse(ex, 403, "Forbidden", target.error().code, url.host, target.error().detail);
    return;
  }
  std::string host_header;
  if (mode == Mode::Forward && !hostHeaderAgrees(ex, url, &host_header)) {
    refuse(ex, 400, "Bad Request", "host_mismatch", url.host,
           "Host header \"" + host_header + "\" does not match the URL's host " +
               url.authority());
    return;
  }
  if (target->kind == TargetKind::Crl) {
    lookupDocument(ex, url, d_.crl, DocKind::Crl);
    return;
  }
  if (target->kind == TargetKind::Aia) {
    lookupDocument(ex, url, d_.ca_issuers, DocKind::CaIssuers);
    return;
  }
  auto decoded = decodeOcspRequest(ex, ocspGetPath(url.target));
  if (!decoded) {
    methodNotAllowed(ex, "GET, HEAD, POST", "method not allowed: OCSP uses GET or POST");
    return;
  }
  lookupOcsp(ex, std::move(*decoded), started_ms, mode, &*target);
}

void HttpFront::lookupOcsp(HttpExchange& ex, Result<std::shared_ptr<OcspQuery>> decoded,
                           int64_t started_ms, Mode mode, const ForwardTarget* forward) {
  if (!decoded) {
    const Error& err = decoded.error();
    if (err.code == "too_many_cert_ids") {
      limits_.countCertIds(ex, err.detail);
    } else {
      logEventLimited(g_malformed_request_log, LogLevel::Info, "malformed_request",
                      {{"client", std::string(ex.peer())}, {"reason", err.code},
                       {"detail", err.detail}});
    }
    HttpReply reply = undecodableRequestReply(err.category);
    count(mode, reply.result);
    send(ex, std::move(reply));
    return;
  }
  std::shared_ptr<OcspQuery> query = std::move(decoded).value();
  query->mode = mode;
  if (forward != nullptr) {
    query->forward_upstream = forward->upstream_index;
    query->forward_fqdn = forward->fqdn_index;
  }
  query->client = std::string(ex.peer());
  query->client_address = std::string(ex.peerAddress());
  // The exchange stays valid until answered, even if the client goes away meanwhile
  // (http/http_server.h), so the callback may always answer it. The reply brings back the
  // routed lookup, and the exchange keeps the start time, so that the callback is two
  // pointers: no heap block for it on a hit.
  ex.hold(nullptr, started_ms);
  HttpExchange* pending = &ex;
  d_.chain.lookup(Lookup{std::move(query)},
                  [this, pending](const Lookup& lookup, Result<Answer> result) {
                    answer(*pending, lookup, result, pending->heldSinceMs());
                  });
}

void HttpFront::answer(HttpExchange& ex, const Lookup& lookup, const Result<Answer>& result,
                       int64_t started_ms) {
  const OcspQuery& query = *lookup.query;
  const int64_t latency_ms = monotonicMs() - started_ms;
  Statuses statuses;  // one parse of a multi-CertID answer, for the counters and the log
  if (result && query.cert_ids.size() > 1) statuses = statusesIn(result->entry->der.bytes(), query.cert_ids);
  countAnswers(lookup, result, statuses);
  // The policy stage asked the issuer watch when it routed the query (Lookup::issuer_revoked).
  if (d_.revocation_log != nullptr ||
      (d_.recent_revocations != nullptr && result && mayHoldRevoked(query, *result))) {
    logAnswer(lookup, result, statuses, latency_ms);
  }
  if (!result) {
    const Error& err = result.error();
    logEvent(LogLevel::Debug, "answer_error",
             {{"client", query.client}, {"category", categoryName(err.category)},
              {"reason", err.code}});
  } else {
    if (d_.metrics != nullptr) {
      switch (result->source) {
        case AnswerSource::Memory: hits_[0]->inc(); break;
        case AnswerSource::Redis: hits_[1]->inc(); break;
        case AnswerSource::Stale: hits_[2]->inc(); break;
        case AnswerSource::Upstream: (result->coalesced ? coalesced_ : misses_)->inc(); break;
      }
    }
    if (logEnabled(LogLevel::Debug)) {
      logEvent(LogLevel::Debug, "answer",
               {{"client", query.client},
                {"mode", modeName(query.mode)},
                {"status", certStatusName(result->entry->status)},
                {"source", answerSourceName(result->source)},
                {"latency_ms", std::to_string(latency_ms)}});
    }
  }
  HttpReply reply = ocspReply(replyRequestOf(ex), result, lookup.issuer_revoked, d_.clock.now());
  reply.distrust_pending = lookup.distrust_pending;
  count(query.mode, reply.result);
  send(ex, std::move(reply));
}

// One count per CertID, as the revocation log has one line per CertID; labelled by the
// upstream's configured name, never the issuer's subject (core/metrics.h).
void HttpFront::countAnswers(const Lookup& lookup, const Result<Answer>& result,
                             const Statuses& statuses) {
  if (d_.metrics == nullptr) return;
  static const std::string kUnrouted;
  const std::string& upstream = lookup.route ? lookup.route->upstream_name : kUnrouted;
  auto it = answers_.find(upstream);
  if (it == answers_.end()) {
    std::array<Counter*, 4> by_status{};
    static_assert(static_cast<size_t>(CertStatus::Unknown) == 2, "names follow CertStatus");
    const char* names[] = {"good", "revoked", "unknown", "error"};
    for (size_t i = 0; i < by_status.size(); ++i) {
      by_status[i] = &d_.metrics->counter(Metric::Answers, {upstream, names[i]});
    }
    it = answers_.emplace(upstream, by_status).first;
  }
  const std::array<Counter*, 4>& by_status = it->second;
  if (!result) {
    by_status[3]->inc(lookup.query->cert_ids.size());
  } else if (statuses.empty()) {
    by_status[static_cast<size_t>(result->entry->status)]->inc();
  } else {
    for (const auto& each : statuses) by_status[static_cast<size_t>(each.first)]->inc();
  }
}

// One revocation-log line per CertID of the request (docs/ARCHITECTURE.md §10).
void HttpFront::logAnswer(const Lookup& lookup, const Result<Answer>& result,
                          const Statuses& statuses, int64_t latency_ms) {
  using namespace std::chrono;
  const OcspQuery& query = *lookup.query;
  RevocationRecord r;
  r.time_ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  r.client = query.client;
  r.mode = query.mode;
  if (lookup.route) {
    r.upstream = lookup.route->upstream_name;
    r.issuer = lookup.route->issuer ? std::string_view(lookup.route->issuer_name) : "";
  }
  r.issuer_revoked = lookup.issuer_revoked;
  r.latency_ms = latency_ms;
  if (!result) {
    r.error = result.error().code;
    for (const CertIdInfo& id : query.cert_ids) {
      r.cert_id = &id;
      record(r);
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
    record(r);
    return;
  }
  for (size_t i = 0; i < query.cert_ids.size(); ++i) {
    r.cert_id = &query.cert_ids[i];
    r.status = statuses[i].first;
    r.revocation = statuses[i].second;
    record(r);
  }
}

void HttpFront::record(const RevocationRecord& r) {
  if (d_.revocation_log != nullptr) d_.revocation_log->append(formatRevocationRecord(r));
  if (d_.recent_revocations != nullptr) d_.recent_revocations->add(r);
}

void HttpFront::lookupDocument(HttpExchange& ex, const HttpUrl& url, CrlService* service,
                               DocKind kind) {
  const std::string what = kind == DocKind::Crl ? "CRL" : "caIssuers";
  if (ex.method() != "GET" && ex.method() != "HEAD") {
    methodNotAllowed(ex, "GET, HEAD", what + " documents are fetched with GET");
    return;
  }
  if (service == nullptr) {
    sendText(ex, 502, "Bad Gateway", what + " service not running");
    return;
  }
  HttpExchange* pending = &ex;
  service->lookup(url, std::string(ex.peer()), d_.mailbox,
                  [this, pending, kind](Result<std::shared_ptr<const CrlEntry>> result) {
                    answerDocument(*pending, kind, result);
                  });
}

void HttpFront::answerDocument(HttpExchange& ex, DocKind kind,
                               const Result<std::shared_ptr<const CrlEntry>>& result) {
  const bool crl = kind == DocKind::Crl;
  HttpReply reply = crl ? crlReply(replyRequestOf(ex), result, d_.clock.now())
                        : caIssuersReply(replyRequestOf(ex), result, d_.clock.now());
  if (d_.metrics != nullptr) {
    const char* what = reply.code == 200 ? "served" : reply.code == 304 ? "not_modified" : "error";
    d_.metrics->counter(crl ? Metric::CrlRequests : Metric::CaIssuersRequests, {what}).inc();
  }
  send(ex, std::move(reply));
}

}  // namespace ocsp
