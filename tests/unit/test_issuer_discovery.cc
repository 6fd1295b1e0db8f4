// Issuer discovery (upstream/issuer_discovery.h) over the real upstream stage and AIA
// completion, against a fake fetcher: which upstreams are asked about an issuer nobody
// configured, which one wins, what a client gets when none does, and the failure memo.
// Certificates and answers come from the test PKI (tests/unit/test_pki.h).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <optional>

#include "proxy/component_options.h"
#include "tests/unit/fake_fetcher.h"
#include "tests/unit/test_pki.h"
#include "tests/unit/test_util.h"
#include "upstream/issuer_discovery.h"

using namespace ocsp;
using namespace ocsp::test;

namespace {

constexpr const char* kAiaUrl = "http://aia.test/issuing.der";

std::string refusal(int status) {
  OcspResponsePtr r(OCSP_response_create(status, nullptr));
  return toDer(r.get(), i2d_OCSP_RESPONSE);
}

// Three upstreams ("first", "serving", "last"), none configured with the issuing CA, whose
// delegated responder points at it with caIssuers; the trust store holds the root.
struct World {
  Identity root = issue({.cn = "Discovery Root", .ca = true}, nullptr);
  Identity issuing = issue({.cn = "Issuing CA", .ca = true}, &root);
  Identity responder = issue(
      {.cn = "Issuing CA OCSP", .ocsp_signing = true, .aia = std::string("caIssuers;URI:") + kAiaUrl},
      &issuing);
  X509StorePtr trust{X509_STORE_new()};
  std::shared_ptr<const conf::Config> config = makeConfig();
  AllowList allow{*config};
  IssuerIndex index{*config};
  FakeClock clock{kT};
  FakeFetcher fetcher;
  FqdnHealth health;
  Metrics metrics;
  DiscoveryMemo memo;
  AiaCompleter completer{aiaCompleterOptions(*config), allow, trust.get(), index, fetcher, clock};
  UpstreamSource upstream{upstreamOptions(*config), fetcher, health, clock, &completer, &metrics};
  DiscoverySource discovery{discoveryOptions(*config), index, memo, clock, upstream, &metrics};

  // `aia`: what the caIssuers URL serves (default: the issuing CA).
  explicit World(const Identity* aia = nullptr) {
    REQUIRE(X509_STORE_add_cert(trust.get(), root.cert.get()) == 1);
    fetcher.answer(kAiaUrl, FakeReply{.body = toDer((aia ? *aia : issuing).cert.get(), i2d_X509)});
  }

  static std::shared_ptr<const conf::Config> makeConfig() {
    auto c = std::make_shared<conf::Config>();
    c->upstreams = {test::upstreamAt("first", {"ocsp.first.test"}),
                    test::upstreamAt("serving", {"ocsp.serving.test"}),
                    test::upstreamAt("last", {"ocsp.last.test"})};
    c->forward.aia_fqdns = {{"aia.test", 80}};
    // Forward mode passes unvalidated answers; discovery must never.
    c->forward.unknown_issuer = conf::UnknownIssuerPolicy::Pass;
    return c;
  }

  // The serving upstream's answer about `serial`, signed by the delegated responder.
  std::string answerFor(long serial) {
    OcspCertIdPtr id = certIdFor(issuing, serial);
    return makeResponse({SingleSpec{id.get()}}, responder);
  }

  // A responder-mode query for `serial`, routed for discovery as PolicySource routes it.
  Result<Answer> ask(long serial, std::shared_ptr<const Route>* routed = nullptr) {
    auto q = std::make_shared<OcspQuery>();
    q->cert_ids = {infoOf(certIdFor(issuing, serial))};
    q->request_der = encodeOcspRequest(q->cert_ids);
    q->key = cacheKeyFor(q->cert_ids);
    q->client = "192.0.2.1:40000";
    auto route = std::make_shared<Route>();
    route->discover = true;
    std::optional<Result<Answer>> out;
    discovery.lookup(Lookup{std::move(q), std::move(route)},
                     [&](const Lookup& l, Result<Answer> r) {
                       if (routed != nullptr) *routed = l.route;
                       out = std::move(r);
                     });
    fetcher.run();
    REQUIRE(out.has_value());
    return std::move(*out);
  }

  size_t asked(const std::string& host) const {
    size_t n = 0;
    for (const auto& h : fetcher.hosts()) n += h == host ? 1 : 0;
    return n;
  }
  double outcome(const char* name) { return metrics.counter(Metric::IssuerDiscovery, {name}).value(); }
  int failuresOf(const std::string& fqdn) {
    for (const auto& v : health.snapshot(monotonicMs())) {
      if (v.fqdn == fqdn) return v.consecutive_failures;
    }
    return 0;
  }
};

}  // namespace

TEST_CASE("the upstream whose answer validates is learned; the refusing ones lose nothing") {
  World w;
  w.fetcher.answer("ocsp.first.test", FakeReply{.body = refusal(OCSP_RESPONSE_STATUS_UNAUTHORIZED)});
  w.fetcher.answer("ocsp.serving.test", FakeReply{.body = w.answerFor(5)});
  w.fetcher.answer("ocsp.last.test", FakeReply{.body = refusal(OCSP_RESPONSE_STATUS_UNAUTHORIZED)});
  StderrCapture log;
  std::shared_ptr<const Route> routed;
  auto r = w.ask(5, &routed);
  REQUIRE(r.ok());
  CHECK(r->entry->validated);
  CHECK(r->entry->cacheable);
  CHECK(r->entry->upstream_fqdn == "ocsp.serving.test");
  // The client's answer is routed as the learned issuer, and later queries route there.
  REQUIRE(routed != nullptr);
  CHECK(routed->upstream_name == "serving");
  CHECK(X509_cmp(routed->issuer.get(), w.issuing.cert.get()) == 0);
  auto later = w.index.find(infoOf(certIdFor(w.issuing, 6)));
  REQUIRE(later != nullptr);
  CHECK(later->upstream_name == "serving");
  CHECK(log.count({"event=issuer_learned", "upstream=serving", "source=discovery"}) == 1);
  CHECK(w.index.learned().at(0).from == LearnedFrom::Discovery);
  // "Not my issuer" is an answer: no circuit counts it.
  CHECK(w.failuresOf("ocsp.first.test") == 0);
  CHECK(w.failuresOf("ocsp.last.test") == 0);
  CHECK(w.outcome("learned") == 1);
}

TEST_CASE("an issuer nobody serves is unauthorized, and every serial of it is remembered") {
  World w;
  for (const char* host : {"ocsp.first.test", "ocsp.serving.test", "ocsp.last.test"}) {
    w.fetcher.answer(host, FakeReply{.body = refusal(OCSP_RESPONSE_STATUS_UNAUTHORIZED)});
  }
  StderrCapture log;
  auto r = w.ask(5);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().category == ErrorCategory::Unauthorized);
  CHECK(w.fetcher.requests().size() == 3);
  CHECK(log.count({"event=issuer_discovery_failed", "answer=unauthorized"}) == 1);

  // Another certificate of the same issuer: answered from the memo, nobody asked.
  auto again = w.ask(6);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().category == ErrorCategory::Unauthorized);
  CHECK(w.fetcher.requests().size() == 3);
  CHECK(w.outcome("unauthorized") == 1);
  CHECK(w.outcome("remembered") == 1);

  // Past the memo the CAs are asked again, and now one serves it.
  w.clock.advance(DiscoveryMemo::kRememberRefusedS);
  w.fetcher.answer("ocsp.serving.test", FakeReply{.body = w.answerFor(7)});
  CHECK(w.ask(7).ok());
  CHECK(w.asked("ocsp.serving.test") == 2);
}

TEST_CASE("an upstream that fails makes the discovery tryLater, remembered briefly") {
  World w;
  w.fetcher.answer("ocsp.first.test", FakeReply{.body = refusal(OCSP_RESPONSE_STATUS_UNAUTHORIZED)});
  w.fetcher.answer("ocsp.serving.test", FakeReply{.transport = CURLE_COULDNT_CONNECT});
  w.fetcher.answer("ocsp.last.test", FakeReply{.body = refusal(OCSP_RESPONSE_STATUS_UNAUTHORIZED)});
  auto r = w.ask(5);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().category == ErrorCategory::UpstreamUnavailable);  // tryLater
  CHECK(w.failuresOf("ocsp.serving.test") == 1);  // a failure of that CA
  CHECK(w.outcome("failed") == 1);
  CHECK_FALSE(w.ask(6).ok());
  CHECK(w.fetcher.requests().size() == 3);
  w.clock.advance(DiscoveryMemo::kRememberFailedS);
  w.fetcher.answer("ocsp.serving.test", FakeReply{.body = w.answerFor(7)});
  CHECK(w.ask(7).ok());
}

TEST_CASE("an answer whose issuer cannot be completed never wins, even under unknown_issuer pass") {
  // The serving CA answers, but its caIssuers download is not the issuer.
  Identity stranger = issue({.cn = "Stranger CA", .ca = true}, nullptr);
  World w(&stranger);
  w.fetcher.answer("ocsp.first.test", FakeReply{.body = refusal(OCSP_RESPONSE_STATUS_UNAUTHORIZED)});
  w.fetcher.answer("ocsp.serving.test", FakeReply{.body = w.answerFor(5)});
  w.fetcher.answer("ocsp.last.test", FakeReply{.body = refusal(OCSP_RESPONSE_STATUS_UNAUTHORIZED)});
  auto r = w.ask(5);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().category == ErrorCategory::Unauthorized);
  CHECK(w.index.learnedCount() == 0);
}

TEST_CASE("after a discovery, a query of another serial of that issuer routes directly") {
  World w;
  w.fetcher.answer("ocsp.first.test", FakeReply{.body = refusal(OCSP_RESPONSE_STATUS_UNAUTHORIZED)});
  w.fetcher.answer("ocsp.serving.test", FakeReply{.body = w.answerFor(5), .delay_ms = 500});
  w.fetcher.answer("ocsp.last.test", FakeReply{.body = refusal(OCSP_RESPONSE_STATUS_UNAUTHORIZED)});
  CHECK(w.ask(5).ok());
  // A second query of the issuer routes directly to the learned upstream.
  w.fetcher.answer("ocsp.serving.test", FakeReply{.body = w.answerFor(6)});
  CHECK(w.ask(6).ok());
  CHECK(w.asked("ocsp.serving.test") == 2);
  CHECK(w.asked("ocsp.first.test") == 1);
}
