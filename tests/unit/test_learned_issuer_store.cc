// Learned issuers kept across restarts (upstream/learned_issuer_store.h, core/state_dir.h): the
// file written atomically and read back, refused whole when torn or foreign, and every issuer
// verified again before the index routes by it.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/unit/test_pki.h"
#include "tests/unit/test_util.h"
#include "upstream/learned_issuer_store.h"

using namespace ocsp;
using namespace ocsp::test;
namespace fs = std::filesystem;

namespace {

struct Dir : TempDir {
  Dir() : TempDir("learned") {}
  std::string file() const { return path + "/" + kLearnedIssuersFile; }
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A root in the trust store, two issuing CAs under it learned for upstream "ca".
struct World {
  Identity root = issue({.cn = "State Root", .ca = true}, nullptr);
  Identity first = issue({.cn = "First Issuing CA", .ca = true}, &root);
  Identity second = issue({.cn = "Second Issuing CA", .ca = true}, &root);
  X509StorePtr trust{X509_STORE_new()};
  conf::Config config = makeConfig();
  std::vector<std::string> names = {"other", "ca"};

  World() { REQUIRE(X509_STORE_add_cert(trust.get(), root.cert.get()) == 1); }
  static conf::Config makeConfig() {
    conf::Config c;
    c.upstreams = {test::upstreamAt("other", {"ocsp.other.test"}),
                   test::upstreamAt("ca", {"ocsp.ca.test"})};
    return c;
  }
  static SharedX509 shared(const Identity& id) {
    REQUIRE(X509_up_ref(id.cert.get()) == 1);
    return shareX509(X509Ptr(id.cert.get()));
  }
  // An index that learned both issuing CAs at run time.
  std::unique_ptr<IssuerIndex> learnedIndex() {
    auto index = std::make_unique<IssuerIndex>(config);
    index->learn(shared(first), 1, "ca", LearnedFrom::Discovery, kT - 100);
    index->learn(shared(second), 1, "ca", LearnedFrom::Aia, kT - 50);
    return index;
  }
};

}  // namespace

TEST_CASE("learned issuers written to the state file are restored, verified, after a restart") {
  World w;
  Dir dir;
  auto opened = StateDir::open(dir.path);
  REQUIRE(opened.ok());
  {
    LearnedIssuerStore store(*opened);
    auto index = w.learnedIndex();
    store.save(*index);
  }  // what is pending is written before the store goes (at exit)
  const std::string text = slurp(dir.file());
  CHECK(text.rfind("ocsp-proxy learned-issuers v1\nissuer upstream=ca learned_at=", 0) == 0);
  CHECK_FALSE(fs::exists(dir.file() + ".tmp"));

  LearnedIssuerStore restarted(*opened);
  auto stored = restarted.load();
  REQUIRE(stored.size() == 2);
  IssuerIndex fresh(w.config);
  StderrCapture log;
  CHECK(restoreLearned(fresh, stored, w.names, w.trust.get(), kT, LearnedFrom::State) == 2);
  auto route = fresh.find(infoOf(certIdFor(w.first, 9)));
  REQUIRE(route != nullptr);
  CHECK(route->upstream_index == 1);
  CHECK(route->upstream_name == "ca");
  auto learned = fresh.learned();
  CHECK(learned.at(0).learned_at == kT - 100);
  CHECK(learned.at(0).from == LearnedFrom::State);
  CHECK(log.count({"event=issuer_loaded", "source=state", "upstream=ca"}) == 2);
  CHECK(log.count({"event=issuer_learned"}) == 0);
}

TEST_CASE("a torn, edited or foreign state file is refused whole") {
  World w;
  auto index = w.learnedIndex();
  const std::string good = encodeLearnedIssuers(index->learned());
  REQUIRE(decodeLearnedIssuers(good).ok());
  struct Case {
    const char* name;
    std::string text;
    const char* detail;
  };
  std::string edited = good;
  edited[edited.find("learned_at=") + 11] ^= 1;
  const Case cases[] = {
      {"torn", good.substr(0, good.size() / 2), "no end line (a torn file?)"},
      {"edited", edited, "checksum mismatch (a torn or edited file?)"},
      {"foreign", "-----BEGIN CERTIFICATE-----\n", "not an ocsp-proxy learned-issuers v1 file"},
      {"empty", "", "not an ocsp-proxy learned-issuers v1 file"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    auto decoded = decodeLearnedIssuers(c.text);
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.error().detail.find(c.detail) != std::string::npos);
  }
  Dir dir;
  std::ofstream(dir.file()) << good.substr(0, good.size() - 10);
  StderrCapture log;
  CHECK(LearnedIssuerStore(StateDir::open(dir.path).value()).load().empty());
  CHECK(log.count({"event=learned_issuers_invalid", "action=ignored"}) == 1);
}

TEST_CASE("a restored issuer is dropped when expired, untrusted, distrusted or its upstream left") {
  World w;
  Identity expired = issue({.cn = "Expired CA", .ca = true, .not_after = kT - 1}, &w.root);
  Identity other_root = issue({.cn = "Other Root", .ca = true}, nullptr);
  Identity untrusted = issue({.cn = "Untrusted CA", .ca = true}, &other_root);
  w.config.distrust = {conf::Distrusted{
      "bad", sha256(toDer(X509_get_X509_PUBKEY(w.second.cert.get()), i2d_X509_PUBKEY)), ""}};
  std::vector<StoredIssuer> stored = {
      {World::shared(w.first), "gone", kT, LearnedFrom::Aia},
      {World::shared(w.first), "ca", kT, LearnedFrom::Aia},
      {World::shared(expired), "ca", kT, LearnedFrom::Aia},
      {World::shared(untrusted), "ca", kT, LearnedFrom::Aia},
      {World::shared(w.second), "ca", kT, LearnedFrom::Aia},
  };
  IssuerIndex index(w.config);
  StderrCapture log;
  CHECK(restoreLearned(index, stored, w.names, w.trust.get(), kT, LearnedFrom::State) == 1);
  CHECK(index.learnedCount() == 1);
  CHECK(index.find(infoOf(certIdFor(expired, 1))) == nullptr);
  CHECK(index.find(infoOf(certIdFor(untrusted, 1))) == nullptr);
  CHECK(index.find(infoOf(certIdFor(w.second, 1))) == nullptr);
  CHECK(log.count({"event=learned_issuer_dropped", "Expired CA", "untrusted_chain"}) == 1);
  CHECK(log.count({"event=learned_issuer_dropped", "Untrusted CA", "untrusted_chain"}) == 1);
  CHECK(log.count({"event=learned_issuer_dropped", "Second Issuing CA", "distrusted (bad)"}) == 1);
  CHECK(log.count({"event=learned_issuer_dropped", "upstream=gone", "reason=upstream_gone"}) == 1);
}

TEST_CASE("a state directory that is missing or not writable is refused at open, with the reason") {
  Dir dir;
  auto missing = StateDir::open(dir.path + "/nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().detail == "cannot use " + dir.path + "/nope: No such file or directory");
  if (geteuid() != 0) {  // root writes through mode bits
    REQUIRE(chmod(dir.path.c_str(), 0500) == 0);
    auto readonly = StateDir::open(dir.path);
    REQUIRE_FALSE(readonly.ok());
    CHECK(readonly.error().detail.find("Permission denied") != std::string::npos);
    chmod(dir.path.c_str(), 0700);
  }
  std::ofstream(dir.path + "/file") << "x";
  auto not_dir = StateDir::open(dir.path + "/file");
  REQUIRE_FALSE(not_dir.ok());
  CHECK(not_dir.error().detail == dir.path + "/file is not a directory");
}
