// The cache snapshot kept in state_dir (cache/snapshot_store.h) and read back at start
// (upstream/snapshot_restore.h): what the caches held is served again after a restart, byte
// for byte, but only what passes again at load: an answer past its nextUpdate, one whose
// issuer is gone or distrusted, a record that does not match its own bytes, and a damaged
// file are dropped and counted, never served.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cache/entry_codec.h"
#include "cache/snapshot_store.h"
#include "pki/validator.h"
#include "tests/unit/test_crls.h"
#include "tests/unit/test_pki.h"
#include "tests/unit/test_util.h"
#include "upstream/snapshot_restore.h"

using namespace ocsp;
using namespace ocsp::test;
namespace fs = std::filesystem;

namespace {

constexpr const char* kCrlUrl = "http://crl.test/ca.crl";
constexpr const char* kAiaUrl = "http://aia.test/ca.cer";

struct Dir {
  std::string path;
  Dir() {
    std::string pattern = (fs::temp_directory_path() / "snapshot-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~Dir() { fs::remove_all(path); }
  std::string file() const { return path + "/" + kSnapshotFile; }
  StateDir open() const {
    auto dir = StateDir::open(path);
    REQUIRE(dir.ok());
    return *dir;
  }
};

SharedX509 shared(const Identity& id) {
  REQUIRE(X509_up_ref(id.cert.get()) == 1);
  return shareX509(X509Ptr(id.cert.get()));
}

// The caches of one process.
struct Caches {
  explicit Caches(size_t bytes = 16 << 20) : cache(bytes), crls(bytes), ca_issuers(bytes) {}
  MemoryCache cache;
  CrlStore crls;
  CrlStore ca_issuers;
  SnapshotSources sources() const { return {&cache, &crls, &ca_issuers}; }
  SnapshotTargets targets() { return {cache, crls, &ca_issuers}; }
};

// One CA configured for upstream "ca"; its answers and CRL as the caches would hold them.
struct World {
  Identity ca = issue({.cn = "Snapshot Issuing CA", .ca = true}, nullptr);
  Identity stranger = issue({.cn = "Another CA", .ca = true}, nullptr);
  FreshnessPolicy freshness{};

  conf::Config config(bool with_ca = true) const {
    conf::Config c;
    conf::Upstream u = upstreamAt("ca", {"ocsp.ca.test"});
    if (with_ca) u.issuers.push_back(conf::IssuerCert{"ca.pem", shared(ca)});
    u.issuers.push_back(conf::IssuerCert{"other.pem", shared(stranger)});
    c.upstreams = {u};
    return c;
  }

  // The entry an upstream answer for these serials (one response) becomes, fetched at kT.
  std::pair<CacheKey, std::shared_ptr<const OcspEntry>> answer(const std::vector<long>& serials,
                                                               int64_t next_update,
                                                               const Identity* signer = nullptr) {
    std::vector<OcspCertIdPtr> ids;
    std::vector<SingleSpec> singles;
    for (long s : serials) {
      ids.push_back(certIdFor(ca, s));
      singles.push_back(SingleSpec{.id = ids.back().get(), .next_update = next_update});
    }
    const std::string der = makeResponse(singles, signer != nullptr ? *signer : ca);
    std::vector<CertIdInfo> asked = certIdsIn(der);
    ValidationInput in;
    in.der = der;
    in.cert_ids = &asked;
    in.issuer = ca.cert.get();
    in.now = kT;
    auto v = validateResponse(in);
    OcspEntry e;
    e.der = der;
    if (v.ok()) {
      e.produced_at = v->produced_at;
      e.this_update = v->this_update;
      e.next_update = v->next_update;
      e.status = v->status;
      e.revocation = v->revocation;
    } else {  // signed by a stranger: the fields a forger would claim
      e.this_update = kT;
      e.next_update = next_update;
      e.produced_at = kT;
    }
    e.fetched_at = kT;
    e.upstream_fqdn = "ocsp.ca.test";
    finishEntry(e, freshness);
    return {cacheKeyFor(asked), sealEntry(std::move(e))};
  }

  std::shared_ptr<const CrlEntry> document(DocKind kind, const std::string& url,
                                           const std::string& bytes, const CrlParseRules& rules) {
    auto checked = checkDocument(rules, bytes, kT);
    REQUIRE(checked.ok());
    std::shared_ptr<CrlEntry> e = std::move(*checked);
    e->kind = kind;
    e->url = url;
    e->bytes = bytes;
    e->fetched_at = kT;
    finishCrlEntry(*e, rules.ttl_s, rules.refresh_fraction);
    return e;
  }
};

CrlParseRules rulesFor(const IssuerIndex& index, DocKind kind) {
  CrlParseRules rules;
  rules.kind = kind;
  rules.candidates = [&index] { return index.allIssuers(); };
  rules.unknown_issuer = conf::UnknownIssuerPolicy::Refuse;
  rules.ttl_s = kind == DocKind::Crl ? 300 : 86400;
  return rules;
}

SnapshotRestoreOptions restoreOptions(const IssuerIndex& index) {
  SnapshotRestoreOptions o;
  o.crl_rules = rulesFor(index, DocKind::Crl);
  o.ca_issuers_rules = rulesFor(index, DocKind::CaIssuers);
  return o;
}

// A process that held three answers (one good for only a minute), a CRL and a caIssuers
// certificate, and wrote its snapshot.
struct Held {
  World world;
  Caches caches;
  std::vector<std::pair<CacheKey, std::shared_ptr<const OcspEntry>>> answers;
  std::shared_ptr<const CrlEntry> crl;

  Held() {
    conf::Config config = world.config();
    IssuerIndex index(config);
    answers.push_back(world.answer({1}, kT + kDay));
    answers.push_back(world.answer({2, 3}, kT + kDay));
    answers.push_back(world.answer({4}, kT + 60));  // short-lived
    for (const auto& [key, entry] : answers) caches.cache.put(key, entry);
    crl = world.document(DocKind::Crl, kCrlUrl, makeCrl(world.ca, kT - kDay, kT + 2 * kDay, {7}),
                         rulesFor(index, DocKind::Crl));
    caches.crls.put(crl);
    caches.ca_issuers.put(world.document(DocKind::CaIssuers, kAiaUrl,
                                         toDer(world.ca.cert.get(), i2d_X509),
                                         rulesFor(index, DocKind::CaIssuers)));
  }
};

// Restores `file` into fresh caches at `now` with `config`'s issuers.
struct Restarted {
  Caches caches;
  SnapshotLoadReport report;
  Restarted(const std::string& file, const conf::Config& config, int64_t now) {
    IssuerIndex index(config);
    report = restoreSnapshot(file, index, caches.targets(), restoreOptions(index), now, nullptr);
  }
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string snapshotOf(const Held& h) {
  auto content = collectSnapshot(h.caches.sources(), kT);
  REQUIRE(content.has_value());
  return encodeSnapshot(*content, 64 << 20).bytes;
}

size_t droppedFor(const SnapshotLoadReport& r, const std::string& reason) {
  auto it = r.dropped_by_reason.find(reason);
  return it == r.dropped_by_reason.end() ? 0 : it->second;
}

}  // namespace

TEST_CASE("answers and CRLs written to state_dir are served again after a restart, byte for byte") {
  Held h;
  Dir dir;
  FakeClock clock(kT);
  Metrics metrics;
  SnapshotStore store(dir.open(), {}, h.caches.sources(), clock, &metrics);
  const SnapshotWriteReport written = store.writeNow();
  CHECK(written.result == "written");
  CHECK(written.answers == 3);
  CHECK(written.documents == 2);
  CHECK(fs::file_size(dir.file()) == written.bytes);
  CHECK_FALSE(fs::exists(dir.file() + ".tmp"));
  CHECK(metrics.exposition().find("ocsp_proxy_snapshot_writes_total{result=\"written\"} 1") !=
        std::string::npos);

  // The next process: its own caches, the same config, half a minute later.
  Caches fresh;
  conf::Config config = h.world.config();
  IssuerIndex index(config);
  SnapshotStore restarted(dir.open(), {}, fresh.sources(), clock, &metrics);
  StderrCapture log;
  loadSnapshot(restarted, index, fresh.targets(), restoreOptions(index), kT + 30, &metrics);
  const SnapshotLoadReport report = restarted.lastLoad();
  CHECK(report.result == "loaded");
  CHECK(report.answers == 3);
  CHECK(report.crls == 1);
  CHECK(report.ca_issuers == 1);
  CHECK(report.dropped == 0);
  CHECK(log.count({"event=snapshot_loaded", "answers=3", "crls=1", "ca_issuers=1", "dropped=0"}) ==
        1);
  for (const auto& held : h.answers) {
    auto served = fresh.cache.get(held.first, kT + 30);
    REQUIRE(served != nullptr);
    CHECK(served->der.bytes() == held.second->der.bytes());
    CHECK(served->status == held.second->status);
    CHECK(served->fetched_at == kT);
    CHECK(served->hard_expiry == held.second->hard_expiry);
  }
  auto crl = fresh.crls.get(kCrlUrl, kT + 30);
  REQUIRE(crl != nullptr);
  CHECK(crl->bytes == h.crl->bytes);
  CHECK(crl->fetched_at == kT);
  CHECK(crl->etag == h.crl->etag);
  CHECK(crl->crl.revoked.find(std::string(1, '\x07')).has_value());
  auto aia = fresh.ca_issuers.get(kAiaUrl, kT + 30);
  REQUIRE(aia != nullptr);
  CHECK(aia->hard_expiry == kT + 86400);  // forward.aia_ttl after the first download
  CHECK(metrics.exposition().find(
            "ocsp_proxy_snapshot_records_total{kind=\"answer\",result=\"loaded\"} 3") !=
        std::string::npos);
}

TEST_CASE("an answer or a CRL past its nextUpdate at load is dropped, counted expired") {
  Held h;
  const std::string file = snapshotOf(h);
  Restarted later(file, h.world.config(), kT + 120);  // the short-lived answer ended at kT+60
  CHECK(later.report.answers == 2);
  CHECK(droppedFor(later.report, "expired") == 1);
  CHECK(later.caches.cache.get(h.answers[2].first, kT + 120) == nullptr);
  CHECK(later.caches.cache.get(h.answers[0].first, kT + 120) != nullptr);

  Restarted much_later(file, h.world.config(), kT + 3 * kDay);  // past the CRL too
  CHECK(much_later.report.answers == 0);
  CHECK(much_later.report.crls == 0);
  CHECK(much_later.report.ca_issuers == 0);  // past forward.aia_ttl (a day) after its download
  CHECK(droppedFor(much_later.report, "expired") == 5);
  CHECK(much_later.caches.crls.stats().entries == 0);
}

TEST_CASE("an answer whose issuer is no longer configured is dropped, counted issuer_gone") {
  Held h;
  Restarted restarted(snapshotOf(h), h.world.config(/*with_ca=*/false), kT + 10);
  CHECK(restarted.report.answers == 0);
  CHECK(droppedFor(restarted.report, "issuer_gone") == 4);  // three answers and the CRL
  CHECK(restarted.caches.cache.stats().entries == 0);
  CHECK(restarted.caches.crls.stats().entries == 0);
}

TEST_CASE("an answer whose issuer is distrusted now is dropped, counted distrusted") {
  Held h;
  conf::Config config = h.world.config();
  const std::string spki = toDer(X509_get_X509_PUBKEY(h.world.ca.cert.get()), i2d_X509_PUBKEY);
  config.distrust.push_back(conf::Distrusted{"compromised", sha256(spki), ""});
  Restarted restarted(snapshotOf(h), config, kT + 10);
  CHECK(restarted.report.answers == 0);
  CHECK(droppedFor(restarted.report, "distrusted") == 3);
}

TEST_CASE("a record that does not match its own bytes is dropped, counted invalid") {
  Held h;
  auto content = collectSnapshot(h.caches.sources(), kT);
  REQUIRE(content.has_value());
  REQUIRE(content->answers.size() == 3);
  const SnapshotAnswer* first = nullptr;  // the record of h.answers[0]
  for (const SnapshotAnswer& a : content->answers) {
    if (a.key == h.answers[0].first) first = &a;
  }
  REQUIRE(first != nullptr);
  // Each answer damaged in one way an edited or buggy file could be:
  auto forged = h.world.answer({9}, kT + kDay, &h.world.stranger);  // not the CA's signature
  SnapshotContent c = *content;
  c.answers[0].key = c.answers[1].key;                // filed under another question
  c.answers[1].cert_ids[0] = "not a CertID";          // unreadable CertID
  c.answers[2].entry = c.answers[2].entry.substr(1);  // undecodable entry
  SnapshotAnswer signed_by_stranger;
  signed_by_stranger.key = forged.first;
  signed_by_stranger.cert_ids = certIdsAnswered(forged.first, forged.second->der.bytes());
  signed_by_stranger.entry = encodeEntry(*forged.second);
  c.answers.push_back(signed_by_stranger);
  OcspEntry from_the_future = *h.answers[0].second;  // a fetch time no clock of ours wrote
  from_the_future.fetched_at = kT + kDay;
  c.answers.push_back({first->key, first->cert_ids, encodeEntry(from_the_future), 0});
  OcspEntry lying = *h.answers[0].second;  // fields that disagree with the DER
  lying.status = CertStatus::Revoked;
  lying.revocation = Revocation{kT - kDay, 1};
  c.answers.push_back({first->key, first->cert_ids, encodeEntry(lying), 0});
  for (SnapshotDocument& d : c.documents) {
    if (d.kind == DocKind::Crl) d.bytes.back() ^= 1;  // a CRL whose signature fails
  }
  Restarted restarted(encodeSnapshot(c, 64 << 20).bytes, h.world.config(), kT + 10);
  CHECK(restarted.report.answers == 0);
  CHECK(droppedFor(restarted.report, "invalid") == 7);
  CHECK(restarted.caches.cache.stats().entries == 0);
  CHECK(restarted.caches.crls.stats().entries == 0);
}

TEST_CASE("a torn, foreign or oversized snapshot file is ignored whole at start") {
  Held h;
  Dir dir;
  FakeClock clock(kT);
  SnapshotStore store(dir.open(), {}, h.caches.sources(), clock, nullptr);
  REQUIRE(store.writeNow().result == "written");
  const std::string good = slurp(dir.file());
  conf::Config config = h.world.config();
  IssuerIndex index(config);
  struct Case {
    const char* name;
    std::string bytes;
    size_t max_bytes;
    const char* reason;
  };
  const Case cases[] = {
      {"torn", good.substr(0, good.size() / 2), 64 << 20, "checksum"},
      {"foreign", "#!/bin/sh\n" + std::string(100, 'x'), 64 << 20, "foreign"},
      {"larger than snapshot_max_bytes", good, good.size() - 1, "too_large"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    std::ofstream(dir.file(), std::ios::binary | std::ios::trunc) << c.bytes;
    Caches fresh;
    SnapshotStore restarted(dir.open(), {.interval_s = 300, .max_bytes = c.max_bytes},
                            fresh.sources(), clock, nullptr);
    StderrCapture log;
    loadSnapshot(restarted, index, fresh.targets(), restoreOptions(index), kT + 10, nullptr);
    CHECK(restarted.lastLoad().result == "invalid");
    CHECK(restarted.lastLoad().reason == c.reason);
    CHECK(log.count({"event=snapshot_invalid", std::string("reason=") + c.reason}) == 1);
    CHECK(log.count({"event=snapshot_loaded"}) == 0);
    CHECK(fresh.cache.stats().entries == 0);
    CHECK(fresh.crls.stats().entries == 0);
  }
}

TEST_CASE("no snapshot file: nothing is loaded and the start says so in /status only") {
  Dir dir;
  Caches fresh;
  FakeClock clock(kT);
  SnapshotStore store(dir.open(), {}, fresh.sources(), clock, nullptr);
  World world;
  conf::Config config = world.config();
  IssuerIndex index(config);
  StderrCapture log;
  loadSnapshot(store, index, fresh.targets(), restoreOptions(index), kT, nullptr);
  CHECK(store.lastLoad().result == "none");
  CHECK(log.count({"event=snapshot_"}) == 0);
}

TEST_CASE("a snapshot whose records did not change is not written again") {
  Held h;
  Dir dir;
  FakeClock clock(kT);
  SnapshotStore store(dir.open(), {}, h.caches.sources(), clock, nullptr);
  REQUIRE(store.writeNow().result == "written");
  const auto first = fs::last_write_time(dir.file());
  fs::last_write_time(dir.file(), first - std::chrono::hours(1));
  clock.advance(10);  // every answer still before its hard expiry: the same records
  CHECK(store.writeNow().result == "unchanged");
  CHECK(fs::last_write_time(dir.file()) == first - std::chrono::hours(1));
  auto added = h.world.answer({5}, kT + kDay);
  h.caches.cache.put(added.first, added.second);
  CHECK(store.writeNow().result == "written");
}

TEST_CASE("the write at shutdown gives up past its budget and leaves the previous file") {
  Held h;
  Dir dir;
  FakeClock clock(kT);
  SnapshotStore store(dir.open(), {}, h.caches.sources(), clock, nullptr);
  REQUIRE(store.writeNow().result == "written");
  const std::string before = slurp(dir.file());
  h.caches.cache.erase(h.answers[0].first);
  StderrCapture log;
  const SnapshotWriteReport late = store.writeFinal(0);
  CHECK(late.result == "abandoned");
  CHECK(slurp(dir.file()) == before);
  CHECK(log.count({"event=snapshot_written", "result=abandoned", "when=shutdown"}) == 1);

  SnapshotStore next(dir.open(), {}, h.caches.sources(), clock, nullptr);
  const SnapshotWriteReport in_time = next.writeFinal(60'000);
  CHECK(in_time.result == "written");
  CHECK(in_time.answers == 2);
  CHECK(log.count({"level=info", "event=snapshot_written", "result=written", "when=shutdown"}) ==
        1);
}

TEST_CASE("the snapshot is written every interval on the store's own thread") {
  Held h;
  Dir dir;
  FakeClock clock(kT);
  SnapshotStore store(dir.open(), {.interval_s = 1, .max_bytes = 64 << 20}, h.caches.sources(),
                      clock, nullptr);
  store.start();
  // The timeout is only a safety net: the first write is due after one second.
  for (int i = 0; i < 300 && store.lastWrite().result.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(store.lastWrite().result == "written");
  CHECK(fs::exists(dir.file()));
}

TEST_CASE("without a state directory or with snapshot_max_bytes 0 nothing is kept") {
  Held h;
  FakeClock clock(kT);
  SnapshotStore none(std::nullopt, {}, h.caches.sources(), clock, nullptr);
  CHECK_FALSE(none.enabled());
  CHECK(none.writeNow().result.empty());
  Dir dir;
  SnapshotStore zero(dir.open(), {.interval_s = 300, .max_bytes = 0}, h.caches.sources(), clock,
                     nullptr);
  CHECK_FALSE(zero.enabled());
  CHECK(zero.writeNow().result.empty());
  CHECK_FALSE(fs::exists(dir.file()));
}

TEST_CASE("the CertIDs of an answer are stored in the order its cache key was computed from") {
  World w;
  OcspCertIdPtr a = certIdFor(w.ca, 11);
  OcspCertIdPtr b = certIdFor(w.ca, 12);
  const std::string der =
      makeResponse({SingleSpec{.id = a.get()}, SingleSpec{.id = b.get()}}, w.ca);
  // The client asked for 12 then 11; the responder answered 11 then 12.
  const CacheKey asked = cacheKeyFor({infoOf(b), infoOf(a)});
  const std::vector<std::string> ids = certIdsAnswered(asked, der);
  REQUIRE(ids.size() == 2);
  CHECK(ids[0] == infoOf(b).der);
  CHECK(ids[1] == infoOf(a).der);
  CHECK(certIdsAnswered(cacheKeyFor({infoOf(a)}), der).empty());  // not this answer's question
  CHECK(certIdsAnswered(asked, "not DER").empty());
}

TEST_CASE("many answers are validated on several threads and all of them load") {
  World w;
  Caches held;
  std::vector<CacheKey> keys;
  for (long serial = 100; serial < 700; ++serial) {
    auto [key, entry] = w.answer({serial}, kT + kDay);
    held.cache.put(key, entry);
    keys.push_back(key);
  }
  auto content = collectSnapshot(held.sources(), kT);
  REQUIRE(content.has_value());
  Restarted restarted(encodeSnapshot(*content, 64 << 20).bytes, w.config(), kT + 10);
  CHECK(restarted.report.answers == 600);
  CHECK(restarted.report.dropped == 0);
  for (const CacheKey& key : keys) CHECK(restarted.caches.cache.get(key, kT + 10) != nullptr);
}

TEST_CASE("the cache's entries are visited without a shard's lock held") {
  World w;
  MemoryCache cache(16 << 20, 4);
  std::vector<std::pair<CacheKey, std::shared_ptr<const OcspEntry>>> entries;
  for (long serial = 1; serial <= 20; ++serial) entries.push_back(w.answer({serial}, kT + kDay));
  for (const auto& [key, entry] : entries) cache.put(key, entry);
  size_t visited = 0;
  cache.forEach([&](const CacheKey& key, const std::shared_ptr<const OcspEntry>&) {
    ++visited;
    cache.erase(key);  // the shard's lock would deadlock here if it were held
  });
  CHECK(visited == 20);
  CHECK(cache.stats().entries == 0);
}

// A measurement, not a check: skipped in the suite. Run it with
//   build/tests/test_snapshot -tc="measure*" --no-skip
// Answers signed by a delegated responder (its certificate embedded, as most CAs' are), so a
// load checks two signatures per answer.
TEST_CASE("measure: the snapshot of 100,000 answers, its write and its load" * doctest::skip()) {
  constexpr long kAnswers = 100'000;
  World w;
  Identity responder = issue({.cn = "Snapshot OCSP Responder", .ocsp_signing = true}, &w.ca);
  Caches held(size_t{1} << 30);
  for (long serial = 1; serial <= kAnswers; ++serial) {
    auto [key, entry] = w.answer({serial}, kT + kDay, &responder);
    held.cache.put(key, entry);
  }
  REQUIRE(held.cache.stats().entries == static_cast<size_t>(kAnswers));
  Dir dir;
  FakeClock clock(kT);
  SnapshotStore store(dir.open(), {.interval_s = 300, .max_bytes = size_t{1} << 30}, held.sources(),
                      clock, nullptr);
  const SnapshotWriteReport written = store.writeNow();
  REQUIRE(written.result == "written");
  conf::Config config = w.config();
  IssuerIndex index(config);
  const std::string file = slurp(dir.file());
  for (unsigned threads : {1u, 4u}) {
    Caches fresh(size_t{1} << 30);
    SnapshotRestoreOptions options = restoreOptions(index);
    options.threads = threads;
    const SnapshotLoadReport loaded =
        restoreSnapshot(file, index, fresh.targets(), options, kT + 60, nullptr);
    CHECK(loaded.answers == static_cast<size_t>(kAnswers));
    MESSAGE("answers=" << kAnswers << " bytes=" << written.bytes
                       << " bytes_per_answer=" << written.bytes / kAnswers
                       << " write_ms=" << written.ms << " load_threads=" << threads
                       << " (cores=" << std::thread::hardware_concurrency() << ")"
                       << " load_ms=" << loaded.ms);
  }
}
