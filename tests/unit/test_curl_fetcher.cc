// CurlFetcher (upstream/curl_fetcher.h) against a real HTTP server on loopback (libevent's
// evhttp, in this process, on the fetcher's own event_base, port 0): what it sends, what it
// reports, the limits it enforces, and the callback contract of upstream/fetcher.h.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "core/handles.h"
#include "tests/unit/test_util.h"
#include "upstream/curl_fetcher.h"
#include "upstream/curl_handles.h"
#include "upstream/via_token.h"

using namespace ocsp;
using test::loopUntil;

namespace {

constexpr int64_t kWaitMs = 20'000;  // safety net only (a loaded machine under ASan)

using EvbufferPtr = std::unique_ptr<evbuffer, FreeWith<evbuffer_free>>;

// What the server saw of one request.
struct Seen {
  std::string method;
  std::string path;
  std::string body;
  std::string content_type;
  std::string via;  // every Via header, joined by ", "
};

// Routes by path:
//   /hello     200 "hello" (text/plain)
//   /echo      200 with the request body (application/ocsp-response)
//   /big       200, `big_bytes` bytes, with a Content-Length
//   /chunked   200, `big_bytes` bytes, chunked (no Content-Length)
//   /redirect  302 to /hello
//   /hang      never answers (held until the server goes)
//   other      404
class LoopbackServer {
 public:
  explicit LoopbackServer(event_base* base) : http_(evhttp_new(base)) {
    REQUIRE(http_);
    evhttp_bound_socket* sock = evhttp_bind_socket_with_handle(http_.get(), "127.0.0.1", 0);
    REQUIRE(sock != nullptr);
    sockaddr_storage addr{};
    ev_socklen_t len = sizeof(addr);
    REQUIRE(getsockname(evhttp_bound_socket_get_fd(sock), reinterpret_cast<sockaddr*>(&addr),
                        &len) == 0);
    port_ = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    evhttp_set_gencb(http_.get(), &LoopbackServer::onRequest, this);
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  const std::vector<Seen>& seen() const { return seen_; }
  size_t big_bytes = 4096;

 private:
  static void onRequest(evhttp_request* req, void* arg) {
    auto* self = static_cast<LoopbackServer*>(arg);
    Seen s;
    s.method = evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" : "GET";
    s.path = evhttp_request_get_uri(req);
    evbuffer* in = evhttp_request_get_input_buffer(req);
    s.body.resize(evbuffer_get_length(in));
    evbuffer_copyout(in, s.body.data(), s.body.size());
    const char* ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    s.content_type = ct != nullptr ? ct : "";
    for (evkeyval* h = evhttp_request_get_input_headers(req)->tqh_first; h != nullptr;
         h = h->next.tqe_next) {
      if (strcasecmp(h->key, "Via") != 0) continue;
      s.via += (s.via.empty() ? "" : ", ") + std::string(h->value);
    }
    self->seen_.push_back(s);

    evkeyvalq* out_headers = evhttp_request_get_output_headers(req);
    EvbufferPtr out(evbuffer_new());
    if (s.path == "/hello") {
      evhttp_add_header(out_headers, "Content-Type", "text/plain");
      evbuffer_add(out.get(), "hello", 5);
      evhttp_send_reply(req, 200, "OK", out.get());
    } else if (s.path == "/echo") {
      evhttp_add_header(out_headers, "Content-Type", "application/ocsp-response");
      evbuffer_add(out.get(), s.body.data(), s.body.size());
      evhttp_send_reply(req, 200, "OK", out.get());
    } else if (s.path == "/big") {
      std::string body(self->big_bytes, 'b');
      evbuffer_add(out.get(), body.data(), body.size());
      evhttp_send_reply(req, 200, "OK", out.get());
    } else if (s.path == "/chunked") {
      evhttp_send_reply_start(req, 200, "OK");
      std::string part(self->big_bytes / 4, 'c');
      for (int i = 0; i < 4; ++i) {
        evbuffer_add(out.get(), part.data(), part.size());
        evhttp_send_reply_chunk(req, out.get());
      }
      evhttp_send_reply_end(req);
    } else if (s.path == "/redirect") {
      evhttp_add_header(out_headers, "Location", "/hello");
      evbuffer_add(out.get(), "moved", 5);
      evhttp_send_reply(req, 302, "Found", out.get());
    } else if (s.path == "/hang") {
      // No reply: the client's timeout ends it.
    } else {
      evhttp_send_reply(req, 404, "Not Found", nullptr);
    }
  }

  EvhttpPtr http_;
  uint16_t port_ = 0;
  std::vector<Seen> seen_;
};

// An event_base with a server and the fetcher under test on it.
struct Loop {
  CurlGlobal curl;
  EventBasePtr base{event_base_new()};
  LoopbackServer server{base.get()};
  std::unique_ptr<CurlFetcher> fetcher = std::make_unique<CurlFetcher>(base.get());

  // Fetches and runs the loop until the callback ran; checks it did not run inside fetch().
  FetchResult fetch(FetchRequest request) {
    std::optional<FetchResult> out;
    bool inside_fetch = true;
    bool called_inside = false;
    fetcher->fetch(std::move(request), [&](FetchResult r) {
      called_inside = inside_fetch;
      out = std::move(r);
    });
    inside_fetch = false;
    CHECK_FALSE(called_inside);
    CHECK_FALSE(out.has_value());
    REQUIRE(loopUntil(
        base.get(), [&] { return out.has_value(); }, kWaitMs));
    CHECK(fetcher->inFlight() == 0);
    return std::move(*out);
  }
};

FetchRequest get(const std::string& url) {
  FetchRequest r;
  r.url = url;
  return r;
}

}  // namespace

TEST_CASE("a GET returns the status, body and content type; the callback runs later, once") {
  Loop loop;
  FetchResult r = loop.fetch(get(loop.server.url("/hello")));
  CHECK(r.ok());
  CHECK(r.http_status == 200);
  CHECK(r.body == "hello");
  CHECK(r.content_type == "text/plain");
  CHECK_FALSE(r.too_large);
  REQUIRE(loop.server.seen().size() == 1);
  CHECK(loop.server.seen()[0].method == "GET");
  CHECK(loop.server.seen()[0].path == "/hello");
}

TEST_CASE("a POST sends its body and content type as given") {
  Loop loop;
  FetchRequest req = get(loop.server.url("/echo"));
  req.post_body = std::string("\x30\x03\x02\x01\x00", 5);
  req.content_type = "application/ocsp-request";
  FetchResult r = loop.fetch(req);
  CHECK(r.ok());
  CHECK(r.http_status == 200);
  CHECK(r.body == req.post_body);
  REQUIRE(loop.server.seen().size() == 1);
  CHECK(loop.server.seen()[0].method == "POST");
  CHECK(loop.server.seen()[0].content_type == "application/ocsp-request");
  CHECK(loop.server.seen()[0].body == req.post_body);
}

TEST_CASE("every request, GET and POST, names this process in Via, with the same token") {
  // upstream/via_token.h: the front knows its own fetch by it when DNS sends it back here.
  Loop loop;
  FetchRequest post = get(loop.server.url("/echo"));
  post.post_body = "x";
  post.content_type = "application/ocsp-request";
  loop.fetch(get(loop.server.url("/hello")));
  loop.fetch(post);
  REQUIRE(loop.server.seen().size() == 2);
  for (const Seen& s : loop.server.seen()) {
    CAPTURE(s.method);
    CHECK(s.via == viaHeaderValue());
    CHECK(viaLists(s.via, viaReceivedBy()));
  }
  // "1.1 ocsp-proxy-" and 16 hex digits, made once per process.
  CHECK(viaReceivedBy().size() == 11 + 16);
  CHECK(viaReceivedBy().rfind("ocsp-proxy-", 0) == 0);
  CHECK(viaReceivedBy().find_first_not_of("0123456789abcdef", 11) == std::string::npos);
}

TEST_CASE("an HTTP error status is an answer, not a transport error") {
  Loop loop;
  FetchResult r = loop.fetch(get(loop.server.url("/nothing-here")));
  CHECK(r.ok());
  CHECK(r.http_status == 404);
}

TEST_CASE("a server that does not answer within timeout_ms is a timeout") {
  Loop loop;
  FetchRequest req = get(loop.server.url("/hang"));
  req.timeout_ms = 300;
  FetchResult r = loop.fetch(req);
  CHECK(r.code == CURLE_OPERATION_TIMEDOUT);
  CHECK_FALSE(r.error.empty());
  CHECK(r.elapsed_ms >= 300);
  CHECK(r.http_status == 0);
}

TEST_CASE("a body over max_response_bytes is too_large, with or without a Content-Length") {
  for (const char* path : {"/big", "/chunked"}) {
    CAPTURE(path);
    Loop loop;
    FetchRequest req = get(loop.server.url(path));
    req.max_response_bytes = 1000;
    FetchResult r = loop.fetch(req);
    CHECK_FALSE(r.ok());
    CHECK(r.too_large);
    CHECK(r.body.size() <= 1000);

    // The same body within the limit comes whole.
    req.max_response_bytes = loop.server.big_bytes;
    FetchResult whole = loop.fetch(req);
    CHECK(whole.ok());
    CHECK_FALSE(whole.too_large);
    CHECK(whole.body.size() == loop.server.big_bytes);
  }
}

TEST_CASE("a redirect is returned as it is, never followed") {
  Loop loop;
  FetchResult r = loop.fetch(get(loop.server.url("/redirect")));
  CHECK(r.ok());
  CHECK(r.http_status == 302);
  CHECK(r.body == "moved");
  REQUIRE(loop.server.seen().size() == 1);  // /hello was never asked
  CHECK(loop.server.seen()[0].path == "/redirect");
}

TEST_CASE("a refused connection is reported through the callback, after fetch() returned") {
  Loop loop;
  // A port nothing listens on: bound, then closed again.
  std::string url;
  {
    EventBasePtr other(event_base_new());
    LoopbackServer gone(other.get());
    url = gone.url("/hello");
  }
  FetchResult r = loop.fetch(get(url));
  CHECK(r.code == CURLE_COULDNT_CONNECT);
  CHECK_FALSE(r.error.empty());
}

TEST_CASE("a callback may start the next fetch; concurrent fetches each get their own answer") {
  Loop loop;
  std::vector<std::string> bodies;
  loop.fetcher->fetch(get(loop.server.url("/hello")), [&](FetchResult first) {
    bodies.push_back(first.body);
    FetchRequest again = get(loop.server.url("/echo"));
    again.post_body = "second";
    loop.fetcher->fetch(again, [&](FetchResult second) { bodies.push_back(second.body); });
  });
  FetchRequest other = get(loop.server.url("/echo"));
  other.post_body = "concurrent";
  loop.fetcher->fetch(other, [&](FetchResult r) { bodies.push_back(r.body); });
  CHECK(loop.fetcher->inFlight() == 2);
  REQUIRE(loopUntil(
      loop.base.get(), [&] { return bodies.size() == 3; }, kWaitMs));
  std::sort(bodies.begin(), bodies.end());
  CHECK(bodies == std::vector<std::string>{"concurrent", "hello", "second"});
  CHECK(loop.fetcher->inFlight() == 0);
}

TEST_CASE("destroying the fetcher drops transfers in flight without calling them back") {
  Loop loop;
  bool called = false;
  FetchRequest req = get(loop.server.url("/hang"));
  req.timeout_ms = 200;
  loop.fetcher->fetch(req, [&](FetchResult) { called = true; });
  // Until the server has the request, then a little longer than the timeout.
  REQUIRE(loopUntil(
      loop.base.get(), [&] { return loop.server.seen().size() == 1; }, kWaitMs));
  loop.fetcher.reset();
  test::loopUntil(
      loop.base.get(), [] { return false; }, 400);
  CHECK_FALSE(called);
}
