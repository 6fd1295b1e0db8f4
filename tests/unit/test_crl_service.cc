#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
// The CRL service and its chain (upstream/crl_service.h, docs/ARCHITECTURE.md §8) as the
// proxy runs it: its own thread and parser thread, lookups from worker threads with their own
// event loops and mailboxes, a fake clock, and a fake CA (tests/unit/crl_fetch_fake.h) behind
// the Fetcher interface serving CRLs generated here and real ones from tests/data/real.
#include <doctest/doctest.h>
#include <event2/thread.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cache/crl_coalescer.h"
#include "cache/crl_store.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "core/handles.h"
#include "core/log.h"
#include "core/mailbox.h"
#include "core/url.h"
#include "pki/crl_status.h"
#include "tests/unit/crl_fetch_fake.h"
#include "tests/unit/test_crls.h"
#include "tests/unit/test_pki.h"
#include "tests/unit/test_util.h"
#include "upstream/crl_backoff.h"
#include "upstream/crl_refresher.h"
#include "upstream/crl_service.h"
#include "upstream/issuer_index.h"
#include "upstream/known_serials.h"

namespace ocsp {
namespace {

using namespace std::chrono_literals;
using test::CrlOrigin;
using test::Identity;
using test::issue;
using test::kDay;
using test::kT;
using test::makeCrl;
using test::OriginAnswer;

using CrlResult = Result<std::shared_ptr<const CrlEntry>>;

// Lookups come from other threads and the service stops from this one.
const bool kEventThreads = (evthread_use_pthreads(), true);

const char* const kUrl = "http://crl.test/ca.crl";
constexpr int64_t kValidSigThisUpdate = 1501984105;  // pyca valid_signature_crl.pem

SharedX509 shared(const X509Ptr& cert) {
  REQUIRE(X509_up_ref(cert.get()) == 1);
  return shareX509(X509Ptr(cert.get()));
}

HttpUrl urlOf(const std::string& text) {
  auto url = parseHttpUrl(text);
  REQUIRE(url);
  return *url;
}

bool waitUntil(const std::function<bool()>& done, std::chrono::milliseconds limit = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// What a proxy worker is to the service: a thread running its own event loop, with a Mailbox.
class TestWorker {
 public:
  TestWorker() : base_(event_base_new()), mailbox_(base_.get()) {
    keepalive_.reset(event_new(
        base_.get(), -1, EV_PERSIST, [](evutil_socket_t, short, void*) {}, nullptr));
    const timeval hour{3600, 0};
    event_add(keepalive_.get(), &hour);
    thread_ = std::thread([this] { event_base_dispatch(base_.get()); });
  }
  ~TestWorker() {
    event_base_loopexit(base_.get(), nullptr);
    thread_.join();
  }
  // Runs `fn` on the worker's thread and waits for it.
  void run(const std::function<void()>& fn) {
    std::promise<void> ran;
    mailbox_.post([&] {
      fn();
      ran.set_value();
    });
    ran.get_future().wait();
  }
  Mailbox& mailbox() { return mailbox_; }
  std::thread::id id() const { return thread_.get_id(); }

 private:
  EventBasePtr base_;
  Mailbox mailbox_;
  EventPtr keepalive_;
  std::thread thread_;
};

// Debug log lines while alive.
class DebugLogs {
 public:
  DebugLogs() { setLogLevel(LogLevel::Debug); }
  ~DebugLogs() { setLogLevel(LogLevel::Info); }
  DebugLogs(const DebugLogs&) = delete;
  DebugLogs& operator=(const DebugLogs&) = delete;
};

struct Reply {
  CrlResult result;
  std::thread::id thread;
  bool before_return;  // called before lookup() returned
};

class Replies {
 public:
  void add(Reply r) {
    std::lock_guard<std::mutex> lock(mu_);
    got_.push_back(std::move(r));
    cv_.notify_all();
  }
  bool waitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 20s, [&] { return got_.size() >= n; });
  }
  std::vector<Reply> all() {
    std::lock_guard<std::mutex> lock(mu_);
    return got_;
  }
  Reply last() {
    std::lock_guard<std::mutex> lock(mu_);
    REQUIRE(!got_.empty());
    return got_.back();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Reply> got_;
};

// A CRL service over a fake CA, a fake clock and its own store, started on demand. Declared
// after the workers that ask it, so that it stops before their mailboxes go.
struct Harness {
  Identity ca = issue({.cn = "CRL CA", .ca = true}, nullptr);  // in crl.issuers
  FakeClock clock{kT};
  CrlStore store{64u << 20};
  conf::Config config;
  IssuerIndex index{config};
  CrlOrigin origin;
  CrlService::Options options;
  Metrics metrics;
  X509_STORE* trust_store = nullptr;
  std::unique_ptr<CrlService> service;

  Harness() {
    options.tick_ms = 20;  // the refresh timer; time itself is the fake clock's
    options.fetch.max_bytes = 1u << 20;
    options.bounds.max_bytes = 1u << 20;
    options.make_fetcher = [this](event_base* base) { return origin.fetcherOn(base); };
    options.extra_issuers = {shared(ca.cert)};
  }
  ~Harness() {
    if (service) service->stop();
  }
  void start() {
    service =
        std::make_unique<CrlService>(options, index, trust_store, store, clock, nullptr, 0, &metrics);
    service->start();
  }
  // One lookup from `worker`'s thread; its reply is added to `replies`.
  void ask(TestWorker& worker, Replies& replies, const std::string& url = kUrl) {
    HttpUrl u = urlOf(url);
    worker.run([&] {
      auto returned = std::make_shared<bool>(false);
      service->lookup(u, "192.0.2.7", worker.mailbox(), [&replies, returned](CrlResult r) {
        replies.add(Reply{std::move(r), std::this_thread::get_id(), !*returned});
      });
      *returned = true;
    });
  }
  // A lookup from `worker` that the store answers: at once, on the worker's thread.
  std::shared_ptr<const CrlEntry> askExpectingHit(TestWorker& worker) {
    Reply hit = askAndWait(worker);
    REQUIRE(hit.result.ok());
    CHECK(hit.before_return);
    CHECK(hit.thread == worker.id());
    return *hit.result;
  }
  // A lookup from `worker`, waited for.
  Reply askAndWait(TestWorker& worker, const std::string& url = kUrl) {
    Replies replies;
    ask(worker, replies, url);
    REQUIRE(replies.waitFor(1));
    return replies.last();
  }
};

std::string codeOf(const CrlResult& r) { return r.ok() ? "ok" : r.error().code; }

TEST_CASE(
    "lookups from two workers at once cause one download; each gets the CRL on its own "
    "thread") {
  TestWorker a, b;
  Harness h;
  h.origin.serve(kUrl,
                 OriginAnswer{.body = makeCrl(h.ca, kT - kDay, kT + 6 * kDay, {5}), .defer = true});
  h.start();
  Replies replies;
  for (int i = 0; i < 3; ++i) {
    h.ask(a, replies);
    h.ask(b, replies);
  }
  REQUIRE(waitUntil([&] { return h.origin.fetches(kUrl) == 1; }));
  h.origin.release(kUrl);
  REQUIRE(replies.waitFor(6));
  auto all = replies.all();
  int on_a = 0, on_b = 0;
  for (const Reply& r : all) {
    REQUIRE(r.result.ok());
    CHECK(*r.result == *all.front().result);  // one entry, shared
    CHECK_FALSE(r.before_return);
    on_a += r.thread == a.id() ? 1 : 0;
    on_b += r.thread == b.id() ? 1 : 0;
  }
  CHECK(on_a == 3);
  CHECK(on_b == 3);
  CHECK(h.origin.fetches(kUrl) == 1);
  CHECK((*all.front().result)->crl.revoked.size() == 1);
}

TEST_CASE(
    "the certificates of a caIssuers document are known as issued by the configured CA or "
    "trust-store root that signed them") {
  TestWorker w;
  Harness h;
  Identity root = issue({.cn = "Trusted Root", .ca = true}, nullptr);
  X509StorePtr trust(X509_STORE_new());
  REQUIRE(X509_STORE_add_cert(trust.get(), root.cert.get()) == 1);
  Identity under_ca = issue({.cn = "Sub CA", .ca = true, .serial = 0x9abcde}, &h.ca);
  Identity under_root = issue({.cn = "Issuing CA", .ca = true}, &root);
  // Names the configured CA as its issuer, but another key signed it.
  Identity forger = issue({.cn = "CRL CA", .ca = true}, nullptr);
  Identity forged = issue({.cn = "Forged CA", .ca = true}, &forger);
  KnownSerials known;
  h.options.kind = DocKind::CaIssuers;
  h.options.known_serials = &known;
  h.trust_store = trust.get();
  h.origin.serve(kUrl, OriginAnswer{.body = test::pemOf(under_ca.cert.get()) +
                                            test::pemOf(under_root.cert.get()) +
                                            test::pemOf(forged.cert.get())});
  h.start();
  REQUIRE(h.askAndWait(w).result.ok());
  auto serial = [](const Identity& id) { return certificateSerial(id.cert.get()); };
  CHECK(known.contains(issuerKeySha1(h.ca.cert.get()), std::string("\x00\x9a\xbc\xde", 4)));
  CHECK(known.contains(issuerKeySha1(root.cert.get()), serial(under_root)));
  CHECK_FALSE(known.contains(issuerKeySha1(h.ca.cert.get()), serial(forged)));
  CHECK(known.size() == 2);
}

TEST_CASE("a CRL held is answered from memory at once, without another download") {
  TestWorker w;
  Harness h;
  const std::string crl = makeCrl(h.ca, kT - kDay, kT + 6 * kDay);
  h.origin.serve(kUrl, OriginAnswer{.body = crl});
  h.start();
  Reply first = h.askAndWait(w);
  REQUIRE(first.result.ok());
  CHECK_FALSE(first.before_return);
  h.clock.advance(kDay);
  CHECK(h.askExpectingHit(w)->bytes == crl);
  CHECK(h.origin.fetches(kUrl) == 1);
}

TEST_CASE(
    "what the distribution point serves decides what every waiter gets and whether it "
    "is kept") {
  Identity ca = issue({.cn = "CRL CA", .ca = true}, nullptr);
  Identity impostor = issue({.cn = "CRL CA", .ca = true}, nullptr);  // same name, other key
  Identity stranger = issue({.cn = "Nobody configured this CA", .ca = true}, nullptr);
  const std::string real_crl =
      test::readFile(test::realData("pyca-cryptography-vectors/crl/valid_signature_crl.pem"));
  X509Ptr real_issuer = test::loadCert("pyca-cryptography-vectors/crl/valid_signature_cert.pem");

  struct Row {
    const char* name;
    OriginAnswer answer;
    std::string expect;  // "ok" or the error code
    int64_t now = kT;
    conf::UnknownIssuerPolicy unknown_issuer = conf::UnknownIssuerPolicy::Pass;
    bool signature_checked = true;  // for "ok"
  };
  const std::vector<Row> rows = {
      {"a CRL signed by its configured issuer",
       {.body = makeCrl(ca, kT - kDay, kT + 6 * kDay, {1, 2})},
       "ok"},
      {"a real CRL with its issuer from crl.issuers (PEM)",
       {.body = real_crl},
       "ok",
       kValidSigThisUpdate + kDay},
      {"a CRL past its nextUpdate", {.body = makeCrl(ca, kT - 8 * kDay, kT - kDay)}, "expired"},
      {"a real CRL after its nextUpdate", {.body = real_crl}, "expired"},
      {"bytes that are not a CRL", {.body = "<html>maintenance</html>"}, "not_a_crl"},
      {"a CRL whose signature is not its issuer's",
       {.body = makeCrl(impostor, kT - kDay, kT + 6 * kDay)},
       "bad_signature"},
      {"an unknown issuer under crl.unknown_issuer: refuse",
       {.body = makeCrl(stranger, kT - kDay, kT + 6 * kDay)},
       "unknown_issuer",
       kT,
       conf::UnknownIssuerPolicy::Refuse},
      {"an unknown issuer under crl.unknown_issuer: pass is kept, unchecked",
       {.body = makeCrl(stranger, kT - kDay, kT + 6 * kDay)},
       "ok",
       kT,
       conf::UnknownIssuerPolicy::Pass,
       false},
      {"an HTTP error status", {.status = 503, .body = "busy"}, "upstream_status"},
      {"a connection that fails", {.transport_error = true}, "fetch_failed"},
      {"a body larger than crl.max_bytes", {.body = std::string((1u << 20) + 1, 'x')}, "too_large"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    TestWorker w;
    Harness h;
    h.clock.set(row.now);
    h.options.extra_issuers = {shared(ca.cert), shared(real_issuer)};
    h.options.unknown_issuer = row.unknown_issuer;
    OriginAnswer deferred = row.answer;
    deferred.defer = true;
    h.origin.serve(kUrl, deferred);
    h.start();
    Replies replies;
    h.ask(w, replies);
    h.ask(w, replies);
    REQUIRE(waitUntil([&] { return h.origin.fetches(kUrl) == 1; }));
    h.origin.release(kUrl);
    REQUIRE(replies.waitFor(2));
    for (const Reply& r : replies.all()) {
      CHECK(codeOf(r.result) == row.expect);
      if (r.result.ok()) CHECK((*r.result)->crl.signature_checked == row.signature_checked);
    }
    const bool kept = row.expect == "ok";
    CHECK((h.store.get(urlOf(kUrl).text(), row.now) != nullptr) == kept);
    // Not kept: the next client's lookup asks the CA again, and gets the same answer.
    h.origin.serve(kUrl, row.answer);
    Reply again = h.askAndWait(w);
    CHECK(codeOf(again.result) == row.expect);
    CHECK(again.before_return == kept);
    CHECK(h.origin.fetches(kUrl) == (kept ? 1 : 2));
    // Each download counted once under its result (ocsp_proxy_crl_fetches_total).
    const char* counted = kept                                            ? "ok"
                          : row.expect == "upstream_status" || row.expect == "fetch_failed" ? "failed"
                                                                          : "invalid";
    CHECK(h.metrics.counter(Metric::CrlFetches, {counted}).value() == (kept ? 1u : 2u));
  }
}

TEST_CASE("a stored CRL is never served at or after its nextUpdate") {
  TestWorker w;
  Harness h;
  h.origin.serve(kUrl, OriginAnswer{.body = makeCrl(h.ca, kT - kDay, kT + 6 * kDay)});
  h.start();
  REQUIRE(h.askAndWait(w).result.ok());
  h.clock.set(kT + 6 * kDay);  // nextUpdate; the CA is down
  h.origin.serve(kUrl, OriginAnswer{.status = 503});
  Reply late = h.askAndWait(w);
  CHECK(codeOf(late.result) == "upstream_status");
  CHECK(h.origin.fetches(kUrl) == 2);
  CHECK(h.store.stats().entries == 0);
}

TEST_CASE(
    "refresh ahead: the held CRL is served while a newer one downloads, then the newer "
    "one") {
  TestWorker w;
  Harness h;
  // refresh_at = thisUpdate + 50% of [thisUpdate, nextUpdate) = kT + 1 day.
  h.origin.serve(kUrl, OriginAnswer{.body = makeCrl(h.ca, kT - kDay, kT + 3 * kDay)});
  h.start();
  REQUIRE(h.askAndWait(w).result.ok());
  const std::string newer = makeCrl(h.ca, kT + kDay, kT + 5 * kDay, {9});
  h.origin.serve(kUrl, OriginAnswer{.body = newer, .defer = true});

  h.clock.set(kT + kDay + 60);
  // Past refresh_at: still answered at once, and noted for the timer.
  CHECK(h.askExpectingHit(w)->crl.this_update == kT - kDay);
  REQUIRE(waitUntil([&] { return h.origin.fetches(kUrl) == 2; }));  // the timer's refresh

  CHECK(h.askExpectingHit(w)->crl.this_update == kT - kDay);  // while it downloads

  h.origin.release(kUrl);
  REQUIRE(waitUntil([&] {
    auto held = h.store.get(urlOf(kUrl).text(), h.clock.now());
    return held && held->crl.this_update == kT + kDay;
  }));
  CHECK(h.askExpectingHit(w)->bytes == newer);
  CHECK(h.origin.fetches(kUrl) == 2);
}

TEST_CASE(
    "a failing crl.urls entry is retried after 30 s, then 60 s, ...; a client's own "
    "miss is not held back; success is logged once") {
  test::StderrCapture log;
  DebugLogs debug;  // the repeated failures' lines, to see their level and to wait for them
  TestWorker w;
  Harness h;
  h.options.warm_urls = {urlOf(kUrl)};
  h.origin.serve(kUrl, OriginAnswer{.status = 500});
  h.start();
  REQUIRE(waitUntil([&] { return h.origin.fetches(kUrl) == 1; }));
  REQUIRE(waitUntil([&] {
    return log.count({"level=warn", "event=crl_backoff", "failures=1", "retry_in_s=30"}) == 1;
  }));
  std::this_thread::sleep_for(200ms);  // ten ticks
  h.clock.advance(29);
  std::this_thread::sleep_for(200ms);
  CHECK(h.origin.fetches(kUrl) == 1);
  h.clock.advance(2);
  REQUIRE(waitUntil([&] {
    return log.count({"level=debug", "event=crl_backoff", "failures=2", "retry_in_s=60"}) == 1;
  }));

  CHECK(codeOf(h.askAndWait(w).result) == "upstream_status");
  CHECK(h.origin.fetches(kUrl) == 3);
  CHECK(log.count({"level=debug", "event=crl_backoff", "failures=3", "retry_in_s=120"}) == 1);
  h.clock.advance(110);
  std::this_thread::sleep_for(200ms);
  CHECK(h.origin.fetches(kUrl) == 3);
  // One warning when the URL started failing; the rest is debug detail.
  CHECK(log.count({"level=warn", "event=crl_backoff"}) == 1);
  CHECK(log.count({"level=warn", "event=crl_fetch_failed"}) == 1);
  CHECK(log.count({"level=debug", "event=crl_fetch_failed"}) == 2);

  h.origin.serve(kUrl, OriginAnswer{.body = makeCrl(h.ca, kT - kDay, kT + 6 * kDay)});
  h.clock.advance(11);
  REQUIRE(waitUntil([&] { return h.store.get(urlOf(kUrl).text(), h.clock.now()) != nullptr; }));
  CHECK(h.origin.fetches(kUrl) == 4);
  CHECK(log.count({"level=info", "event=crl_recovered", "failures=3"}) == 1);
  h.askExpectingHit(w);
}

TEST_CASE("lookups beyond the fetch bounds wait in a queue and start oldest first") {
  struct Row {
    const char* name;
    CrlFetchQueue::Limits bounds;
    // The second lookup starts once the first CRL is downloaded (its reservation shrinks to
    // its size), before it is parsed; else only once the first lookup is over.
    bool second_starts_before_first_is_parsed;
  };
  const size_t max_bytes = 1u << 20;
  const std::vector<Row> rows = {
      {"crl.max_concurrent_fetches: 1", {1, 1u << 30, max_bytes}, false},
      {"crl.max_inflight_bytes: room for one crl.max_bytes",
       {4, max_bytes * 3 / 2, max_bytes},
       true},
  };
  const std::vector<std::string> urls = {"http://crl.test/a.crl", "http://crl.test/b.crl",
                                         "http://crl.test/c.crl"};
  for (const Row& row : rows) {
    CAPTURE(row.name);
    test::StderrCapture log;
    TestWorker w;
    Harness h;
    h.options.bounds = row.bounds;
    for (const std::string& url : urls) {
      h.origin.serve(url,
                     OriginAnswer{.body = makeCrl(h.ca, kT - kDay, kT + 6 * kDay), .defer = true});
    }
    h.start();
    Replies replies;
    for (const std::string& url : urls) h.ask(w, replies, url);
    REQUIRE(waitUntil([&] { return h.origin.fetches(urls[0]) == 1; }));
    REQUIRE(waitUntil([&] { return log.count({"event=crl_fetch_queued", "b.crl"}) == 1; }));
    std::this_thread::sleep_for(100ms);
    CHECK(h.origin.fetches(urls[1]) == 0);
    CHECK(h.origin.fetches(urls[2]) == 0);

    h.origin.release(urls[0]);
    REQUIRE(waitUntil([&] { return h.origin.fetches(urls[1]) == 1; }));
    REQUIRE(replies.waitFor(1));
    std::this_thread::sleep_for(100ms);
    CHECK(h.origin.fetches(urls[2]) == 0);

    // Both on the CRL thread, so their order in the log is the order they happened in.
    const std::string text = log.text();
    const size_t second_fetched = text.find("event=origin_fetch url=" + urls[1]);
    const size_t first_parsed = text.find("event=crl_fetched url=" + urls[0]);
    REQUIRE(second_fetched != std::string::npos);
    REQUIRE(first_parsed != std::string::npos);
    CHECK((second_fetched < first_parsed) == row.second_starts_before_first_is_parsed);

    h.origin.release(urls[1]);
    REQUIRE(waitUntil([&] { return h.origin.fetches(urls[2]) == 1; }));
    h.origin.release(urls[2]);
    REQUIRE(replies.waitFor(3));
    for (const Reply& r : replies.all()) CHECK(r.result.ok());
    CHECK(log.count({"event=crl_fetch_queued"}) == 1);  // once while the queue was not empty
  }
}

// The stage below the refresher's coalescer, for the timer's own rules: records each lookup
// and leaves it in flight.
class RecordingStage final : public CrlSource {
 public:
  void lookup(CrlQuery query, CrlReply done) override {
    asked.push_back(std::move(query));
    pending.push_back(std::move(done));
  }
  std::vector<CrlQuery> asked;
  std::vector<CrlReply> pending;
};

std::shared_ptr<const CrlEntry> heldEntry(const std::string& url, int64_t refresh_at) {
  auto entry = std::make_shared<CrlEntry>();
  entry->url = url;
  entry->fetched_at = kT;
  entry->crl.this_update = kT - kDay;
  entry->refresh_at = refresh_at;
  entry->hard_expiry = kT + 6 * kDay;
  return entry;
}

TEST_CASE(
    "the refresh timer refreshes a CRL while clients ask for it and lets it go when "
    "they stop; crl.urls are always kept") {
  FakeClock clock(kT);
  CrlStore store(1u << 20);
  RecordingStage below;
  CrlBackoff backoff(store, clock, below);
  EventBasePtr base(event_base_new());
  Mailbox crl_thread(base.get());
  CrlCoalescer coalescer(crl_thread, backoff);
  const HttpUrl asked = urlOf("http://crl.test/asked.crl");
  const HttpUrl warm = urlOf("http://crl.test/warm.crl");
  CrlRefresher refresher({warm}, store, backoff, coalescer, clock);
  for (const HttpUrl& url : {asked, warm}) store.put(heldEntry(url.text(), kT + 100));

  refresher.noteAsked(asked);
  refresher.tick();  // tracked, not due
  CHECK(refresher.tracked() == 2);
  CHECK(below.asked.empty());

  clock.set(kT + 100);
  refresher.noteAsked(asked);
  refresher.tick();  // both due: one refresh each, straight to the CA
  REQUIRE(below.asked.size() == 2);
  for (const CrlQuery& q : below.asked) CHECK(q.refresh);
  refresher.noteAsked(asked);
  refresher.tick();  // in flight already: not asked twice
  CHECK(below.asked.size() == 2);

  for (CrlReply& done : below.pending) done(makeError(ErrorCategory::UpstreamUnavailable, "x"));
  below.pending.clear();
  clock.advance(31);  // past the first failure's retry time
  refresher.tick();   // nobody asked for asked.crl since the last tick: let go
  CHECK(refresher.tracked() == 1);
  REQUIRE(below.asked.size() == 3);
  CHECK(below.asked.back().key == warm.text());
}

// ---------------------------------------------------------------------------------------------
// Delta CRLs (upstream/crl_delta_follow.h)

const char* const kDeltaUrl = "http://crl.test/ca-delta.crl";

// A complete CRL numbered `number` naming `freshest` as its delta, or a delta on base
// `delta_of`, valid [this_update, next_update).
std::string numberedCrl(const Identity& ca, long number, std::optional<long> delta_of,
                        int64_t this_update, int64_t next_update,
                        const std::vector<test::EntrySpec>& entries = {},
                        const std::string& freshest = kDeltaUrl) {
  test::CrlSpec spec;
  spec.this_update = this_update;
  spec.next_update = next_update;
  spec.number = number;
  spec.delta_base = delta_of;
  if (!delta_of) spec.freshest = {freshest};
  return test::makeCrl(ca, entries, spec);
}

bool onCrlHost(const HttpUrl& url) { return url.host == "crl.test"; }

struct WithDeltaReply {
  Result<CrlService::WithDelta> result = makeError(ErrorCategory::Internal, "none", "no reply");
  bool before_return = false;
};

// lookupWithDelta from `worker`'s thread, waited for.
WithDeltaReply askWithDelta(Harness& h, TestWorker& worker) {
  std::promise<WithDeltaReply> got;
  worker.run([&] {
    auto returned = std::make_shared<bool>(false);
    h.service->lookupWithDelta(urlOf(kUrl), "192.0.2.7", worker.mailbox(),
                               [&got, returned](Result<CrlService::WithDelta> r) {
                                 got.set_value(WithDeltaReply{std::move(r), !*returned});
                               });
    *returned = true;
  });
  auto future = got.get_future();
  REQUIRE(future.wait_for(20s) == std::future_status::ready);
  return future.get();
}

TEST_CASE(
    "a complete CRL's delta on an allowed CRL host is fetched without a client asking and "
    "refreshed on its own nextUpdate") {
  TestWorker w;
  Harness h;
  h.options.delta_allowed = onCrlHost;
  const std::string base = numberedCrl(h.ca, 10, std::nullopt, kT - kDay, kT + 6 * kDay,
                                       {{.serial_hex = "05", .reason = 6}});  // certificateHold
  // refresh_at of the first delta: halfway through [kT - 600, kT + 3000), kT + 1200.
  const std::string delta1 = numberedCrl(h.ca, 11, 10, kT - 600, kT + 3000);
  const std::string delta2 = numberedCrl(h.ca, 12, 10, kT + 1000, kT + 5000,
                                         {{.serial_hex = "05", .reason = 8}});  // removeFromCRL
  h.origin.serve(kUrl, OriginAnswer{.body = base});
  h.origin.serve(kDeltaUrl, OriginAnswer{.body = delta1});
  h.start();
  REQUIRE(h.askAndWait(w).result.ok());
  REQUIRE(waitUntil([&] { return h.store.get(urlOf(kDeltaUrl).text(), h.clock.now()) != nullptr; }));
  CHECK(h.store.get(urlOf(kDeltaUrl).text(), h.clock.now())->bytes == delta1);  // as the CA served it
  CHECK(h.origin.fetches(kDeltaUrl) == 1);

  // Both held: answered at once, on the asking thread.
  WithDeltaReply held = askWithDelta(h, w);
  REQUIRE(held.result.ok());
  CHECK(held.before_return);
  REQUIRE(held.result->delta != nullptr);
  CHECK(held.result->delta->crl.crl_number == "0b");
  CHECK(crlListing(held.result->base->crl, &held.result->delta->crl, test::bytes("05")).revoked);

  // Nobody asks for either; the delta is refreshed once past its own refresh time.
  std::this_thread::sleep_for(200ms);  // ten ticks
  CHECK(h.origin.fetches(kDeltaUrl) == 1);
  h.origin.serve(kDeltaUrl, OriginAnswer{.body = delta2});
  h.clock.advance(1300);
  REQUIRE(waitUntil([&] {
    auto held_delta = h.store.get(urlOf(kDeltaUrl).text(), h.clock.now());
    return held_delta != nullptr && held_delta->crl.crl_number == "0c";
  }));
  CHECK(h.origin.fetches(kDeltaUrl) == 2);
  CHECK(h.origin.fetches(kUrl) == 1);

  WithDeltaReply merged = askWithDelta(h, w);
  REQUIRE(merged.result.ok());
  REQUIRE(merged.result->delta != nullptr);
  CHECK_FALSE(
      crlListing(merged.result->base->crl, &merged.result->delta->crl, test::bytes("05")).revoked);
}

TEST_CASE("a delta CRL on a host not allowed is not fetched, and is logged once") {
  test::StderrCapture log;
  TestWorker w;
  Harness h;
  h.options.delta_allowed = onCrlHost;
  const std::string elsewhere = "http://elsewhere.test/ca-delta.crl";
  h.origin.serve(kUrl, OriginAnswer{.body = numberedCrl(h.ca, 10, std::nullopt, kT - kDay,
                                                        kT + 6 * kDay, {}, elsewhere)});
  h.origin.serve(elsewhere, OriginAnswer{.body = numberedCrl(h.ca, 11, 10, kT - 600, kT + 3000)});
  h.start();
  REQUIRE(h.askAndWait(w).result.ok());
  // Past its refresh time the complete CRL is fetched again (a client's hit notes it).
  h.clock.advance(3 * kDay);
  REQUIRE(h.askAndWait(w).result.ok());
  REQUIRE(waitUntil([&] { return h.origin.fetches(kUrl) == 2; }));
  std::this_thread::sleep_for(200ms);
  CHECK(h.origin.fetches(elsewhere) == 0);
  CHECK(log.count({"level=warn", "event=crl_delta_not_allowed", "elsewhere.test"}) == 1);

  WithDeltaReply reply = askWithDelta(h, w);
  REQUIRE(reply.result.ok());
  CHECK(reply.result->delta == nullptr);
  CHECK_FALSE(reply.result->delta_error.has_value());
}

TEST_CASE("lookupWithDelta gives no delta that does not fit its base, and says why") {
  TestWorker w;
  Harness h;
  h.options.delta_allowed = onCrlHost;
  h.origin.serve(kUrl, OriginAnswer{.body = numberedCrl(h.ca, 10, std::nullopt, kT - kDay,
                                                        kT + 6 * kDay)});
  // Built on base 11, which this base (10) is older than.
  h.origin.serve(kDeltaUrl, OriginAnswer{.body = numberedCrl(h.ca, 12, 11, kT - 600, kT + 3000)});
  h.start();
  WithDeltaReply reply = askWithDelta(h, w);
  REQUIRE(reply.result.ok());
  CHECK(reply.result->delta == nullptr);
  REQUIRE(reply.result->delta_error.has_value());
  CHECK(reply.result->delta_error->code == "delta_base_mismatch");
}

}  // namespace
}  // namespace ocsp
