// AIA completion (upstream/aia_completer.h) against a fake fetcher: a forward-mode answer
// signed by a delegated responder whose issuer nobody configured, and the caIssuers download
// that completes it or fails. Certificates come from the test PKI (tests/unit/test_pki.h).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <optional>

#include "tests/unit/fake_fetcher.h"
#include "tests/unit/test_pki.h"
#include "tests/unit/test_util.h"
#include "proxy/component_options.h"
#include "upstream/aia_completer.h"

using namespace ocsp;
using namespace ocsp::test;

namespace {

constexpr const char* kAiaUrl = "http://aia.test/issuing.der";

// A trusted root, an issuing CA under it that the config does not name, and that CA's
// delegated responder, whose certificate points at the issuing CA with `aia`.
struct World {
  explicit World(std::string aia = std::string("caIssuers;URI:") + kAiaUrl)
      : responder(issue({.cn = "Issuing CA OCSP", .ocsp_signing = true, .aia = aia}, &issuing)) {
    REQUIRE(X509_STORE_add_cert(trust.get(), root.cert.get()) == 1);
  }
  Identity root = issue({.cn = "AIA Root", .ca = true}, nullptr);
  Identity issuing = issue({.cn = "Issuing CA", .ca = true}, &root);
  Identity responder;
  OcspCertIdPtr id = certIdFor(issuing, 42);
  X509StorePtr trust{X509_STORE_new()};
  std::shared_ptr<const conf::Config> config = makeConfig();
  AllowList allow{*config};
  IssuerIndex index{*config};
  FakeClock clock{kT};
  FakeFetcher fetcher;
  AiaCompleter completer{aiaCompleterOptions(*config), allow, trust.get(), index, fetcher, clock};

  static std::shared_ptr<const conf::Config> makeConfig() {
    auto c = std::make_shared<conf::Config>();
    c->upstreams = {test::upstreamAt("forwarded", {"ocsp.issuing.test"})};
    c->forward.aia_fqdns = {{"aia.test", 80}};
    return c;
  }

  // The responder's answer about the CertID, with its certificate embedded.
  std::string response() { return makeResponse({SingleSpec{id.get()}}, responder); }

  // complete(), checked to answer only once the fetcher delivers (or at once, when
  // `expect_fetch` is false), and its result.
  Result<std::shared_ptr<const Route>> complete(bool expect_fetch = true) {
    std::optional<Result<std::shared_ptr<const Route>>> out;
    completer.complete(response(), infoOf(id), 0, LearnedFrom::Aia, [&](auto r) { out = std::move(r); });
    CHECK(out.has_value() != expect_fetch);
    fetcher.run();
    REQUIRE(out.has_value());
    return std::move(*out);
  }
};

std::string derOf(const Identity& id) { return toDer(id.cert.get(), i2d_X509); }

}  // namespace

TEST_CASE("the issuer downloaded from the responder's caIssuers URL is learned and routed") {
  World w;
  w.fetcher.answer(kAiaUrl, FakeReply{.body = derOf(w.issuing)});
  StderrCapture log;
  auto route = w.complete();
  REQUIRE(route.ok());
  CHECK(X509_cmp((*route)->issuer.get(), w.issuing.cert.get()) == 0);
  CHECK((*route)->upstream_index == 0);
  REQUIRE(w.fetcher.requests().size() == 1);
  CHECK(w.fetcher.requests()[0].url == kAiaUrl);
  CHECK(w.fetcher.requests()[0].max_response_bytes == 256 * 1024);
  CHECK(w.index.find(infoOf(w.id)) != nullptr);  // later requests route like configured ones
  CHECK(log.count({"event=issuer_learned", "upstream=forwarded"}) == 1);
}

TEST_CASE("a caIssuers URL on a host that is not allowed is never fetched") {
  World w("caIssuers;URI:http://elsewhere.test/issuing.der");
  StderrCapture log;
  auto route = w.complete(false);
  REQUIRE_FALSE(route.ok());
  CHECK(route.error().code == "aia_not_allowed");
  CHECK(w.fetcher.requests().empty());
  CHECK(log.count({"event=issuer_completion_failed", "reason=aia_not_allowed"}) == 1);
}

TEST_CASE("a failed download is remembered for a minute: no fetch storm for that issuer") {
  World w;
  w.fetcher.answer(kAiaUrl, FakeReply{.status = 503});
  auto first = w.complete();
  REQUIRE_FALSE(first.ok());
  CHECK(first.error().code == "aia_fetch_failed");
  CHECK(first.error().detail == std::string(kAiaUrl) + ": HTTP status 503");

  auto again = w.complete(false);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == "recently_failed");
  CHECK(w.fetcher.requests().size() == 1);

  w.clock.advance(61);
  w.fetcher.answer(kAiaUrl, FakeReply{.body = derOf(w.issuing)});
  CHECK(w.complete().ok());
  CHECK(w.fetcher.requests().size() == 2);
}

TEST_CASE("a downloaded issuer that does not chain to the trust store is refused") {
  World w;
  Identity other_root = issue({.cn = "AIA Root", .ca = true}, nullptr);  // same name, other key
  Identity impostor =
      issue({.cn = "Issuing CA", .ca = true, .key = w.issuing.key.get()}, &other_root);
  w.fetcher.answer(kAiaUrl, FakeReply{.body = derOf(impostor)});
  auto route = w.complete();
  REQUIRE_FALSE(route.ok());
  CHECK(route.error().code == "untrusted_chain");
  CHECK(w.index.find(infoOf(w.id)) == nullptr);
}
