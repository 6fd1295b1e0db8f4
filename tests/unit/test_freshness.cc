// Freshness behaviour of the pipeline with a moved clock: refresh-ahead, stale-while-down,
// never past nextUpdate, coalescing of concurrent misses (also across threads), and the
// per-FQDN circuit breaker.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <event2/thread.h>

#include <atomic>
#include <thread>

#include "cache/coalescer.h"
#include "cache/memory_cache.h"
#include "cache/memory_source.h"
#include "core/clock.h"

using namespace ocsp;

namespace {

constexpr int64_t kT0 = 1'800'000'000;

std::shared_ptr<const OcspEntry> validFor(int64_t this_update, int64_t seconds, char fill = 'x') {
  OcspEntry e;
  e.der = std::string(300, fill);
  e.this_update = this_update;
  e.next_update = this_update + seconds;
  e.fetched_at = this_update;
  finishEntry(e, FreshnessPolicy{});
  return sealEntry(std::move(e));
}

// Hand-written upstream stand-in: answers every lookup with `answer`, synchronously or when
// released, and counts calls.
class FakeUpstream final : public Source {
 public:
  std::optional<Result<Answer>> answer;
  bool hold = false;  // keep replies until release()
  int calls = 0;
  std::vector<std::pair<Lookup, Reply>> held;

  void lookup(Lookup lookup, Reply done) override {
    ++calls;
    REQUIRE_MESSAGE(answer.has_value(), "FakeUpstream asked without a prepared answer");
    if (hold) {
      held.emplace_back(std::move(lookup), std::move(done));
    } else {
      done(lookup, *answer);
    }
  }
  void release() {
    auto replies = std::move(held);
    held.clear();
    for (auto& [lookup, done] : replies) done(lookup, *answer);
  }
  void answerWith(std::shared_ptr<const OcspEntry> e) {
    answer = Result<Answer>(Answer{std::move(e), AnswerSource::Upstream});
  }
  void failWith(ErrorCategory c) { answer = Result<Answer>(makeError(c, "upstream_failed")); }
};

Lookup query(uint8_t n = 1) {
  auto q = std::make_shared<OcspQuery>();
  q->key[0] = n;
  q->key[31] = n;
  return Lookup{std::move(q)};
}

struct Outcome {
  bool ok = false;
  AnswerSource source = AnswerSource::Upstream;
  std::shared_ptr<const OcspEntry> entry;
  ErrorCategory category = ErrorCategory::Internal;
};

Outcome ask(Source& s, Lookup q) {
  Outcome out;
  bool called = false;
  s.lookup(std::move(q), [&](const Lookup&, Result<Answer> r) {
    called = true;
    out.ok = r.ok();
    if (r.ok()) {
      out.source = r->source;
      out.entry = r->entry;
    } else {
      out.category = r.error().category;
    }
  });
  REQUIRE_MESSAGE(called, "no synchronous answer");
  return out;
}

// Memory stage over the coalescer over a fake upstream, on one worker's event base.
struct CoalescedPipeline {
  FakeClock clock{kT0};
  MemoryCache cache{1 << 20};
  FakeUpstream upstream;
  InflightTable table;
  EventBasePtr base{event_base_new()};
  Mailbox mailbox{base.get()};
  CoalescingSource coalescer{table, mailbox, &cache, clock, upstream};
  MemorySource memory{cache, clock, coalescer};
};

}  // namespace

TEST_CASE("past half its validity a hit is answered from cache and a refresh is fetched") {
  FakeClock clock(kT0);
  MemoryCache cache(1 << 20);
  FakeUpstream upstream;
  MemorySource memory(cache, clock, upstream, /*refresh_retry_s=*/30);
  upstream.answerWith(validFor(kT0, 100));
  CHECK(ask(memory, query()).source == AnswerSource::Upstream);

  clock.set(kT0 + 49);  // before half: plain hit
  CHECK(ask(memory, query()).source == AnswerSource::Memory);
  CHECK(upstream.calls == 1);

  clock.set(kT0 + 50);  // half: the client gets the cached answer, the upstream is asked
  auto newer = validFor(kT0 + 50, 100, 'y');
  upstream.answerWith(newer);
  upstream.hold = true;
  Outcome hit = ask(memory, query());
  CHECK(hit.source == AnswerSource::Memory);
  CHECK(hit.entry->der.bytes()[0] == 'x');
  CHECK(upstream.calls == 2);
  upstream.release();  // the refresh lands in the cache
  CHECK(ask(memory, query()).entry->der.bytes()[0] == 'y');
  CHECK(memory.refreshesStarted() == 1);
}

TEST_CASE("a failed refresh is retried only after refresh_retry_s") {
  FakeClock clock(kT0);
  MemoryCache cache(1 << 20);
  FakeUpstream upstream;
  MemorySource memory(cache, clock, upstream, 30);
  upstream.answerWith(validFor(kT0, 1000));
  ask(memory, query());
  upstream.failWith(ErrorCategory::UpstreamUnavailable);
  clock.set(kT0 + 600);
  for (int i = 0; i < 10; ++i) CHECK(ask(memory, query()).source == AnswerSource::Memory);
  CHECK(upstream.calls == 2);  // one refresh attempt, not ten
  clock.advance(30);
  ask(memory, query());
  CHECK(upstream.calls == 3);
}

TEST_CASE("a refresh that brings back the answer already held backs off instead of repeating") {
  FakeClock clock(kT0);
  MemoryCache cache(1 << 20);
  FakeUpstream upstream;
  MemorySource memory(cache, clock, upstream, 30);
  // A CDN's answer signed 14 hours before it is fetched, valid 24 hours: past its refresh
  // point on arrival, and the CDN keeps serving the same one.
  auto e = std::make_shared<OcspEntry>();
  e->der = std::string(300, 'c');
  e->this_update = e->produced_at = kT0 - 14 * 3600;
  e->next_update = kT0 + 10 * 3600;
  e->fetched_at = kT0;
  finishEntry(*e, FreshnessPolicy{});
  upstream.answerWith(sealEntry(std::move(*e)));
  ask(memory, query());
  CHECK(upstream.calls == 1);
  // Forty hits in the next half minute: none starts a refresh.
  for (int i = 0; i < 40; ++i) {
    clock.set(kT0 + i * 30 / 40);
    CHECK(ask(memory, query()).source == AnswerSource::Memory);
  }
  CHECK(upstream.calls == 1);
  // Then one refresh, which brings back the same answer, and hits every second for ten
  // minutes: the waits after it double (30 s, 60 s, 120 s, 240 s ...), not one per hit.
  int refreshes_before = upstream.calls;
  for (int64_t t = 70; t < 670; ++t) {
    clock.set(kT0 + t);
    ask(memory, query());
  }
  const int refreshes = upstream.calls - refreshes_before;
  CHECK(refreshes >= 3);
  CHECK(refreshes <= 5);
}

TEST_CASE("an older answer never replaces a newer one, and the newer one is served") {
  FakeClock clock(kT0);
  MemoryCache cache(1 << 20);
  FakeUpstream upstream;
  MemorySource memory(cache, clock, upstream, 30);
  auto answer = [](int64_t this_update, CertStatus status, char fill) {
    OcspEntry e;
    e.der = std::string(300, fill);
    e.this_update = e.produced_at = e.fetched_at = this_update;
    e.next_update = this_update + 7 * 86400;
    e.status = status;
    finishEntry(e, FreshnessPolicy{3600, 300});
    return sealEntry(std::move(e));
  };
  // The CA revoked the certificate an hour ago.
  upstream.answerWith(answer(kT0, CertStatus::Revoked, 'r'));
  CHECK(ask(memory, query()).entry->status == CertStatus::Revoked);
  // Past max_age the upstream is asked again and hands back a two-day-old "good" (a replay on
  // the plain-HTTP path, or a stale CDN edge): the revoked answer is kept and served.
  clock.set(kT0 + 3601);
  upstream.answerWith(answer(kT0 - 2 * 86400, CertStatus::Good, 'g'));
  Outcome replayed = ask(memory, query());
  REQUIRE(replayed.ok);
  CHECK(replayed.entry->status == CertStatus::Revoked);
  CHECK(replayed.source == AnswerSource::Stale);
  CHECK(cache.get(query().query->key, clock.now())->status == CertStatus::Revoked);

  SUBCASE("nor through a background refresh") {
    clock.set(kT0 + 1800);  // fresh, past its refresh point
    CHECK(ask(memory, query()).entry->status == CertStatus::Revoked);
    CHECK(cache.get(query().query->key, clock.now())->status == CertStatus::Revoked);
  }
  SUBCASE("a newer answer does replace it, even a good one") {
    upstream.answerWith(answer(kT0 + 3601, CertStatus::Good, 'n'));
    clock.set(kT0 + 3700 + 3600);
    CHECK(ask(memory, query()).entry->status == CertStatus::Good);
    CHECK(cache.get(query().query->key, clock.now())->der.bytes()[0] == 'n');
  }
  SUBCASE("at equal times a revoked answer is kept over a good one") {
    auto same_time_good = answer(kT0, CertStatus::Good, 'e');
    CHECK_FALSE(supersedes(*same_time_good, *answer(kT0, CertStatus::Revoked, 'r')));
    CHECK(supersedes(*answer(kT0, CertStatus::Revoked, 'r'), *same_time_good));
  }
}

TEST_CASE("stale answer is served until nextUpdate while upstream is down, then tryLater") {
  FakeClock clock(kT0);
  MemoryCache cache(1 << 20);
  FakeUpstream upstream;
  MemorySource memory(cache, clock, upstream);
  // Fresh for 10 s (max_age), valid until nextUpdate at +60 s.
  auto e = std::make_shared<OcspEntry>();
  e->der = "der";
  e->this_update = kT0;
  e->next_update = kT0 + 60;
  e->fetched_at = kT0;
  finishEntry(*e, FreshnessPolicy{10, 300});
  upstream.answerWith(e);
  ask(memory, query());

  upstream.failWith(ErrorCategory::UpstreamUnavailable);
  clock.set(kT0 + 11);
  Outcome stale = ask(memory, query());
  REQUIRE(stale.ok);
  CHECK(stale.source == AnswerSource::Stale);
  clock.set(kT0 + 59);
  CHECK(ask(memory, query()).source == AnswerSource::Stale);
  clock.set(kT0 + 60);  // at nextUpdate: never served again
  Outcome after = ask(memory, query());
  CHECK_FALSE(after.ok);
  CHECK(after.category == ErrorCategory::UpstreamUnavailable);
}

TEST_CASE_FIXTURE(
    CoalescedPipeline,
    "concurrent misses for one key cause one upstream lookup and all get its answer") {
  upstream.answerWith(validFor(kT0, 100));
  upstream.hold = true;

  int answered = 0;
  int marked_coalesced = 0;
  for (int i = 0; i < 200; ++i) {
    memory.lookup(query(), [&](const Lookup&, Result<Answer> r) {
      CHECK(r.ok());
      ++answered;
      marked_coalesced += r->coalesced ? 1 : 0;
    });
  }
  CHECK(upstream.calls == 1);
  CHECK(answered == 0);
  upstream.release();
  CHECK(answered == 200);
  CHECK(cache.stats().entries == 1);
  CHECK(marked_coalesced == 199);  // only the leader's answer is stored on the way up
  CHECK(table.inflight() == 0);
  // A different key is not coalesced with it.
  memory.lookup(query(2), [](const Lookup&, Result<Answer>) {});
  CHECK(upstream.calls == 2);
}

TEST_CASE("a waiter on another worker gets the leader's answer on its own thread") {
  evthread_use_pthreads();
  FakeClock clock(kT0);
  MemoryCache cache(1 << 20);
  InflightTable table;
  FakeUpstream upstream;
  upstream.answerWith(validFor(kT0, 100));
  upstream.hold = true;

  event_base* base_a = event_base_new();
  event_base* base_b = event_base_new();
  Mailbox box_a(base_a), box_b(base_b);
  CoalescingSource a(table, box_a, &cache, clock, upstream);
  CoalescingSource b(table, box_b, &cache, clock, upstream);

  a.lookup(query(), [](const Lookup&, Result<Answer>) {});  // leader on "worker A"
  std::atomic<bool> b_queued{false};
  std::atomic<bool> b_answered{false};
  std::thread::id b_thread;
  std::thread worker_b([&] {
    b.lookup(query(), [&](const Lookup&, Result<Answer> r) {
      CHECK(r.ok());
      b_thread = std::this_thread::get_id();
      b_answered = true;
    });
    b_queued = true;
    while (!b_answered) event_base_loop(base_b, EVLOOP_ONCE);
  });
  while (!b_queued) std::this_thread::yield();
  CHECK_FALSE(b_answered);  // B waits on A's fetch
  upstream.release();       // the leader's fetch completes on this thread ("worker A")
  worker_b.join();
  CHECK(upstream.calls == 1);
  CHECK(b_answered);
  CHECK(b_thread != std::this_thread::get_id());
  event_base_free(base_a);
  event_base_free(base_b);
}

TEST_CASE_FIXTURE(
    CoalescedPipeline,
    "a new leader after completion finds the stored answer and does not fetch again") {
  cache.put(query().query->key, validFor(kT0, 100));
  upstream.answerWith(validFor(kT0, 100));
  Outcome o = ask(coalescer, query());
  CHECK(o.source == AnswerSource::Memory);
  CHECK(upstream.calls == 0);
}

TEST_CASE_FIXTURE(
    CoalescedPipeline,
    "a refresh through the coalescer reaches the upstream although the entry is fresh") {
  upstream.answerWith(validFor(kT0, 100));
  ask(memory, query());
  clock.set(kT0 + 60);  // fresh, past the refresh point
  upstream.answerWith(validFor(kT0 + 60, 100, 'z'));
  CHECK(ask(memory, query()).source == AnswerSource::Memory);
  CHECK(upstream.calls == 2);
  CHECK(ask(memory, query()).entry->der.bytes()[0] == 'z');
}
