#include "proxy/http_front.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include <string>

#include "core/log.h"
#include "proxy/ocsp_errors.h"
#include "proxy/request_decoder.h"

namespace ocsp {

namespace {

constexpr const char* kOcspResponseType = "application/ocsp-response";

std::string peerOf(evhttp_request* req) {
  evhttp_connection* conn = evhttp_request_get_connection(req);
  if (conn == nullptr) return "";
  char* addr = nullptr;
  ev_uint16_t port = 0;
  evhttp_connection_get_peer(conn, &addr, &port);
  return std::string(addr != nullptr ? addr : "?") + ":" + std::to_string(port);
}

void sendBody(evhttp_request* req, int code, const char* reason, std::string_view body) {
  evbuffer_add(evhttp_request_get_output_buffer(req), body.data(), body.size());
  evhttp_send_reply(req, code, reason, nullptr);
}

void sendOcspError(evhttp_request* req, int ocsp_status) {
  evkeyvalq* h = evhttp_request_get_output_headers(req);
  evhttp_add_header(h, "Content-Type", kOcspResponseType);
  // An error status is about this moment; caches must not keep it.
  evhttp_add_header(h, "Cache-Control", "no-store");
  sendBody(req, HTTP_OK, "OK", ocspErrorResponse(ocsp_status));
}

}  // namespace

void HttpFront::onRequest(evhttp_request* req, void* self) {
  static_cast<HttpFront*>(self)->handle(req);
}

void HttpFront::handle(evhttp_request* req) {
  int64_t started_ms = monotonicMs();
  evhttp_cmd_type method = evhttp_request_get_command(req);
  Result<OcspQuery> decoded = makeError(ErrorCategory::MalformedRequest, "none");
  if (method == EVHTTP_REQ_POST) {
    evbuffer* in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char* data = reinterpret_cast<const char*>(evbuffer_pullup(in, -1));
    decoded = decodeOcspDer(std::string_view(data != nullptr ? data : "", len));
  } else if (method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD) {
    const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
    const char* path = uri != nullptr ? evhttp_uri_get_path(uri) : nullptr;
    decoded = decodeOcspGetPath(path != nullptr ? path : "");
  } else {
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD, POST");
    sendBody(req, 405, "Method Not Allowed", "method not allowed: use GET or POST\n");
    return;
  }

  if (!decoded) {
    const Error& err = decoded.error();
    std::string client = peerOf(req);
    logEvent(LogLevel::Info, "malformed_request",
             {{"client", client}, {"reason", err.code}, {"detail", err.detail}});
    sendOcspError(req, ocspStatusFor(err.category));
    return;
  }

  auto query = std::make_shared<OcspQuery>(std::move(decoded).value());
  query->mode = Mode::Responder;
  query->client = peerOf(req);
  std::shared_ptr<const OcspQuery> shared = query;
  // libevent keeps `req` alive until we reply, even if the client goes away meanwhile
  // (evhttp_connection_fail_ detaches an unanswered request instead of freeing it), so the
  // callback may always answer it.
  chain_.lookup(shared, [this, req, shared, started_ms](Result<Answer> result) {
    answer(req, *shared, result, started_ms);
  });
}

void HttpFront::answer(evhttp_request* req, const OcspQuery& query, const Result<Answer>& result,
                       int64_t started_ms) {
  if (!result) {
    const Error& err = result.error();
    logEvent(LogLevel::Debug, "answer_error",
             {{"client", query.client}, {"category", categoryName(err.category)},
              {"reason", err.code}});
    sendOcspError(req, ocspStatusFor(err.category));
    return;
  }
  const OcspEntry& e = *result->entry;
  evkeyvalq* h = evhttp_request_get_output_headers(req);
  evhttp_add_header(h, "Content-Type", kOcspResponseType);
  if (e.cacheable) {
    // RFC 5019 §6.2: let HTTP caches keep the answer until it stops being fresh.
    int64_t max_age = e.fresh_until - clock_.now();
    if (max_age < 0) max_age = 0;
    std::string cc = "max-age=" + std::to_string(max_age) + ", public, no-transform, must-revalidate";
    evhttp_add_header(h, "Cache-Control", cc.c_str());
    evhttp_add_header(h, "Expires", e.expires.c_str());
    evhttp_add_header(h, "Last-Modified", e.last_modified.c_str());
    evhttp_add_header(h, "ETag", e.etag.c_str());
  } else {
    evhttp_add_header(h, "Cache-Control", "no-store");  // carries this client's nonce
  }
  if (logEnabled(LogLevel::Debug)) {
    std::string ms = std::to_string(monotonicMs() - started_ms);
    logEvent(LogLevel::Debug, "answer",
             {{"client", query.client}, {"status", certStatusName(e.status)},
              {"source", answerSourceName(result->source)}, {"latency_ms", ms}});
  }
  if (e.cacheable && evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
    const char* inm = evhttp_find_header(evhttp_request_get_input_headers(req), "If-None-Match");
    if (inm != nullptr && e.etag == inm) {
      evhttp_send_reply(req, 304, "Not Modified", nullptr);
      return;
    }
  }
  sendBody(req, HTTP_OK, "OK", e.der);
}

}  // namespace ocsp
