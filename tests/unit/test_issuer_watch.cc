// Watched intermediates (upstream/issuer_watch.h): a WatchChecker asks the upstream stage
// about each intermediate, here a real UpstreamSource whose fetcher is a fake answering with
// OCSP responses signed by the test PKI's root; IssuerWatch keeps and reports what it learnt.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <event2/thread.h>

#include "core/mailbox.h"
#include "tests/unit/fake_fetcher.h"
#include "tests/unit/test_pki.h"
#include "tests/unit/test_util.h"
#include "upstream/allow_list.h"
#include "upstream/issuer_watch.h"
#include "proxy/component_options.h"
#include "upstream/upstream_source.h"

using namespace ocsp;
using namespace ocsp::test;

namespace {

constexpr int64_t kWaitMs = 20'000;  // safety net only

SharedX509 shared(const Identity& id) {
  REQUIRE(X509_up_ref(id.cert.get()) == 1);
  return shareX509(X509Ptr(id.cert.get()));
}

// A root that answers OCSP for the intermediate it issued, at ocsp1.test.
struct World {
  // The Mailbox needs libevent's locking, set up before the event_base is made.
  int threads = evthread_use_pthreads();
  Identity root = issue({.cn = "Watch Root", .ca = true}, nullptr);
  Identity intermediate = issue({.cn = "Watched Intermediate", .ca = true}, &root);
  OcspCertIdPtr id =
      certIdFor(root, ASN1_INTEGER_get(X509_get0_serialNumber(intermediate.cert.get())));
  std::shared_ptr<const conf::Config> config = makeConfig();
  FakeClock clock{kT};
  FakeFetcher fetcher;
  FqdnHealth health;
  UpstreamSource chain{upstreamOptions(*config), fetcher, health, clock, nullptr};
  AllowList allow{*config};
  IssuerWatch watch{issuerWatchOptions(*config)};
  EventBasePtr base{event_base_new()};
  Mailbox mailbox{base.get()};

  std::shared_ptr<const conf::Config> makeConfig() {
    auto c = std::make_shared<conf::Config>();
    c->upstreams = {test::upstreamAt("root", {"ocsp1.test"})};
    conf::WatchedCa ca;
    ca.name = "inter";
    ca.cert_path = "inter.pem";
    ca.cert = shared(intermediate);
    ca.parent = shared(root);
    ca.ocsp_url = "http://ocsp1.test/";
    c->watch.intermediates = {ca};
    c->watch.on_revoked_issuer = conf::RevokedIssuerPolicy::Refuse;
    return c;
  }

  std::string answer(int status) {
    SingleSpec single{id.get(), status};
    if (status == V_OCSP_CERTSTATUS_REVOKED) single.reason = OCSP_REVOKED_STATUS_CACOMPROMISE;
    return makeResponse({single}, root);
  }

  // One round of checks, the one a checker makes at start-up, answered as the fetcher's
  // table says.
  IssuerWatch::View checkOnce() {
    const size_t asked = fetcher.requests().size();
    WatchChecker checker(watch, allow, chain, nullptr, mailbox, base.get(), clock);
    REQUIRE(loopUntil(
        base.get(), [&] { return fetcher.requests().size() > asked; }, kWaitMs));
    fetcher.run();
    auto views = watch.snapshot();
    REQUIRE(views.size() == 1);
    return views[0];
  }
};

}  // namespace

TEST_CASE("a watched intermediate its CA says is good is reported good, through OCSP") {
  World w;
  w.fetcher.answer("ocsp1.test", FakeReply{.body = w.answer(V_OCSP_CERTSTATUS_GOOD)});
  StderrCapture log;
  IssuerWatch::View v = w.checkOnce();
  CHECK(v.state == WatchState::Good);
  CHECK(v.via == "ocsp http://ocsp1.test/");
  CHECK(v.checked_at == kT);
  CHECK_FALSE(v.revocation.has_value());
  CHECK_FALSE(w.watch.isRevoked(w.intermediate.cert.get()));
  REQUIRE(w.fetcher.requests().size() == 1);
  CHECK(w.fetcher.requests()[0].url == "http://ocsp1.test:80/");
  CHECK(log.count({"event=intermediate_state", "name=inter", "state=good", "from=unchecked"}) == 1);
}

TEST_CASE("a revoked intermediate is flagged with its revocation and logged once as an error") {
  World w;
  w.fetcher.answer("ocsp1.test", FakeReply{.body = w.answer(V_OCSP_CERTSTATUS_REVOKED)});
  StderrCapture log;
  IssuerWatch::View v = w.checkOnce();
  CHECK(v.state == WatchState::Revoked);
  REQUIRE(v.revocation.has_value());
  CHECK(v.revocation->reason == OCSP_REVOKED_STATUS_CACOMPROMISE);
  CHECK(v.revocation->time == kT - 30 * kDay);
  CHECK(w.watch.isRevoked(w.intermediate.cert.get()));
  CHECK(w.watch.revokedName(w.intermediate.cert.get()) == "inter");
  CHECK_FALSE(w.watch.isRevoked(w.root.cert.get()));
  w.checkOnce();  // still revoked: no second line
  CHECK(log.count({"level=error", "event=intermediate_revoked", "name=inter", "reason=2",
                   "policy=refuse"}) == 1);
}

TEST_CASE(
    "an intermediate nobody can reach is unchecked with the reason; a revoked flag is lifted") {
  World w;
  w.fetcher.answer("ocsp1.test", FakeReply{.body = w.answer(V_OCSP_CERTSTATUS_REVOKED)});
  w.fetcher.answer("ocsp1.test", FakeReply{.transport = CURLE_COULDNT_CONNECT});
  REQUIRE(w.checkOnce().state == WatchState::Revoked);
  StderrCapture log;
  IssuerWatch::View v = w.checkOnce();
  CHECK(v.state == WatchState::Unchecked);
  CHECK(v.detail ==
        "ocsp http://ocsp1.test/: upstream_failed; no CRL distribution point on a "
        "crl host");
  CHECK_FALSE(w.watch.isRevoked(w.intermediate.cert.get()));
  CHECK(log.count({"event=intermediate_state", "state=unchecked", "from=revoked"}) == 1);
}

TEST_CASE("an intermediate whose OCSP URL is not an upstream FQDN is unchecked without a request") {
  World w;
  auto config = std::make_shared<conf::Config>(*w.config);
  config->watch.intermediates[0].ocsp_url = "http://elsewhere.test/";
  IssuerWatch watch(issuerWatchOptions(*config));
  WatchChecker checker(watch, w.allow, w.chain, nullptr, w.mailbox, w.base.get(), w.clock);
  REQUIRE(loopUntil(
      w.base.get(), [&] { return watch.snapshot()[0].checked_at != 0; }, kWaitMs));
  CHECK(watch.snapshot()[0].state == WatchState::Unchecked);
  CHECK(watch.snapshot()[0].detail ==
        "OCSP URL http://elsewhere.test/ is not an upstream FQDN; no CRL distribution point on "
        "a crl host");
  CHECK(w.fetcher.requests().empty());
}
