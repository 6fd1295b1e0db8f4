// The upstream stage (upstream/upstream_source.h) against a fake fetcher: which FQDN it asks
// and in what order, what comes back, and what counts against an FQDN's circuit. The answers
// are real OCSP responses signed by the test PKI (tests/unit/test_pki.h).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <thread>

#include "tests/unit/fake_fetcher.h"
#include "tests/unit/test_pki.h"
#include "tests/unit/test_util.h"
#include "proxy/component_options.h"
#include "upstream/upstream_source.h"

using namespace ocsp;
using namespace ocsp::test;

namespace {

constexpr long kSerial = 7;
const std::vector<std::string> kFqdns = {"ocsp1.test", "ocsp2.test", "ocsp3.test"};

SharedX509 shared(const Identity& id) {
  REQUIRE(X509_up_ref(id.cert.get()) == 1);
  return shareX509(X509Ptr(id.cert.get()));
}

// A client's request for `id` with a nonce; `nonce` is the extension's contents (the DER of
// the OCTET STRING that wraps the raw bytes, short form).
std::string requestWithNonce(OCSP_CERTID* id, const std::string& nonce) {
  OcspRequestPtr req(OCSP_REQUEST_new());
  REQUIRE(OCSP_request_add0_id(req.get(), OCSP_CERTID_dup(id)) != nullptr);
  std::string raw = nonce.substr(2);
  auto* bytes = reinterpret_cast<unsigned char*>(raw.data());
  REQUIRE(OCSP_request_add1_nonce(req.get(), bytes, static_cast<int>(raw.size())) == 1);
  return toDer(req.get(), i2d_OCSP_REQUEST);
}

// What a client asks, routed to this upstream.
struct Ask {
  size_t first_fqdn = 0;               // forward mode: the FQDN the URL named
  std::optional<std::string> nonce{};  // set: nonce passthrough with this nonce
};

// One upstream with three FQDNs, the stage under test and what it talks to.
struct World {
  Identity ca = issue({.cn = "Upstream CA", .ca = true}, nullptr);
  OcspCertIdPtr id = certIdFor(ca, kSerial);
  std::shared_ptr<const conf::Config> config = makeConfig();
  FakeFetcher fetcher;
  FakeClock clock{kT};
  FqdnHealth health;
  NonceEcho nonce_echo{clock};
  UpstreamSource source;

  explicit World(FqdnHealth::Policy policy = {})
      : health(policy),
        source(upstreamOptions(*config), fetcher, health, clock, nullptr, nullptr, &nonce_echo) {}

  static std::shared_ptr<const conf::Config> makeConfig() {
    auto config = std::make_shared<conf::Config>();
    conf::Upstream up = test::upstreamAt("testca", kFqdns);
    up.path = "/";
    config->upstreams = {up};
    config->limits.max_upstream_response_bytes = 4096;
    return config;
  }

  // Starts a lookup; `out` is set when the stage replies.
  void start(const Ask& ask, std::optional<Result<Answer>>& out) {
    auto q = std::make_shared<OcspQuery>();
    q->cert_ids = {infoOf(id)};
    q->request_der = ask.nonce ? requestWithNonce(id.get(), *ask.nonce)
                               : encodeOcspRequest(q->cert_ids);
    q->key = cacheKeyFor(q->cert_ids);
    q->client = "192.0.2.1:40000";
    q->nonce = ask.nonce;
    auto route = std::make_shared<Route>();
    route->upstream_index = 0;
    route->upstream_name = "testca";
    route->issuer = shared(ca);
    route->issuer_name = subjectLine(ca.cert.get());
    route->first_fqdn = ask.first_fqdn;
    Lookup lookup{std::move(q), std::move(route)};
    lookup.passthrough = ask.nonce.has_value();
    source.lookup(std::move(lookup),
                  [&out](const Lookup&, Result<Answer> r) { out = std::move(r); });
  }

  // The stage's reply once the fetcher has delivered everything.
  Result<Answer> ask(const Ask& ask = {}) {
    std::optional<Result<Answer>> out;
    start(ask, out);
    fetcher.run();
    REQUIRE(out.has_value());
    return std::move(*out);
  }

  std::string answer(int status, SingleSpec single = {nullptr}) {
    single.id = id.get();
    single.status = status;
    if (status == V_OCSP_CERTSTATUS_REVOKED) single.reason = OCSP_REVOKED_STATUS_KEYCOMPROMISE;
    return makeResponse({single}, ca);
  }
  std::string good() { return answer(V_OCSP_CERTSTATUS_GOOD); }

  // The hosts asked since the `first` request.
  std::vector<std::string> hostsFrom(size_t first) const {
    std::vector<std::string> all = fetcher.hosts();
    return std::vector<std::string>(all.begin() + static_cast<std::ptrdiff_t>(first), all.end());
  }

  int failuresOf(const std::string& fqdn) {
    for (const auto& v : health.snapshot(monotonicMs())) {
      if (v.fqdn == fqdn) return v.consecutive_failures;
    }
    return 0;
  }
};

FakeReply ok(std::string body) { return FakeReply{.body = std::move(body)}; }


}  // namespace

TEST_CASE("the FQDNs are asked in config order until one answers") {
  World w;
  w.fetcher.answer("ocsp1.test", FakeReply{.transport = CURLE_COULDNT_CONNECT});
  w.fetcher.answer("ocsp2.test", FakeReply{.status = 503});
  w.fetcher.answer("ocsp3.test", ok(w.good()));
  auto r = w.ask();
  REQUIRE(r.ok());
  CHECK(w.fetcher.hosts() == kFqdns);
  CHECK(r->entry->upstream_fqdn == "ocsp3.test");
  CHECK(r->entry->status == CertStatus::Good);
  CHECK(r->source == AnswerSource::Upstream);
  const FetchRequest& sent = w.fetcher.requests().front();
  CHECK(sent.url == "http://ocsp1.test:80/");
  CHECK(sent.content_type == "application/ocsp-request");
  CHECK(sent.post_body == encodeOcspRequest({infoOf(w.id)}));
}

TEST_CASE("forward mode starts at the FQDN the URL named, then wraps around in config order") {
  World w;
  for (const auto& fqdn : kFqdns) w.fetcher.answer(fqdn, FakeReply{.status = 500});
  StderrCapture log;
  auto r = w.ask({.first_fqdn = 1});
  REQUIRE_FALSE(r.ok());
  CHECK(w.fetcher.hosts() == std::vector<std::string>{"ocsp2.test", "ocsp3.test", "ocsp1.test"});
  CHECK(r.error().code == "upstream_failed");
  CHECK(r.error().category == ErrorCategory::UpstreamUnavailable);
  CHECK(log.count({"event=upstream_attempt_failed", "reason=\"HTTP status 500\""}) == 3);
  CHECK(log.count({"event=upstream_failed", "upstream=testca"}) == 1);
}

TEST_CASE(
    "a failure of the CA moves on to the next FQDN, counts against the FQDN, and is never "
    "returned") {
  struct Row {
    const char* what;
    std::function<FakeReply(World&)> reply;
    const char* event;
    const char* reason;
  };
  const std::vector<Row> rows = {
      {"connection refused", [](World&) { return FakeReply{.transport = CURLE_COULDNT_CONNECT}; },
       "event=upstream_attempt_failed", "reason=\"Could"},
      {"timeout", [](World& w) { return FakeReply{.body = w.good(), .delay_ms = 6'000}; },
       "event=upstream_attempt_failed", "reason=\"Operation timed out"},
      {"HTTP 503", [](World& w) { return FakeReply{.status = 503, .body = w.good()}; },
       "event=upstream_attempt_failed", "reason=\"HTTP status 503\""},
      {"oversize body", [](World&) { return ok(std::string(5000, 'x')); },
       "event=upstream_attempt_failed", "reason=\"response larger than 4096 bytes\""},
      {"garbage", [](World&) { return ok("<html>maintenance</html>"); },
       "event=upstream_validation_failed", "reason=unparsable"},
      {"signed by an impostor with the CA's name",
       [](World& w) {
         Identity impostor = issue({.cn = "Upstream CA", .ca = true}, nullptr);
         SingleSpec s{w.id.get(), V_OCSP_CERTSTATUS_REVOKED, OCSP_REVOKED_STATUS_KEYCOMPROMISE};
         return ok(makeResponse({s}, impostor, {.flags = OCSP_NOCERTS}));
       },
       "event=upstream_validation_failed", "reason=bad_signature"},
      {"expired",
       [](World& w) {
         return ok(w.answer(V_OCSP_CERTSTATUS_REVOKED, {nullptr, 0, 0, kT - 3 * kDay, kT - kDay}));
       },
       "event=upstream_validation_failed", "reason=expired"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.what);
    World w;
    w.fetcher.answer("ocsp1.test", row.reply(w));
    w.fetcher.answer("ocsp2.test", ok(w.good()));
    StderrCapture log;
    auto r = w.ask();
    REQUIRE(r.ok());
    CHECK(w.fetcher.hosts() == std::vector<std::string>{"ocsp1.test", "ocsp2.test"});
    // What came back is ocsp2's answer; nothing of ocsp1's reached the caller (or a cache).
    CHECK(r->entry->upstream_fqdn == "ocsp2.test");
    CHECK(r->entry->status == CertStatus::Good);
    CHECK(r->entry->cacheable);
    CHECK(log.count({row.event, "fqdn=ocsp1.test", row.reason}) == 1);
    CHECK(w.failuresOf("ocsp1.test") == 1);
    CHECK(w.failuresOf("ocsp2.test") == 0);
  }
}

TEST_CASE("when every FQDN answered but none validated the lookup fails as validation_failed") {
  World w;
  for (const auto& fqdn : kFqdns) {
    w.fetcher.answer(
        fqdn, ok(w.answer(V_OCSP_CERTSTATUS_GOOD, {nullptr, 0, 0, kT - 3 * kDay, kT - kDay})));
  }
  auto r = w.ask();
  REQUIRE_FALSE(r.ok());
  CHECK(w.fetcher.hosts() == kFqdns);
  CHECK(r.error().category == ErrorCategory::ValidationFailed);
  CHECK(r.error().detail.find("last: expired") != std::string::npos);
}

TEST_CASE("three failures open an FQDN's circuit; it is skipped until its backoff has passed") {
  // A backoff long enough that the lookups right after the third failure fall inside it even
  // on a loaded machine, short enough to wait out.
  World w(FqdnHealth::Policy{3, 1'000, 1'000});
  w.fetcher.answer("ocsp1.test", FakeReply{.status = 502});
  w.fetcher.answer("ocsp2.test", ok(w.good()));
  StderrCapture log;
  for (int i = 0; i < 3; ++i) REQUIRE(w.ask().ok());
  CHECK(w.fetcher.hosts().size() == 6);  // ocsp1 then ocsp2, three times
  CHECK(log.count({"event=circuit", "state=open", "fqdn=ocsp1.test"}) == 1);

  const size_t before = w.fetcher.requests().size();
  auto skipped = w.ask();
  REQUIRE(skipped.ok());
  CHECK(w.hostsFrom(before) == std::vector<std::string>{"ocsp2.test"});

  std::this_thread::sleep_for(std::chrono::milliseconds(1'100));
  const size_t later = w.fetcher.requests().size();
  REQUIRE(w.ask().ok());
  // The probe goes to ocsp1 again; it fails, so ocsp2 answers once more.
  CHECK(w.hostsFrom(later) == std::vector<std::string>{"ocsp1.test", "ocsp2.test"});
}

TEST_CASE("with every circuit open the lookup fails at once, without a request") {
  World w(FqdnHealth::Policy{1, 60'000, 60'000});
  for (const auto& fqdn : kFqdns) w.fetcher.answer(fqdn, FakeReply{.status = 500});
  REQUIRE_FALSE(w.ask().ok());
  const size_t before = w.fetcher.requests().size();
  std::optional<Result<Answer>> out;
  w.start({}, out);
  REQUIRE(out.has_value());
  CHECK(out->error().code == "upstream_failed");
  CHECK(out->error().detail.find("circuit open") != std::string::npos);
  CHECK(w.fetcher.requests().size() == before);
}

TEST_CASE(
    "an answer that fails because of what the client asked ends the lookup and spares the FQDN") {
  struct Row {
    const char* reason;
    bool passthrough;
    std::function<std::string(World&)> body;
  };
  const std::vector<Row> rows = {
      // The client sent a nonce; the CA's answer carries another one (made for someone else).
      {"nonce_mismatch", true,
       [](World& w) {
         return makeResponse({SingleSpec{w.id.get()}}, w.ca, {.nonce = std::string("else")});
       }},
      // The CA answers for another certificate than the one asked about.
      {"certid_mismatch", false,
       [](World& w) {
         OcspCertIdPtr other = certIdFor(w.ca, kSerial + 1);
         return makeResponse({SingleSpec{other.get()}}, w.ca);
       }},
  };
  for (const Row& row : rows) {
    CAPTURE(row.reason);
    World w;
    w.fetcher.answer("ocsp1.test", ok(row.body(w)));
    w.fetcher.answer("ocsp2.test", ok(w.good()));
    StderrCapture log;
    for (int i = 0; i < 4; ++i) {
      Ask ask;
      if (row.passthrough) ask.nonce = std::string("\x04\x04nonc", 6);
      auto r = w.ask(ask);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == row.reason);
    }
    // Never failed over: ocsp2 would answer the same way.
    CHECK(w.fetcher.hosts() == std::vector<std::string>(4, "ocsp1.test"));
    CHECK(log.count({"event=upstream_validation_failed", "blame=request",
                     std::string("reason=") + row.reason}) == 4);
    // Four such answers and ocsp1's circuit is still closed: the next lookup asks it first.
    CHECK(log.count({"event=circuit"}) == 0);
    CHECK(w.failuresOf("ocsp1.test") == 0);
    w.ask();
    CHECK(w.fetcher.hosts().at(4) == "ocsp1.test");
  }
}

TEST_CASE(
    "under nonce passthrough the client's request goes upstream as sent; an answer that echoes "
    "its nonce is not cacheable, one without a nonce is, and the upstream's habit is learned") {
  // The request-side nonce as the decoder gives it: the extension's contents, which wrap the
  // raw bytes the responder echoes in an OCTET STRING (RFC 8954).
  const std::string raw = "0123456789abcdef";
  const std::string nonce = std::string("\x04\x10", 2) + raw;
  World w;
  w.fetcher.answer("ocsp1.test",
                   ok(makeResponse({SingleSpec{w.id.get()}}, w.ca, {.nonce = raw})));
  StderrCapture log;
  auto echoed = w.ask({.nonce = nonce});
  REQUIRE(echoed.ok());
  CHECK_FALSE(echoed->entry->cacheable);
  CHECK_FALSE(w.nonce_echo.ignores("testca"));
  CHECK(log.count({"event=upstream_nonce"}) == 0);  // echoing is what is assumed

  // The same CA behind a CDN: pre-produced answers without nonce.
  w.fetcher.answer("ocsp1.test", ok(w.good()));
  auto ignored = w.ask({.nonce = nonce});
  REQUIRE(ignored.ok());
  CHECK(ignored->entry->cacheable);
  CHECK(ignored->entry->status == CertStatus::Good);
  CHECK(w.nonce_echo.ignores("testca"));
  CHECK(log.count({"event=upstream_nonce", "upstream=testca", "state=ignored"}) == 1);
  // Neither answer was a failure of the FQDN, nor blamed on the request.
  CHECK(w.fetcher.hosts() == std::vector<std::string>(2, "ocsp1.test"));
  CHECK(log.count({"event=upstream_validation_failed"}) == 0);
  // What went upstream both times is the client's request as sent, nonce included.
  for (const FetchRequest& sent : w.fetcher.requests()) {
    CHECK(sent.post_body == requestWithNonce(w.id.get(), nonce));
  }

  // A lookup without passthrough teaches nothing; an echo again ends "ignored" at once.
  w.ask();
  CHECK(w.nonce_echo.ignores("testca"));
  w.fetcher.answer("ocsp1.test",
                   ok(makeResponse({SingleSpec{w.id.get()}}, w.ca, {.nonce = raw})));
  REQUIRE(w.ask({.nonce = nonce}).ok());
  CHECK_FALSE(w.nonce_echo.ignores("testca"));
  CHECK(log.count({"event=upstream_nonce", "upstream=testca", "state=echoed"}) == 1);
}

TEST_CASE("what was learned of an upstream ignoring nonces is forgotten after an hour") {
  FakeClock clock(kT);
  NonceEcho echo(clock);
  StderrCapture log;
  echo.answered("cdnca", false);
  CHECK(echo.ignores("cdnca"));
  CHECK_FALSE(echo.ignores("otherca"));
  clock.advance(NonceEcho::kForgetAfterS - 1);
  CHECK(echo.ignores("cdnca"));
  clock.advance(1);
  CHECK_FALSE(echo.ignores("cdnca"));  // the next request with a nonce asks the CA again
  echo.answered("cdnca", false);       // which still ignores it: learned again, no new line
  CHECK(echo.ignores("cdnca"));
  CHECK(log.count({"event=upstream_nonce", "state=ignored"}) == 1);
}

TEST_CASE("an upstream that refuses the request speaks for the CA: no failover, circuit spared") {
  World w;
  OcspResponsePtr refused(OCSP_response_create(OCSP_RESPONSE_STATUS_UNAUTHORIZED, nullptr));
  w.fetcher.answer("ocsp1.test", ok(toDer(refused.get(), i2d_OCSP_RESPONSE)));
  auto r = w.ask();
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().category == ErrorCategory::Unauthorized);
  CHECK(w.fetcher.hosts() == std::vector<std::string>{"ocsp1.test"});
  CHECK(w.failuresOf("ocsp1.test") == 0);
}
