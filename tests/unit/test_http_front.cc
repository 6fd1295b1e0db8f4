// The front's I/O around proxy/ocsp_reply.h (proxy/http_front.h): real requests over a real
// loopback connection to the real HttpServer and HttpFront, the chain replaced by a
// hand-written stage that answers with a real OCSP response and records what it was asked.
// What the connection adds (Date, Content-Length, no body for HEAD), GET vs POST, the
// responder and forward modes, and the counters a user reads.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include "core/base64.h"
#include "core/clock.h"
#include "core/handles.h"
#include "core/mailbox.h"
#include "core/metrics.h"
#include "http/http_server.h"
#include "pki/validator.h"
#include "proxy/component_options.h"
#include "proxy/http_front.h"
#include "proxy/ocsp_errors.h"
#include "upstream/via_token.h"
#include "tests/unit/test_pki.h"
#include "tests/unit/test_util.h"

namespace ocsp {
namespace {

using test::certIdsIn;
using test::loadCert;
using test::readFile;
using test::realData;

constexpr int64_t kNow = 1700000000;  // inside the aws-lc answers' validity
constexpr const char* kHost = "ocsp.example.test";
constexpr const char* kCrlHost = "crl.example.test";
// The Host a client configured with the proxy's own URL (local responder) sends.
constexpr const char* kProxyHost = "ocsp-proxy.hospital.test:8080";

// The chain: answers every lookup with `answer` at once and keeps the last query.
class RecordingChain final : public Source {
 public:
  std::optional<Result<Answer>> answer;
  bool issuer_revoked = false;
  std::shared_ptr<const OcspQuery> last;
  std::shared_ptr<const Route> route;  // as the policy stage would have routed it; null: none
  int calls = 0;

  void lookup(Lookup lookup, Reply done) override {
    ++calls;
    last = lookup.query;
    REQUIRE_MESSAGE(answer.has_value(), "the chain was asked without a prepared answer");
    lookup.issuer_revoked = issuer_revoked;  // as the policy stage would have found it
    lookup.route = route;
    done(lookup, *answer);
  }
};

struct Response {
  int code = 0;
  std::map<std::string, std::string> headers;  // last value of each name
  std::string body;
};

Response parse(const std::string& raw) {
  Response r;
  const size_t end = raw.find("\r\n\r\n");
  REQUIRE_MESSAGE(end != std::string::npos, "no complete head in: " << raw);
  r.code = std::stoi(raw.substr(9, 3));
  size_t pos = raw.find("\r\n") + 2;
  while (pos < end) {
    const size_t eol = raw.find("\r\n", pos);
    const std::string line = raw.substr(pos, eol - pos);
    const size_t colon = line.find(':');
    r.headers[line.substr(0, colon)] = line.substr(colon + 2);
    pos = eol + 2;
  }
  r.body = raw.substr(end + 4);
  return r;
}

// One worker's front on a loopback port: the real HttpServer and HttpFront.
class Rig {
 public:
  explicit Rig(bool forward_enabled = true) : base_(event_base_new()), mailbox_(base_.get()) {
    auto config = std::make_shared<conf::Config>();
    config->upstreams.push_back(test::upstreamAt("aws-lc", {kHost}));
    config->crl.fqdns.push_back({kCrlHost, 80});
    config->forward.enabled = forward_enabled;
    config_ = config;
    allow_ = std::make_unique<AllowList>(*config_);
    front_ =
        std::make_unique<HttpFront>(FrontDeps{chain, clock_, frontOptions(*config_), *allow_, nullptr, mailbox_,
                                              nullptr, &metrics, nullptr, nullptr});
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(fd, 16) == 0);
    socklen_t len = sizeof(addr);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
    server_ = std::make_unique<HttpServer>(base_.get(), fd, HttpServerLimits{}, *front_);
  }

  // Sends `request` (which asks for Connection: close) and returns the whole answer, while
  // this thread runs the event loop.
  Response exchange(const std::string& request) {
    std::atomic<bool> done{false};
    std::string raw;
    std::thread client([&] {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(port_);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
          ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
              static_cast<ssize_t>(request.size())) {
        char buf[4096];
        for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;) raw.append(buf, n);
      }
      ::close(fd);
      done = true;
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done && std::chrono::steady_clock::now() < deadline) {
      event_base_loop(base_.get(), EVLOOP_NONBLOCK);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    client.join();
    REQUIRE_MESSAGE(done.load(), "no answer within 20 s");
    return parse(raw);
  }

  uint64_t requests(const char* mode, const char* result) {
    return metrics.counter(Metric::Requests, {mode, result}).value();
  }

  RecordingChain chain;
  Metrics metrics;

 private:
  EventBasePtr base_;
  FakeClock clock_{kNow};
  Mailbox mailbox_;
  std::shared_ptr<const conf::Config> config_;
  std::unique_ptr<AllowList> allow_;
  std::unique_ptr<HttpFront> front_;
  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
};

// One of aws-lc's answers, validated as the upstream stage would.
std::shared_ptr<const OcspEntry> awsLcEntry(const std::string& name) {
  const std::string der = readFile(realData("aws-lc-ocsp/" + name));
  const std::vector<CertIdInfo> ids = certIdsIn(der);
  X509Ptr ca = loadCert("aws-lc-ocsp/ca_cert.pem");
  ValidationInput in;
  in.der = der;
  in.cert_ids = &ids;
  in.issuer = ca.get();
  in.now = kNow;
  auto v = validateResponse(in);
  REQUIRE(v.ok());
  OcspEntry e;
  e.der = der;
  e.this_update = v->this_update;
  e.next_update = v->next_update;
  e.fetched_at = kNow;
  e.status = v->status;
  finishEntry(e, FreshnessPolicy{});
  return sealEntry(std::move(e));
}

std::shared_ptr<const OcspEntry> goodEntry() { return awsLcEntry("ocsp_response.der"); }

// The RFC 5019 §A.1 GET path of a DER request: base64, URL-encoded.
std::string getPath(const std::string& der) {
  std::string path = "/";
  for (char c : base64Encode(der)) {
    if (c == '+')
      path += "%2B";
    else if (c == '/')
      path += "%2F";
    else if (c == '=')
      path += "%3D";
    else
      path += c;
  }
  return path;
}

const std::string& requestDer() {
  static const std::string der = readFile(realData("aws-lc-ocsp/ocsp_request_no_nonce.der"));
  return der;
}

// The Host header a client sends for `target`: the URL's host in absolute form, the
// proxy's own name in origin form.
std::string hostFor(const std::string& target) {
  return target.front() == '/' ? kProxyHost : kHost;
}

std::string post(const std::string& target, const std::string& body,
                 const std::string& extra = "") {
  return "POST " + target + " HTTP/1.1\r\nHost: " + hostFor(target) +
         "\r\nContent-Type: application/ocsp-request\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + extra + "Connection: close\r\n\r\n" + body;
}

std::string bodiless(const std::string& method, const std::string& target,
                     const std::string& extra = "") {
  return method + " " + target + " HTTP/1.1\r\nHost: " + hostFor(target) + "\r\n" + extra +
         "Connection: close\r\n\r\n";
}

TEST_CASE("GET and POST of a real request get the chain's DER with Date and Content-Length") {
  Rig rig;
  std::shared_ptr<const OcspEntry> e = goodEntry();
  rig.chain.answer = Answer{e, AnswerSource::Memory};
  for (const std::string& request :
       {post("/", requestDer()), bodiless("GET", getPath(requestDer()))}) {
    CAPTURE(request.substr(0, 4));
    Response r = rig.exchange(request);
    CHECK(r.code == 200);
    CHECK(r.body == e->der.bytes());
    CHECK(r.headers["Content-Length"] == std::to_string(e->der.size()));
    CHECK(r.headers["Content-Type"] == "application/ocsp-response");
    CHECK(r.headers["Date"].size() == 29);  // an HTTP-date, RFC 9110 §5.6.7
    CHECK(r.headers["ETag"] == e->etag.view());
    CHECK(r.headers["Last-Modified"] == e->last_modified.view());
    CHECK(r.headers["Expires"] == e->expires.view());
    CHECK(r.headers["Cache-Control"] == "max-age=" + std::to_string(e->fresh_until - kNow) +
                                            ", public, no-transform, must-revalidate");
    REQUIRE(rig.chain.last != nullptr);
    CHECK(rig.chain.last->mode == Mode::Responder);
    CHECK(rig.chain.last->cert_ids.size() == 1);
    CHECK(rig.chain.last->request_der == requestDer());
  }
  CHECK(rig.requests("responder", "good") == 2);
  CHECK(rig.metrics.counter(Metric::CacheHits, {"memory"}).value() == 2);
}

TEST_CASE("HEAD gets the headers GET gets and no body; a matching ETag gets 304") {
  Rig rig;
  std::shared_ptr<const OcspEntry> e = goodEntry();
  rig.chain.answer = Answer{e, AnswerSource::Memory};
  Response head = rig.exchange(bodiless("HEAD", getPath(requestDer())));
  CHECK(head.code == 200);
  CHECK(head.body.empty());
  CHECK(head.headers["Content-Length"] == std::to_string(e->der.size()));
  CHECK(head.headers["ETag"] == e->etag.view());
  CHECK(head.headers["Content-Type"] == "application/ocsp-response");

  const std::string inm = "If-None-Match: " + std::string(e->etag.view()) + "\r\n";
  Response get = rig.exchange(bodiless("GET", getPath(requestDer()), inm));
  CHECK(get.code == 304);
  CHECK(get.body.empty());
  CHECK(get.headers["ETag"] == e->etag.view());
  Response posted = rig.exchange(post("/", requestDer(), inm));
  CHECK(posted.code == 200);
  CHECK(posted.body == e->der.bytes());
  CHECK(rig.requests("responder", "good") == 2);
  CHECK(rig.requests("responder", "not_modified") == 1);
}

TEST_CASE("a forward request is routed by its URL's host and counted as forward") {
  Rig rig;
  std::shared_ptr<const OcspEntry> e = goodEntry();
  rig.chain.answer = Answer{e, AnswerSource::Upstream};
  const std::string url = std::string("http://") + kHost;
  for (const std::string& request :
       {post(url + "/", requestDer()), bodiless("GET", url + getPath(requestDer()))}) {
    CAPTURE(request.substr(0, 4));
    Response r = rig.exchange(request);
    CHECK(r.code == 200);
    CHECK(r.body == e->der.bytes());
    CHECK(r.headers["ETag"] == e->etag.view());
    REQUIRE(rig.chain.last != nullptr);
    CHECK(rig.chain.last->mode == Mode::Forward);
    CHECK(rig.chain.last->forward_upstream == std::optional<size_t>(0));
  }
  CHECK(rig.requests("forward", "good") == 2);
  CHECK(rig.requests("responder", "good") == 0);
  CHECK(rig.metrics.counter(Metric::CacheMisses).value() == 2);

  // A host nobody configured never reaches the chain.
  const int calls = rig.chain.calls;
  test::StderrCapture log;
  Response refused = rig.exchange(post("http://elsewhere.example.test/", requestDer()));
  CHECK(refused.code == 403);
  CHECK(rig.chain.calls == calls);
  CHECK(log.count({"event=forward_refused", "reason=not_allowed", "host=elsewhere.example.test"}) ==
        1);
}

TEST_CASE("a GET under the path of the CA's AIA URL is answered in responder and forward mode") {
  Rig rig;
  std::shared_ptr<const OcspEntry> e = goodEntry();
  rig.chain.answer = Answer{e, AnswerSource::Memory};
  // The upstream's configured path is "/": the URLs' paths are the clients' own.
  const std::string forward = std::string("http://") + kHost;
  for (const std::string& target :
       {"/gts1c3" + getPath(requestDer()), "/gsrsaovsslca2018/" + getPath(requestDer()),
        forward + "/gts1c3" + getPath(requestDer()), forward + "/" + getPath(requestDer())}) {
    CAPTURE(target);
    Response r = rig.exchange(bodiless("GET", target));
    CHECK(r.code == 200);
    CHECK(r.body == e->der.bytes());
    REQUIRE(rig.chain.last != nullptr);
    CHECK(rig.chain.last->request_der == requestDer());
  }
  CHECK(rig.requests("responder", "good") == 2);
  CHECK(rig.requests("forward", "good") == 2);
  CHECK(rig.requests("responder", "malformed_request") == 0);
}

TEST_CASE("chain errors and undecodable requests get their OCSP error status, counted") {
  Rig rig;
  rig.chain.answer = Result<Answer>(makeError(ErrorCategory::UpstreamUnavailable, "timeout"));
  Response r = rig.exchange(post("/", requestDer()));
  CHECK(r.code == 200);
  CHECK(r.body == ocspErrorResponse(OCSP_RESPONSE_STATUS_TRYLATER));
  CHECK(r.headers["Cache-Control"] == "no-store");
  CHECK(rig.requests("responder", "try_later") == 1);
  CHECK(r.headers.count("X-OCSP-Proxy-Flags") == 0);

  rig.chain.issuer_revoked = true;
  Response flagged = rig.exchange(post("/", requestDer()));
  CHECK(flagged.body == ocspErrorResponse(OCSP_RESPONSE_STATUS_TRYLATER));
  CHECK(flagged.headers["X-OCSP-Proxy-Flags"] == "issuer_revoked");

  const int calls = rig.chain.calls;
  test::StderrCapture log;
  Response bad = rig.exchange(post("/", "not an OCSP request"));
  CHECK(log.count({"event=malformed_request", "reason=not_der"}) == 1);
  CHECK(bad.code == 200);
  CHECK(bad.body == ocspErrorResponse(OCSP_RESPONSE_STATUS_MALFORMEDREQUEST));
  CHECK(rig.chain.calls == calls);
  CHECK(rig.requests("responder", "malformed_request") == 1);
}

// An origin-form request with exactly these header lines (each ending in \r\n).
std::string originForm(const std::string& method, const std::string& target,
                       const std::string& headers, const std::string& body = "") {
  std::string length =
      method == "POST" ? "Content-Length: " + std::to_string(body.size()) + "\r\n" : "";
  return method + " " + target + " HTTP/1.1\r\n" + headers + length +
         "Connection: close\r\n\r\n" + body;
}

TEST_CASE("an origin-form request whose Host names an upstream is served as transparent mode") {
  // DNS points ocsp.example.test at the proxy: clients send what they would send the CA.
  // Forward mode is off: transparent mode is a deployment of its own.
  Rig rig(/*forward_enabled=*/false);
  std::shared_ptr<const OcspEntry> e = goodEntry();
  rig.chain.answer = Answer{e, AnswerSource::Upstream};
  const std::string host = std::string("Host: ") + kHost + "\r\n";
  for (const std::string& request :
       {originForm("POST", "/", host, requestDer()),
        originForm("GET", getPath(requestDer()), host),
        originForm("GET", "/gts1c3" + getPath(requestDer()), host),
        originForm("GET", getPath(requestDer()), "Host: OCSP.Example.Test:80\r\n")}) {
    CAPTURE(request.substr(0, 40));
    rig.chain.last = nullptr;
    Response r = rig.exchange(request);
    CHECK(r.code == 200);
    CHECK(r.body == e->der.bytes());
    REQUIRE(rig.chain.last != nullptr);
    CHECK(rig.chain.last->mode == Mode::Transparent);
    CHECK(rig.chain.last->forward_upstream == std::optional<size_t>(0));
    CHECK(rig.chain.last->request_der == requestDer());
  }
  CHECK(rig.requests("transparent", "good") == 4);
  CHECK(rig.requests("responder", "good") == 0);
  CHECK(rig.requests("forward", "good") == 0);
}

TEST_CASE("a CRL GET whose Host names a CRL host goes to the CRL service, not the OCSP decoder") {
  Rig rig(/*forward_enabled=*/false);
  const std::string host = std::string("Host: ") + kCrlHost + "\r\n";
  // No CRL service in this rig: its 502 shows where the request went (the CRL service's
  // answers are tested in tests/integration/test_transparent.py).
  Response crl = rig.exchange(originForm("GET", "/DigiCertGlobalRootCA.crl", host));
  CHECK(crl.code == 502);
  CHECK(crl.body == "CRL service not running\n");
  // The same rules as forward mode: a query not listed in crl.urls is refused, POST too.
  test::StderrCapture log;
  Response query = rig.exchange(originForm("GET", "/ca.crl?cache=bust", host));
  CHECK(query.code == 403);
  CHECK(log.count({"event=forward_refused", "reason=crl_query", "host=crl.example.test"}) == 1);
  Response posted = rig.exchange(originForm("POST", "/ca.crl", host, requestDer()));
  CHECK(posted.code == 405);
  CHECK(rig.chain.calls == 0);
  CHECK(rig.requests("responder", "malformed_request") == 0);
}

TEST_CASE("an origin-form request whose Host names no allowed host stays a local-responder one") {
  Rig rig;
  std::shared_ptr<const OcspEntry> e = goodEntry();
  rig.chain.answer = Answer{e, AnswerSource::Memory};
  const std::string hosts[] = {
      std::string("Host: ") + kProxyHost + "\r\n",        // the proxy's own name
      "Host: 127.0.0.1:8080\r\n",                         // its address
      "Host: 127.0.0.1\r\n",
      "Host: elsewhere.example.test\r\n",                 // a host nobody allowed
      std::string("Host: ") + kHost + ":8080\r\n",        // an upstream on another port
      std::string("Host: ") + kHost + "\r\nHost: " + kHost + "\r\n",  // two Host headers
      std::string("Host: ") + kHost + "/x\r\n",           // not a Host value
      std::string("Host: user@") + kHost + "\r\n",
      "",                                                  // none
  };
  int answered = 0;
  for (const std::string& host : hosts) {
    CAPTURE(host);
    rig.chain.last = nullptr;
    Response r = rig.exchange(originForm("GET", "/gts1c3" + getPath(requestDer()), host));
    CHECK(r.code == 200);
    CHECK(r.body == e->der.bytes());
    REQUIRE(rig.chain.last != nullptr);
    CHECK(rig.chain.last->mode == Mode::Responder);
    CHECK_FALSE(rig.chain.last->forward_upstream.has_value());
    ++answered;
  }
  CHECK(rig.requests("responder", "good") == answered);
  CHECK(rig.requests("transparent", "good") == 0);
}

TEST_CASE("a request whose Via names this process is our own fetch come back: 508 in every mode") {
  // DNS points ocsp.example.test at the proxy, and the proxy resolves it the same way: its
  // upstream fetch (which carries our Via) reaches it again. Each mode refuses it at once.
  Rig rig;
  std::shared_ptr<const OcspEntry> e = goodEntry();
  rig.chain.answer = Answer{e, AnswerSource::Upstream};
  const std::string own = "Via: " + viaHeaderValue() + "\r\n";
  const std::string transparent_host = std::string("Host: ") + kHost + "\r\n";
  test::StderrCapture log;
  const std::string requests[] = {
      originForm("POST", "/", transparent_host + own, requestDer()),         // transparent
      originForm("GET", "/ca.crl", std::string("Host: ") + kCrlHost + "\r\n" + own),
      post(std::string("http://") + kHost + "/", requestDer(), own),         // forward
      bodiless("GET", getPath(requestDer()), own),                           // responder
      // Ours among other proxies' entries, in a second Via header, with a comment.
      bodiless("GET", getPath(requestDer()),
               "Via: 1.1 squid.hospital.test (squid/6.1)\r\nVia: 1.0 fred, " +
                   viaHeaderValue() + " (ocsp-proxy)\r\n"),
  };
  for (const std::string& request : requests) {
    CAPTURE(request.substr(0, 40));
    Response r = rig.exchange(request);
    CHECK(r.code == 508);
    CHECK(r.headers["Cache-Control"] == "no-store");
    CHECK(r.body.find("resolve:") != std::string::npos);
  }
  CHECK(rig.chain.calls == 0);
  CHECK(rig.metrics.counter(Metric::ForwardRefused, {"loop"}).value() == 5);
  // One ERROR line each (host: the Host header): transparent and forward, CRL, responder.
  CHECK(log.count({"event=request_loop", "level=error", "host=ocsp.example.test"}) == 2);
  CHECK(log.count({"event=request_loop", "host=crl.example.test"}) == 1);
  CHECK(log.count({"event=request_loop", "host=ocsp-proxy.hospital.test:8080"}) == 2);

  // Another ocsp-proxy in a chain of proxies (another token), or ours only inside a
  // comment, is no loop: served.
  for (const std::string& via :
       {std::string("Via: 1.1 ocsp-proxy-0123456789abcdef\r\n"),
        "Via: 1.1 cache.hospital.test (" + viaReceivedBy() + ")\r\n"}) {
    CAPTURE(via);
    Response r = rig.exchange(bodiless("GET", getPath(requestDer()), via));
    CHECK(r.code == 200);
    CHECK(r.body == e->der.bytes());
  }
  CHECK(rig.chain.calls == 2);
}

// A request for two certificates of `ca` and the answer covering both: the first good, the
// second revoked.
std::pair<std::string, std::shared_ptr<const OcspEntry>> twoCertIdExchange(
    const test::Identity& ca) {
  OcspCertIdPtr good = test::certIdFor(ca, 1001);
  OcspCertIdPtr revoked = test::certIdFor(ca, 1002);
  OcspRequestPtr req(OCSP_REQUEST_new());
  REQUIRE(req);
  for (const OcspCertIdPtr& id : {std::cref(good), std::cref(revoked)}) {
    REQUIRE(OCSP_request_add0_id(req.get(), OCSP_CERTID_dup(id.get())) != nullptr);
  }
  unsigned char* out = nullptr;
  const int len = i2d_OCSP_REQUEST(req.get(), &out);
  REQUIRE(len > 0);
  std::string request_der(reinterpret_cast<const char*>(out), static_cast<size_t>(len));
  OPENSSL_free(out);
  OcspEntry e;
  e.der = test::makeResponse(
      {{good.get()},
       {revoked.get(), V_OCSP_CERTSTATUS_REVOKED, OCSP_REVOKED_STATUS_KEYCOMPROMISE}},
      ca);
  e.this_update = test::kT;
  e.next_update = test::kT + test::kDay;
  e.fetched_at = test::kT;
  e.status = CertStatus::Good;  // of the first SingleResponse
  finishEntry(e, FreshnessPolicy{});
  return {request_der, sealEntry(std::move(e))};
}

TEST_CASE("answers are counted per CertID by the routed upstream's name and status") {
  Rig rig;
  auto answers = [&rig](const char* upstream, const char* status) {
    return rig.metrics.counter(Metric::Answers, {upstream, status}).value();
  };
  auto route = std::make_shared<Route>();
  route->upstream_name = "aws-lc";
  route->issuer_name = "CN=a subject that must not become a label";
  rig.chain.route = route;

  rig.chain.answer = Answer{goodEntry(), AnswerSource::Memory};
  CHECK(rig.exchange(post("/", requestDer())).code == 200);
  rig.chain.answer = Answer{awsLcEntry("ocsp_response_revoked.der"), AnswerSource::Upstream};
  CHECK(rig.exchange(bodiless("GET", getPath(requestDer()))).code == 200);
  CHECK(rig.exchange(post("/", requestDer())).code == 200);
  rig.chain.answer = Result<Answer>(makeError(ErrorCategory::UpstreamUnavailable, "timeout"));
  CHECK(rig.exchange(post("/", requestDer())).code == 200);
  CHECK(answers("aws-lc", "good") == 1);
  CHECK(answers("aws-lc", "revoked") == 2);
  CHECK(answers("aws-lc", "unknown") == 0);
  CHECK(answers("aws-lc", "error") == 1);

  // Two CertIDs in one request: one count each, with each CertID's own status.
  test::Identity ca = test::issue({.cn = "two-certid CA", .ca = true}, nullptr);
  const auto two = twoCertIdExchange(ca);
  const std::string& request = two.first;
  rig.chain.answer = Answer{two.second, AnswerSource::Upstream};
  CHECK(rig.exchange(post("/", request)).code == 200);
  CHECK(answers("aws-lc", "good") == 2);
  CHECK(answers("aws-lc", "revoked") == 3);
  rig.chain.answer = Result<Answer>(makeError(ErrorCategory::UpstreamUnavailable, "timeout"));
  CHECK(rig.exchange(post("/", request)).code == 200);
  CHECK(answers("aws-lc", "error") == 3);

  // A query no upstream was routed to (unknown issuer): status error, upstream "".
  rig.chain.route = nullptr;
  rig.chain.answer = Result<Answer>(makeError(ErrorCategory::Unauthorized, "unknown_issuer"));
  CHECK(rig.exchange(post("/", requestDer())).code == 200);
  CHECK(answers("", "error") == 1);
  // Only those two label values: never the issuer's subject.
  const std::string exposition = rig.metrics.exposition();
  CHECK(exposition.find("subject that must not") == std::string::npos);
  CHECK(exposition.find("ocsp_proxy_answers_total{upstream=\"aws-lc\",status=\"revoked\"} 3") !=
        std::string::npos);
  // An undecodable request has no CertID: counted in requests_total only.
  CHECK(rig.exchange(post("/", "not an OCSP request")).code == 200);
  CHECK(answers("", "error") == 1);
}

}  // namespace
}  // namespace ocsp
