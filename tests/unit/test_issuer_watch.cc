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

  // One round of checks, answered as the fetcher's table says: the one a checker makes at
  // start-up, then, once the intermediate was checked, the one a checker made after a reload
  // makes at its next slot, one interval later.
  IssuerWatch::View checkOnce() {
    const size_t asked = fetcher.requests().size();
    if (watch.snapshot()[0].checked_at != 0) clock.advance(watch.options().interval_s);
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

// --- When checks are made (upstream/watch_schedule.h) ----------------------------------------

namespace {

// `n` intermediates under one root, each with the root's responder at ocsp1.test as its AIA
// OCSP URL (no ocsp_url: as watch.issuers configures them), checked every `interval_s`.
struct Catalogue {
  int threads = evthread_use_pthreads();
  Identity root = issue({.cn = "Catalogue Root", .ca = true}, nullptr);
  std::vector<Identity> intermediates;
  std::shared_ptr<const conf::Config> config;
  FakeClock clock{kT};  // kT is a multiple of every interval used here: the slots start at kT
  FakeFetcher fetcher;
  FqdnHealth health;
  std::unique_ptr<UpstreamSource> chain;
  std::unique_ptr<AllowList> allow;
  std::unique_ptr<IssuerWatch> watch;
  EventBasePtr base{event_base_new()};
  Mailbox mailbox{base.get()};

  Catalogue(int n, int64_t interval_s) {
    auto c = std::make_shared<conf::Config>();
    c->upstreams = {test::upstreamAt("root", {"ocsp1.test"})};
    c->watch.interval_s = interval_s;
    for (int i = 0; i < n; ++i) {
      intermediates.push_back(issue({.cn = "Catalogue CA " + std::to_string(i), .ca = true,
                                     .aia = "OCSP;URI:http://ocsp1.test/"},
                                    &root));
      conf::WatchedCa ca;
      ca.name = "ca-" + std::to_string(i);
      ca.cert = shared(intermediates.back());
      ca.parent = shared(root);
      c->watch.intermediates.push_back(ca);
    }
    config = c;
    chain = std::make_unique<UpstreamSource>(upstreamOptions(*config), fetcher, health, clock,
                                             nullptr);
    allow = std::make_unique<AllowList>(*config);
    watch = std::make_unique<IssuerWatch>(issuerWatchOptions(*config));
  }

  std::unique_ptr<WatchChecker> checker() {
    return std::make_unique<WatchChecker>(*watch, *allow, *chain, nullptr, mailbox, base.get(),
                                          clock);
  }

  // The index of the intermediate each request so far asked about, in order. The replies
  // stay queued: no answer, no failure, so no circuit opens and every check reaches the
  // fetcher.
  std::vector<size_t> asked() const {
    std::vector<size_t> out;
    for (const FetchRequest& request : fetcher.requests()) {
      const auto* p = reinterpret_cast<const unsigned char*>(request.post_body.data());
      OcspRequestPtr req(d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(request.post_body.size())));
      REQUIRE(req);
      REQUIRE(OCSP_request_onereq_count(req.get()) == 1);
      ASN1_INTEGER* serial = nullptr;
      OCSP_id_get0_info(nullptr, nullptr, nullptr, &serial,
                        OCSP_onereq_get0_id(OCSP_request_onereq_get0(req.get(), 0)));
      size_t found = intermediates.size();
      for (size_t i = 0; i < intermediates.size(); ++i) {
        if (ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(intermediates[i].cert.get())) == 0) {
          found = i;
        }
      }
      REQUIRE(found < intermediates.size());
      out.push_back(found);
    }
    return out;
  }
};

std::vector<X509*> certsOf(const std::vector<Identity>& ids) {
  std::vector<X509*> out;
  for (const Identity& id : ids) out.push_back(id.cert.get());
  return out;
}

}  // namespace

TEST_CASE("each intermediate has its own slot, evenly spaced over the interval, whatever the "
          "order it is configured in") {
  Identity root = issue({.cn = "Slot Root", .ca = true}, nullptr);
  std::vector<Identity> cas;
  for (int i = 0; i < 12; ++i) cas.push_back(issue({.cn = "Slot CA", .ca = true}, &root));
  std::vector<X509*> certs = certsOf(cas);
  WatchSchedule schedule(certs, 3600);
  std::vector<X509*> reversed(certs.rbegin(), certs.rend());
  WatchSchedule other(reversed, 3600);

  std::vector<int64_t> offsets;
  for (size_t i = 0; i < certs.size(); ++i) {
    offsets.push_back(schedule.offset(i));
    CHECK(other.offset(certs.size() - 1 - i) == schedule.offset(i));  // same certificate
  }
  std::sort(offsets.begin(), offsets.end());
  for (size_t k = 0; k < offsets.size(); ++k) CHECK(offsets[k] == static_cast<int64_t>(k) * 300);

  // The first round is paced over five minutes, in the same order as the slots.
  std::vector<int64_t> first;
  for (size_t i = 0; i < certs.size(); ++i) {
    first.push_back(schedule.firstCheck(i, kT + 7));
    CHECK(first.back() == kT + 7 + schedule.offset(i) / 12);
  }
  std::sort(first.begin(), first.end());
  CHECK(first.front() == kT + 7);
  CHECK(first.back() == kT + 7 + 275);
}

TEST_CASE("after a check an intermediate goes to its wall-clock slot, at least half an interval "
          "later; a restart finds it on the same slot") {
  Identity root = issue({.cn = "Slot Root", .ca = true}, nullptr);
  std::vector<Identity> cas;
  for (int i = 0; i < 5; ++i) cas.push_back(issue({.cn = "Slot CA", .ca = true}, &root));
  WatchSchedule schedule(certsOf(cas), 1000);  // offsets 0, 200, 400, 600, 800
  for (size_t i = 0; i < cas.size(); ++i) {
    const int64_t offset = schedule.offset(i);
    CAPTURE(offset);
    const int64_t slot = kT + 3000 + offset;  // kT is a multiple of 1000
    CHECK(schedule.nextCheck(i, slot, slot) == slot + 1000);  // steady state: every interval
    // A first-round check: the next slot at least 500 s on.
    for (int64_t checked : {slot - 400, slot - 600, slot - 1, slot + 1}) {
      const int64_t next = schedule.nextCheck(i, checked, checked);
      CHECK(next - checked > 500);
      CHECK(next - checked <= 1500);
      CHECK((next - offset) % 1000 == 0);
    }
    // Carried over by a reload: checked 100 s before, it waits for its slot; checked long
    // ago, its next slot from now (never in the past).
    CHECK(schedule.nextCheck(i, slot - 100, slot - 50) == slot + 1000);
    CHECK(schedule.nextCheck(i, slot - 5000, slot - 50) == slot);
  }
}

TEST_CASE("a catalogue's first round is paced, then each is checked once an interval at its "
          "slot, never two at once") {
  // 10 intermediates every 100 s: the first round and every later one check one each 10 s.
  Catalogue cat(10, 100);
  auto checker = cat.checker();
  REQUIRE(loopUntil(
      cat.base.get(), [&] { return !cat.fetcher.requests().empty(); }, kWaitMs));
  std::map<int64_t, std::vector<size_t>> by_second;  // second -> intermediates asked
  by_second[kT] = cat.asked();
  CHECK(by_second[kT].size() == 1);  // not the whole catalogue at start-up
  for (int64_t t = kT + 1; t < kT + 300; ++t) {
    cat.clock.set(t);
    const size_t before = cat.fetcher.requests().size();
    checker->runDue();
    std::vector<size_t> all = cat.asked();
    if (all.size() > before) by_second[t].assign(all.begin() + static_cast<long>(before), all.end());
  }
  std::vector<int64_t> seconds;
  std::map<size_t, std::vector<int64_t>> times;  // intermediate -> when asked
  for (const auto& [t, asked] : by_second) {
    CHECK(asked.size() == 1);
    seconds.push_back(t);
    for (size_t i : asked) times[i].push_back(t);
  }
  REQUIRE(seconds.size() == 30);  // three rounds of ten
  for (size_t k = 1; k < seconds.size(); ++k) CHECK(seconds[k] - seconds[k - 1] == 10);
  REQUIRE(times.size() == 10);
  for (const auto& entry : times) {
    // Not a structured binding: CAPTURE's lambda may not capture one (clang 14).
    const size_t i = entry.first;
    const std::vector<int64_t>& when = entry.second;
    CAPTURE(i);
    CHECK(when == std::vector<int64_t>{when[0], when[0] + 100, when[0] + 200});
    CHECK(checker->dueAt(i) == when[0] + 300);
  }
}

TEST_CASE("a checker made after a reload leaves what the old one checked to its slot") {
  Catalogue cat(4, 600);  // the first round checks one each 75 s
  auto old_checker = cat.checker();
  for (int64_t t = kT; t < kT + 100; ++t) {
    cat.clock.set(t);
    old_checker->runDue();
  }
  REQUIRE(cat.asked().size() == 2);
  cat.fetcher.run();  // nobody answers for ocsp1.test: both are unchecked, with the reason
  IssuerWatch reloaded(issuerWatchOptions(*cat.config));
  reloaded.adopt(*cat.watch);
  old_checker.reset();

  const size_t before = cat.fetcher.requests().size();
  WatchChecker checker(reloaded, *cat.allow, *cat.chain, nullptr, cat.mailbox, cat.base.get(),
                       cat.clock);
  const int64_t start = cat.clock.now();
  for (int64_t t = start; t < start + 300; ++t) {  // a whole first-round window
    cat.clock.set(t);
    checker.runDue();
  }
  const std::vector<size_t> all = cat.asked();
  const std::vector<size_t> asked(all.begin() + static_cast<long>(before), all.end());
  const std::vector<IssuerWatch::View> views = reloaded.snapshot();
  std::vector<size_t> carried;
  for (size_t i = 0; i < views.size(); ++i) {
    if (views[i].checked_at == 0) continue;
    carried.push_back(i);
    CHECK(checker.dueAt(i) >= start + 300);  // its slot, half an interval on at least
  }
  CHECK(carried.size() == 2);
  CHECK(asked.size() == 2);  // only the two never checked
  for (size_t i : asked) CHECK(std::find(carried.begin(), carried.end(), i) == carried.end());
}
