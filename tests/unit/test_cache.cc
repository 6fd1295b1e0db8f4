// Cache keys (docs/ARCHITECTURE.md §3), time rules with a moved clock (§4), the byte-bounded LRU
// and the memory stage of the pipeline, and the CRL store.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <openssl/ocsp.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <new>
#include <optional>
#include <random>
#include <thread>

#include "cache/crl_store.h"
#include "cache/memory_cache.h"
#include "cache/memory_source.h"
#include "core/clock.h"
#include "core/entry_arena.h"
#include "core/log.h"
#include "tests/unit/fake_source.h"
#include "tests/unit/test_util.h"

using namespace ocsp;
using ocsp::test::FakeSource;
using ocsp::test::realData;

// Counts operator new calls on this thread while `t_counting` is set: how many heap blocks a
// cached answer costs. (GCC takes the replaced pair for the library's and warns on free().)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
namespace {
thread_local bool t_counting = false;
thread_local int t_news = 0;
}  // namespace
void* operator new(size_t n) {
  if (t_counting) ++t_news;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t /*n*/) noexcept { std::free(p); }

namespace {

X509Ptr loadCert(const std::string& rel) {
  std::string why;
  auto certs = readCertificates(realData(rel), &why);
  REQUIRE_MESSAGE(!certs.empty(), why);
  return std::move(certs.front());
}

CertIdInfo certIdFor(const EVP_MD* md, X509* subject, X509* issuer) {
  OcspCertIdPtr id(OCSP_cert_to_id(md, subject, issuer));
  REQUIRE(id);
  CertIdInfo info;
  REQUIRE(certIdInfoFrom(id.get(), &info));
  return info;
}

CacheKey keyOf(uint8_t n) {
  CacheKey k{};
  k[0] = n;
  k[31] = n;
  return k;
}

std::shared_ptr<const OcspEntry> entry(size_t der_bytes, int64_t this_update, int64_t next_update,
                                       int64_t max_age = 0) {
  OcspEntry e;
  e.der = std::string(der_bytes, 'x');
  e.this_update = this_update;
  e.next_update = next_update;
  e.fetched_at = this_update;
  finishEntry(e, FreshnessPolicy{max_age, 300});
  return sealEntry(std::move(e));
}

Lookup queryFor(uint8_t n) {
  auto q = std::make_shared<OcspQuery>();
  q->key = keyOf(n);
  return Lookup{std::move(q)};
}

}  // namespace

TEST_CASE("SHA-1 and SHA-256 CertIDs of one certificate are different cache keys") {
  X509Ptr issuer = loadCert("aws-lc-ocsp/ca_cert.pem");
  X509Ptr leaf = loadCert("aws-lc-ocsp/rsa_cert.pem");
  CertIdInfo sha1 = certIdFor(EVP_sha1(), leaf.get(), issuer.get());
  CertIdInfo sha256 = certIdFor(EVP_sha256(), leaf.get(), issuer.get());
  CHECK(sha1.serial == sha256.serial);
  CHECK_FALSE(cacheKeyFor({sha1}) == cacheKeyFor({sha256}));
  CHECK(cacheKeyFor({sha1}) == cacheKeyFor({certIdFor(EVP_sha1(), leaf.get(), issuer.get())}));
}

TEST_CASE("different serials under one issuer are different keys") {
  X509Ptr issuer = loadCert("aws-lc-ocsp/ca_cert.pem");
  CertIdInfo a = certIdFor(EVP_sha1(), loadCert("aws-lc-ocsp/rsa_cert.pem").get(), issuer.get());
  CertIdInfo b = certIdFor(EVP_sha1(), loadCert("aws-lc-ocsp/ecdsa_cert.pem").get(), issuer.get());
  CHECK_FALSE(cacheKeyFor({a}) == cacheKeyFor({b}));
  // The order of CertIDs in a multi-CertID request matters: the response must echo them.
  CHECK_FALSE(cacheKeyFor({a, b}) == cacheKeyFor({b, a}));
}

TEST_CASE("a non-minimal serial encoding maps to the same key") {
  CertIdInfo id;
  id.hash_nid = NID_sha1;
  id.issuer_name_hash = std::string(20, 'n');
  id.issuer_key_hash = std::string(20, 'k');
  id.serial = std::string("\x01\x02", 2);
  CertIdInfo padded = id;
  padded.serial = std::string("\x00\x01\x02", 3);
  CHECK(sameCertId(id, padded));
  CHECK(cacheKeyFor({id}) == cacheKeyFor({padded}));
  CHECK(cacheKeyString(cacheKeyFor({id})).rfind("ocsp:v1:", 0) == 0);
  CHECK(cacheKeyString(cacheKeyFor({id})).size() == 8 + 64);
}

TEST_CASE("freshness ends at nextUpdate, or earlier at thisUpdate + max_age") {
  const int64_t t0 = 1'800'000'000;
  auto plain = entry(100, t0, t0 + 7 * 86400);
  CHECK(plain->fresh_until == t0 + 7 * 86400);
  CHECK(plain->hard_expiry == t0 + 7 * 86400);
  auto capped = entry(100, t0, t0 + 7 * 86400, /*max_age=*/86400);
  CHECK(capped->fresh_until == t0 + 86400);
  CHECK(capped->hard_expiry == t0 + 7 * 86400);
  CHECK(capped->expires == httpDate(t0 + 86400));
  CHECK(capped->last_modified == httpDate(t0));
  CHECK(capped->etag.size() == 34);
}

TEST_CASE("an answer without nextUpdate is kept for no_next_update_ttl from when it was signed") {
  const int64_t t0 = 1'800'000'000;
  OcspEntry e;
  e.this_update = t0 - 3600;  // the status as known an hour ago, signed ten seconds ago
  e.produced_at = t0 - 10;
  e.fetched_at = t0;
  finishEntry(e, FreshnessPolicy{0, 300});
  CHECK(e.hard_expiry == t0 - 10 + 300);
  CHECK(e.fresh_until == t0 - 10 + 300);

  SUBCASE("a later fetch time (unsigned: it may come from a shared store) extends nothing") {
    e.fetched_at = t0 + 7 * 86400;
    finishEntry(e, FreshnessPolicy{0, 300});
    CHECK(e.hard_expiry == t0 - 10 + 300);
  }
  SUBCASE("a responder clock ahead of ours: counted from the fetch") {
    e.fetched_at = t0 - 20;
    finishEntry(e, FreshnessPolicy{0, 300});
    CHECK(e.hard_expiry == t0 - 20 + 300);
  }
}

TEST_CASE("an answer fetched past its refresh point is not refreshed again at once") {
  const int64_t t0 = 1'800'000'000;
  OcspEntry e;
  e.der = std::string(100, 'x');
  e.this_update = t0 - 14 * 3600;  // signed ahead by a CDN: past half of its 24 hours
  e.produced_at = e.this_update;
  e.next_update = t0 + 10 * 3600;
  e.fetched_at = t0;
  finishEntry(e, FreshnessPolicy{0, 300, 0.5});
  // No sooner than a minute after the fetch (plus up to 6 s spread by the answer's hash).
  CHECK(e.refresh_at >= t0 + kMinRefreshIntervalS);
  CHECK(e.refresh_at <= t0 + kMinRefreshIntervalS + kMinRefreshIntervalS / 10);

  SUBCASE("fetched at its thisUpdate: the refresh point is refresh_fraction in, as before") {
    e.this_update = e.produced_at = e.fetched_at = t0;
    e.next_update = t0 + 100;
    finishEntry(e, FreshnessPolicy{0, 300, 0.5});
    CHECK(e.refresh_at == t0 + 50);
  }
  SUBCASE("short-lived answers are still refreshed before they end") {
    e.next_update = t0 + 20;
    finishEntry(e, FreshnessPolicy{0, 300, 0.5});
    CHECK(e.refresh_at == t0 + 10);
  }
}

TEST_CASE("the cache never returns an entry at or past its hard expiry") {
  MemoryCache cache(1 << 20, 4);
  FakeClock clock(1'800'000'000);
  auto e = entry(100, clock.now(), clock.now() + 60);
  cache.put(keyOf(1), e);
  CHECK(cache.get(keyOf(1), clock.now()) == e);
  clock.advance(59);
  CHECK(cache.get(keyOf(1), clock.now()) == e);
  clock.advance(1);
  CHECK(cache.get(keyOf(1), clock.now()) == nullptr);
  CHECK(cache.stats().entries == 0);  // removed, not kept around
}

TEST_CASE("the cache stays within its byte bound and evicts least recently used first") {
  const size_t bound = 16 * 1024;
  MemoryCache cache(bound, 1);
  const int64_t now = 1'800'000'000;
  for (uint8_t i = 0; i < 40; ++i) {
    cache.put(keyOf(i), entry(1000, now, now + 3600));
    if (i == 5) CHECK(cache.get(keyOf(0), now) != nullptr);  // touch 0: it is now recent
    CHECK(cache.stats().bytes <= bound);
  }
  auto s = cache.stats();
  CHECK(s.entries > 5);
  CHECK(s.entries < 40);
  CHECK(s.evictions == 40 - s.entries);
  CHECK(cache.get(keyOf(39), now) != nullptr);  // newest kept
  CHECK(cache.get(keyOf(1), now) == nullptr);   // oldest untouched evicted
}

TEST_CASE("evictions of answers still valid are counted; expired answers pushed out are not") {
  const size_t bound = 16 * 1024;
  MemoryCache cache(bound, 1);
  const int64_t now = 1'800'000'000;
  cache.put(keyOf(0), entry(1000, now, now + 60));
  const size_t fit = bound / cache.stats().bytes;
  for (uint8_t i = 1; i < fit; ++i) cache.put(keyOf(i), entry(1000, now, now + 60));
  REQUIRE(cache.stats().evictions == 0);
  // Fetched two minutes later: every answer held has passed its nextUpdate.
  for (uint8_t i = 0; i < fit; ++i) cache.put(keyOf(100 + i), entry(1000, now + 120, now + 3600));
  CHECK(cache.stats().evictions == fit);
  CHECK(cache.stats().valid_evictions == 0);
  // Now the answers pushed out were still valid: the cache is too small for them.
  for (uint8_t i = 0; i < 3; ++i) cache.put(keyOf(200 + i), entry(1000, now + 120, now + 3600));
  CHECK(cache.stats().evictions == fit + 3);
  CHECK(cache.stats().valid_evictions == 3);
}

TEST_CASE("the cache agrees with a reference LRU under random puts, gets and erases") {
  // Keys share their first word in groups of 8, so they collide in the shard's table and
  // exercise its probing and the hole-filling on removal; one shard, so every eviction is
  // the reference's least recently used.
  auto keyFor = [](int id) {
    CacheKey k{};
    k[0] = static_cast<uint8_t>(id % 8);
    k[8] = static_cast<uint8_t>(id);
    k[9] = static_cast<uint8_t>(id >> 8);
    return k;
  };
  const int64_t now = 1'800'000'000;
  std::vector<std::shared_ptr<const OcspEntry>> sizes;  // a few entry sizes, shared
  for (size_t der : {200, 700, 1500, 3000}) sizes.push_back(entry(der, now, now + 3600));
  const size_t cost = sizes[0]->footprint() + MemoryCache::bookkeepingBytes();
  const size_t bound = 120 * cost;
  MemoryCache cache(bound, 1);

  std::vector<int> lru;                 // reference: least recently used first
  std::map<int, const OcspEntry*> held; // reference: what each key maps to
  size_t held_bytes = 0;
  auto bytesOf = [](const OcspEntry* e) {
    return e->footprint() + MemoryCache::bookkeepingBytes();
  };
  auto forget = [&](int id) {
    held_bytes -= bytesOf(held.at(id));
    held.erase(id);
    lru.erase(std::find(lru.begin(), lru.end(), id));
  };
  uint64_t evictions = 0;
  std::mt19937 rng(7);
  for (int step = 0; step < 20000; ++step) {
    const int id = static_cast<int>(rng() % 400);
    const unsigned op = rng() % 10;
    if (op < 5) {  // put
      const auto& e = sizes[rng() % sizes.size()];
      cache.put(keyFor(id), e);
      if (held.count(id) != 0) forget(id);
      while (held_bytes + bytesOf(e.get()) > bound) {
        forget(lru.front());
        ++evictions;
      }
      held[id] = e.get();
      held_bytes += bytesOf(e.get());
      lru.push_back(id);
    } else if (op < 9) {  // get
      auto got = cache.get(keyFor(id), now);
      if (held.count(id) == 0) {
        REQUIRE(got == nullptr);
      } else {
        REQUIRE(got.get() == held.at(id));
        lru.erase(std::find(lru.begin(), lru.end(), id));
        lru.push_back(id);
      }
    } else {  // erase
      cache.erase(keyFor(id));
      if (held.count(id) != 0) forget(id);
    }
    const auto stats = cache.stats();
    REQUIRE(stats.entries == held.size());
    INFO("step " << step << " op " << op << " id " << id);
    REQUIRE(stats.bytes == held_bytes);
    REQUIRE(stats.evictions == evictions);
  }
  CHECK(evictions > 1000);  // the bound was reached over and over
  for (int id = 0; id < 400; ++id) {  // and at the end every key answers as the reference
    auto got = cache.get(keyFor(id), now);
    CHECK(got.get() == (held.count(id) != 0 ? held.at(id) : nullptr));
  }
}

TEST_CASE("an entry larger than the cache is not stored") {
  MemoryCache cache(4096, 1);
  cache.put(keyOf(1), entry(10000, 0, 100));
  CHECK(cache.stats().entries == 0);
  CHECK(cache.stats().bytes == 0);
}

TEST_CASE("replacing an entry does not leak its bytes") {
  MemoryCache cache(1 << 20, 2);
  cache.put(keyOf(1), entry(1000, 0, 100));
  size_t once = cache.stats().bytes;
  cache.put(keyOf(1), entry(1000, 0, 100));
  CHECK(cache.stats().bytes == once);
  cache.erase(keyOf(1));
  CHECK(cache.stats().bytes == 0);
}

TEST_CASE("the sharded cache holds its bound under concurrent writers and readers") {
  const size_t bound = 256 * 1024;
  MemoryCache cache(bound, 8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 5000; ++i) {
        CacheKey k{};
        k[0] = static_cast<uint8_t>(t);
        k[1] = static_cast<uint8_t>(i);
        k[2] = static_cast<uint8_t>(i >> 8);
        k[31] = static_cast<uint8_t>(i * 7 + t);
        cache.put(k, entry(500, 0, 1'000'000));
        cache.get(k, 10);
      }
    });
  }
  for (auto& th : threads) th.join();
  auto s = cache.stats();
  CHECK(s.bytes <= bound);
  CHECK(s.entries > 100);
}

TEST_CASE("memory stage answers fresh hits and asks the next stage otherwise") {
  MemoryCache cache(1 << 20);
  FakeClock clock(1'800'000'000);
  FakeSource next;
  MemorySource memory(cache, clock, next);
  auto fetched = entry(200, clock.now(), clock.now() + 3600, 0);
  next.answerAll(Answer{fetched, AnswerSource::Upstream});

  std::vector<AnswerSource> seen;
  auto record = [&seen](const Lookup&, Result<Answer> r) {
    REQUIRE(r.ok());
    seen.push_back(r->source);
  };
  memory.lookup(queryFor(7), record);
  memory.lookup(queryFor(7), record);
  CHECK(next.calls() == 1);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0] == AnswerSource::Upstream);
  CHECK(seen[1] == AnswerSource::Memory);

  // Past nextUpdate the cached answer is gone and the next stage is asked again.
  clock.advance(3600);
  memory.lookup(queryFor(7), record);
  CHECK(next.calls() == 2);
}

TEST_CASE("memory stage does not store errors or uncacheable answers") {
  MemoryCache cache(1 << 20);
  FakeClock clock(1'800'000'000);
  FakeSource next;
  MemorySource memory(cache, clock, next);
  auto ignore = [](const Lookup&, Result<Answer>) {};

  next.answerAll(makeError(ErrorCategory::ValidationFailed, "bad_signature"));
  memory.lookup(queryFor(1), ignore);
  CHECK(cache.stats().entries == 0);

  auto nonce_answer = std::make_shared<OcspEntry>(*entry(200, clock.now(), clock.now() + 3600));
  nonce_answer->cacheable = false;
  next.answerAll(Answer{nonce_answer, AnswerSource::Upstream});
  memory.lookup(queryFor(2), ignore);
  CHECK(cache.stats().entries == 0);
}

TEST_CASE(
    "a nonce passthrough lookup goes to the CA even on a hit, stores an answer without nonce, "
    "not one that echoes it, and gets the cached answer when the CA fails") {
  MemoryCache cache(1 << 20);
  FakeClock clock(1'800'000'000);
  FakeSource next;
  MemorySource memory(cache, clock, next);
  const auto held = entry(200, clock.now(), clock.now() + 3600);
  cache.put(keyOf(3), held);
  Lookup q = queryFor(3);
  q.passthrough = true;
  std::optional<Result<Answer>> got;
  auto record = [&got](const Lookup&, Result<Answer> r) { got = std::move(r); };

  // The CA echoes the nonce: that answer is the client's, and the cache keeps what it had.
  auto echoed = std::make_shared<OcspEntry>(*entry(300, clock.now() + 10, clock.now() + 3600));
  echoed->cacheable = false;
  next.answerAll(Answer{echoed, AnswerSource::Upstream});
  memory.lookup(q, record);
  CHECK(next.calls() == 1);
  REQUIRE(got->ok());
  CHECK((*got)->entry == echoed);
  CHECK(cache.get(keyOf(3), clock.now()) == held);

  // The CA ignores the nonce: its answer is an ordinary one, stored for everyone.
  const auto ignored = entry(400, clock.now() + 20, clock.now() + 3600);
  next.answerAll(Answer{ignored, AnswerSource::Upstream});
  memory.lookup(q, record);
  CHECK(next.calls() == 2);
  REQUIRE(got->ok());
  CHECK((*got)->entry == ignored);
  CHECK(cache.get(keyOf(3), clock.now()) == ignored);

  // The CA is down: the cached answer (without the client's nonce) is served.
  test::StderrCapture log;
  next.answerAll(makeError(ErrorCategory::UpstreamUnavailable, "down"));
  memory.lookup(q, record);
  CHECK(next.calls() == 3);
  REQUIRE(got->ok());
  CHECK((*got)->entry == ignored);
  CHECK((*got)->source == AnswerSource::Stale);
  CHECK(log.count({"event=stale_answer", "reason=down"}) == 1);

  // Never past its nextUpdate.
  clock.advance(3600);
  memory.lookup(q, record);
  CHECK_FALSE(got->ok());
}

// -- CRL store (docs/ARCHITECTURE.md §8) ----------------------------------------------------------

namespace {

std::shared_ptr<const CrlEntry> crlEntry(const std::string& url, size_t bytes, int64_t this_update,
                                         int64_t next_update, int64_t fetched_at) {
  auto e = std::make_shared<CrlEntry>();
  e->url = url;
  e->bytes.assign(bytes, 'x');
  e->crl.this_update = this_update;
  e->crl.next_update = next_update;
  e->fetched_at = fetched_at;
  finishCrlEntry(*e, 300, 0.5);
  return e;
}

}  // namespace

TEST_CASE("a CRL is served until its nextUpdate and never after") {
  CrlStore store(1 << 20);
  store.put(crlEntry("http://crl.example/a.crl", 100, 1000, 2000, 1100));
  CHECK(store.get("http://crl.example/a.crl", 1999) != nullptr);
  CHECK(store.get("http://crl.example/a.crl", 2000) == nullptr);
  CHECK(store.stats().entries == 0);  // dropped, not just hidden
}

TEST_CASE("CRL times: refresh halfway to nextUpdate; headers rendered once") {
  auto e = crlEntry("http://crl.example/a.crl", 10, 1000, 2000, 1100);
  CHECK(e->hard_expiry == 2000);
  CHECK(e->refresh_at == 1500);
  CHECK(e->last_modified == httpDate(1000));
  CHECK(e->expires == httpDate(2000));
  CHECK(e->etag == "\"" + toHex(sha256(e->bytes)) + "\"");
  auto no_next = crlEntry("http://crl.example/b.crl", 10, 1000, 0, 1100);
  CHECK(no_next->hard_expiry == 1100 + 300);  // cache.no_next_update_ttl from fetch
  auto late = crlEntry("http://crl.example/c.crl", 10, 1000, 2000, 1900);
  CHECK(late->refresh_at == 1900);  // never before it was fetched
}

TEST_CASE("the CRL store stays within its byte bound, evicting the least recently used") {
  const size_t one = crlEntry("u", 1000, 0, 10, 0)->footprint();
  CrlStore store(3 * one + 10);
  for (const char* u : {"a", "b", "c"}) store.put(crlEntry(u, 1000, 0, 10, 0));
  REQUIRE(store.get("a", 1) != nullptr);  // a is now the most recently used
  store.put(crlEntry("d", 1000, 0, 10, 0));
  CHECK(store.get("b", 1) == nullptr);
  CHECK(store.get("a", 1) != nullptr);
  CHECK(store.get("d", 1) != nullptr);
  CHECK(store.stats().evictions == 1);
  CHECK(store.stats().bytes <= 3 * one + 10);
  store.put(crlEntry("huge", 10 * one, 0, 10, 0));  // larger than the bound: not stored
  CHECK(store.get("huge", 1) == nullptr);
  CHECK(store.stats().entries == 3);
  CrlStore off(0);
  off.put(crlEntry("a", 10, 0, 10, 0));
  CHECK(off.get("a", 1) == nullptr);
}

TEST_CASE("CRL evictions count apart those of CRLs before their nextUpdate") {
  const size_t one = crlEntry("u", 1000, 0, 10, 0)->footprint();
  CrlStore store(3 * one + 10);
  CHECK(store.maxBytes() == 3 * one + 10);
  for (const char* u : {"a", "b", "c"}) store.put(crlEntry(u, 1000, 0, 10, 0));
  store.put(crlEntry("d", 1000, 0, 100, 5));  // a is still valid at 5
  CHECK(store.stats().evictions == 1);
  CHECK(store.stats().valid_evictions == 1);
  store.put(crlEntry("e", 1000, 0, 100, 20));  // b expired at 10
  CHECK(store.stats().evictions == 2);
  CHECK(store.stats().valid_evictions == 1);
}

TEST_CASE("a newer CRL for the same URL replaces the old one") {
  CrlStore store(1 << 20);
  store.put(crlEntry("http://crl.example/a.crl", 100, 1000, 2000, 1000));
  store.put(crlEntry("http://crl.example/a.crl", 200, 1500, 3000, 1500));
  auto got = store.get("http://crl.example/a.crl", 1600);
  REQUIRE(got != nullptr);
  CHECK(got->crl.this_update == 1500);
  CHECK(store.stats().entries == 1);
  CHECK(store.stats().bytes == got->footprint());
}

TEST_CASE("header dates are RFC 9110 IMF-fixdate and read back to the same second") {
  CHECK(httpDate(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");  // RFC 9110's example
  CHECK(httpDate(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
  CHECK(httpDate(4102444799) == "Thu, 31 Dec 2099 23:59:59 GMT");
  CHECK(httpDate(951782400) == "Tue, 29 Feb 2000 00:00:00 GMT");
  for (int64_t t : {int64_t{1}, int64_t{1'700'000'000}, int64_t{2'000'000'123}}) {
    CHECK(parseHttpDate(httpDate(t)) == t);
  }
}

TEST_CASE("a sealed entry is one arena block holding the entry and its DER; copies own theirs") {
  const std::string der(1500, 'd');
  OcspEntry built;
  built.der = der;
  built.this_update = 100;
  built.next_update = 200;
  finishEntry(built, FreshnessPolicy{});
  CHECK_FALSE(built.der.inline_with_entry());
  const size_t blocks_before = entry_arena::stats().blocks;
  t_news = 0;
  t_counting = true;
  std::shared_ptr<const OcspEntry> sealed = sealEntry(std::move(built));
  t_counting = false;
  // Control block, entry and DER together: one block of the entry arena, which took at most
  // one heap block for it (a new span, or the block itself under AddressSanitizer).
  CHECK(entry_arena::stats().blocks == blocks_before + 1);
  CHECK(t_news <= 1);
  CHECK(sealed->der == der);
  CHECK(sealed->der.inline_with_entry());
  CHECK(sealed->next_update == 200);
  // The byte count follows: one block instead of two.
  OcspEntry apart;
  apart.der = der;
  CHECK(sealed->footprint() + 16 == apart.footprint());
  // A copy (tests and tools make them) gets its own bytes and outlives the sealed block.
  OcspEntry copy = *sealed;
  CHECK_FALSE(copy.der.inline_with_entry());
  CHECK(copy.der.prefix().data() != sealed->der.prefix().data());
  sealed.reset();
  CHECK(entry_arena::stats().blocks == blocks_before);
  CHECK(copy.der == der);
}

TEST_CASE("entries share one copy of an upstream FQDN, and the pool of copies is bounded") {
  ocsp::InternedText a, b, c;
  a = std::string("ocsp.intern.test");
  b = std::string_view("ocsp.intern.test");
  c = "ocsp.other.test";
  CHECK(a == "ocsp.intern.test");
  CHECK(a.view().data() == b.view().data());  // one copy
  CHECK(c.view().data() != a.view().data());
  ocsp::InternedText empty;
  empty = "";
  CHECK(empty.empty());
  // Values from Redis come from other instances: past the bound, new ones read "(other)".
  ocsp::InternedText t;
  for (size_t i = 0; i < ocsp::InternedText::kMaxDistinct + 10; ++i) {
    t = "host" + std::to_string(i) + ".intern.test";
  }
  CHECK(t == "(other)");
  b = "ocsp.intern.test";  // values seen before still resolve to themselves
  CHECK(b.view().data() == a.view().data());
}
