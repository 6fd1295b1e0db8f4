// The serials known to be issued (upstream/known_serials.h) and what feeds them
// (upstream/known_serials_feed.h): what the CRL bridge may answer `good` for. Real
// certificates from the test PKI, real files in a temporary directory.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <thread>

#include "tests/unit/test_pki.h"
#include "tests/unit/test_util.h"
#include "upstream/known_serials.h"
#include "upstream/known_serials_feed.h"

using namespace ocsp;
using namespace ocsp::test;
namespace fs = std::filesystem;

namespace {

// "AB:CD:..." as `openssl x509 -fingerprint -sha256` prints it.
std::string fingerprintOf(X509* cert) {
  std::string hex = toHex(sha256(toDer(cert, i2d_X509)));
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    if (i > 0) out.push_back(':');
    out.push_back(static_cast<char>(std::toupper(hex[i])));
    out.push_back(static_cast<char>(std::toupper(hex[i + 1])));
  }
  return out;
}

std::string serialOf(X509* cert) { return certificateSerial(cert); }

// A configured issuing CA under a root, and a second CA nobody configured.
struct World {
  Identity root = issue({.cn = "Known Root", .ca = true}, nullptr);
  Identity ca = issue({.cn = "Known Issuing CA", .ca = true}, &root);
  Identity stranger = issue({.cn = "Stranger CA", .ca = true}, nullptr);
  std::vector<SharedX509> issuers;
  std::string ca_key;
  KnownSerials known;
  TempDir dir{"known-serials"};

  World() {
    X509_up_ref(ca.cert.get());
    issuers.push_back(shareX509(X509Ptr(ca.cert.get())));
    ca_key = issuerKeySha1(ca.cert.get());
  }
  // What a client's CertID for serial `serial` under the CA says to the set.
  bool knows(long serial) const {
    CertIdInfo id = infoOf(certIdFor(ca, serial));
    return known.contains(id.issuer_key_hash, id.serial);
  }
  Error loadError(const std::string& name, const std::string& content) {
    auto loaded = loadKnownSerialsFile(dir.write(name, content), issuers, known);
    REQUIRE_FALSE(loaded.ok());
    return loaded.error();
  }
};

}  // namespace

TEST_CASE("an issuer is named by the SHA-1 of its key, as a SHA-1 CertID names it") {
  World w;
  CHECK(w.ca_key.size() == 20);
  CHECK(w.ca_key == infoOf(certIdFor(w.ca, 7)).issuer_key_hash);
  CHECK(issuerKeySha1(w.root.cert.get()) != w.ca_key);
}

TEST_CASE("a serial from a file matches the CertID that encodes it with a sign byte") {
  World w;
  // 0xab and 0xdeadbeef have their top bit set: a CertID encodes them as 00 ab, 00 de ad be ef.
  REQUIRE(infoOf(certIdFor(w.ca, 0xab)).serial == std::string("\x00\xab", 2));
  auto loaded = loadKnownSerialsFile(w.dir.write("serials.txt",
                                                 "# exported from the CA database\n"
                                                 "issuer: " +
                                                     fingerprintOf(w.ca.cert.get()) +
                                                     "\n"
                                                     "ab\n"
                                                     "\n"
                                                     "0x0100   # leading zeros and 0x\n"
                                                     "DE:AD:BE:EF\r\n"
                                                     "12 34\n"),
                                     w.issuers, w.known);
  REQUIRE(loaded.ok());
  CHECK(loaded->added == 4);
  CHECK(loaded->files == 1);
  CHECK(w.knows(0xab));
  CHECK(w.knows(0x100));
  CHECK(w.knows(0xdeadbeef));
  CHECK(w.knows(0x1234));
  CHECK_FALSE(w.knows(0xac));
  // The same serial under another CA is another certificate.
  CertIdInfo other = infoOf(certIdFor(w.stranger, 0xab));
  CHECK_FALSE(w.known.contains(other.issuer_key_hash, other.serial));
  // A fingerprint in lower case without colons names the issuer too.
  std::string plain = toHex(sha256(toDer(w.ca.cert.get(), i2d_X509)));
  REQUIRE(loadKnownSerialsFile(w.dir.write("more.txt", "issuer: " + plain + "\n77\n"), w.issuers,
                               w.known)
              .ok());
  CHECK(w.knows(0x77));
}

TEST_CASE("certificates in a file are added under the configured issuer that signed them") {
  World w;
  // A serial with its top bit set: DER encodes it with a sign byte, OpenSSL keeps it without.
  Identity first = issue({.cn = "first.example", .serial = 0x80a1b2}, &w.ca);
  Identity second = issue({.cn = "second.example"}, &w.ca);
  Identity elsewhere = issue({.cn = "elsewhere.example"}, &w.stranger);
  // A certificate that names the configured CA as its issuer but was signed by another key:
  // what a forged certificate looks like. Its serial is in no CA database.
  Identity forger = issue({.cn = "Known Issuing CA", .ca = true}, nullptr);
  Identity forged = issue({.cn = "forged.example"}, &forger);
  REQUIRE(X509_NAME_cmp(X509_get_issuer_name(forged.cert.get()),
                        X509_get_subject_name(w.ca.cert.get())) == 0);

  SUBCASE("PEM, with text around the blocks") {
    auto loaded = loadKnownSerialsFile(
        w.dir.write("certs.pem", "Subject: first\n" + pemOf(first.cert.get()) +
                                     pemOf(elsewhere.cert.get()) + pemOf(forged.cert.get()) +
                                     "trailing words\n" + pemOf(second.cert.get())),
        w.issuers, w.known);
    REQUIRE(loaded.ok());
    CHECK(loaded->added == 2);
    CHECK(loaded->not_issued_by_configured == 2);
    CHECK(w.known.size() == 2);
    CHECK(w.knows(0x80a1b2));
    CHECK(w.known.contains(w.ca_key, serialOf(first.cert.get())));
    CHECK(w.known.contains(w.ca_key, serialOf(second.cert.get())));
    CHECK_FALSE(w.known.contains(w.ca_key, serialOf(forged.cert.get())));
  }
  SUBCASE("one DER certificate") {
    auto loaded = loadKnownSerialsFile(w.dir.write("first.cer", toDer(first.cert.get(), i2d_X509)),
                                       w.issuers, w.known);
    REQUIRE(loaded.ok());
    CHECK(loaded->added == 1);
    CHECK(w.knows(0x80a1b2));
  }
  SUBCASE("addIssued verifies the signature, not only the name") {
    CHECK(w.known.addIssued(first.cert.get(), w.ca.cert.get()));
    CHECK_FALSE(w.known.addIssued(forged.cert.get(), w.ca.cert.get()));
    CHECK_FALSE(w.known.addIssued(elsewhere.cert.get(), w.ca.cert.get()));
    CHECK(w.known.size() == 1);
    CHECK(w.known.refused() == 0);
    // An intermediate is a serial its root issued (what Java asks about).
    Identity high = issue({.cn = "High Serial CA", .ca = true, .serial = 0xc0ffee}, &w.root);
    CHECK(w.known.addIssued(high.cert.get(), w.root.cert.get()));
    CertIdInfo id = infoOf(certIdFor(w.root, 0xc0ffee));
    CHECK(w.known.contains(id.issuer_key_hash, id.serial));
  }
}

TEST_CASE("every format error names the file, the line and what is wrong") {
  World w;
  const std::string fp = fingerprintOf(w.ca.cert.get());
  const std::string pem = pemOf(w.ca.cert.get());
  const std::string key_line = std::to_string(std::count(pem.begin(), pem.end(), '\n') + 1);
  struct Case {
    const char* name;
    std::string content;
    const char* code;
    std::string where_what;  // after "<path>:"
  };
  const std::vector<Case> cases = {
      {"early.txt", "# no issuer yet\n0a\n", "known_serials_format",
       "2: a serial before the `issuer: <SHA-256 fingerprint>` line"},
      {"short.txt", "issuer: ab:cd\n0a\n", "known_serials_format",
       "1: `issuer:` takes the SHA-256 fingerprint of the issuer certificate (64 hex digits, "
       "colons allowed)"},
      {"stranger.txt", "issuer: " + fingerprintOf(w.stranger.cert.get()) + "\n",
       "known_serials_issuer",
       "1: no configured issuer has the SHA-256 fingerprint " +
           toHex(sha256(toDer(w.stranger.cert.get(), i2d_X509)))},
      {"nothex.txt", "issuer: " + fp + "\n0a\n\n12g4\n", "known_serials_format",
       "4: not a hex serial: 12g4"},
      {"long.txt", "issuer: " + fp + "\n" + std::string(82, 'a') + "\n", "known_serials_format",
       "2: a serial longer than 40 bytes"},
      {"empty.txt", "", "known_serials_format",
       "1: neither certificates nor an `issuer: <SHA-256 fingerprint>` line"},
      {"comments.txt", "# nothing exported\n\n", "known_serials_format",
       "1: neither certificates nor an `issuer: <SHA-256 fingerprint>` line"},
      {"key.pem", pem + "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
       "known_serials_format",
       key_line + ": a PEM block that is not a CERTIFICATE: -----BEGIN PRIVATE KEY-----"},
      {"broken.pem", "\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
       "known_serials_format", "2: the CERTIFICATE block that begins here does not parse"},
      {"cut.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n", "known_serials_format",
       "1: the CERTIFICATE block that begins here has no END line"},
      {"garbage.der", std::string("\x30\x82\x01\x00junk", 8), "known_serials_format",
       "1: binary content that is not one DER certificate"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Error e = w.loadError(c.name, c.content);
    CHECK(e.category == ErrorCategory::Config);
    CHECK(e.code == c.code);
    CHECK(e.detail == w.dir.path + "/" + c.name + ":" + c.where_what);
  }
}

TEST_CASE("a file that cannot be read is refused with its path and the system's reason") {
  World w;
  auto missing = loadKnownSerialsFile(w.dir.path + "/absent.txt", w.issuers, w.known);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == "known_serials_unreadable");
  CHECK(missing.error().detail == w.dir.path + "/absent.txt: No such file or directory");
  auto directory = loadKnownSerialsFile(w.dir.path, w.issuers, w.known);
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.error().code == "known_serials_unreadable");
  CHECK(directory.error().detail == w.dir.path + ": a directory, not a file");
}

TEST_CASE("a directory entry loads every file in it, in name order") {
  World w;
  Identity leaf = issue({.cn = "leaf.example"}, &w.ca);
  const std::string fp = fingerprintOf(w.ca.cert.get());
  w.dir.write("b-serials.txt", "issuer: " + fp + "\n0a\n0b\n");
  w.dir.write("a-certs.pem", pemOf(leaf.cert.get()));
  w.dir.write(".b-serials.txt.swp", "not a serials file");
  fs::create_directory(w.dir.path + "/old");
  w.dir.write("old/c.txt", "not read either");

  auto loaded = loadKnownSerialsPath(w.dir.path, w.issuers, w.known);
  REQUIRE(loaded.ok());
  CHECK(loaded->files == 2);
  CHECK(loaded->added == 3);
  CHECK(w.knows(0x0a));
  CHECK(w.knows(0x0b));
  CHECK(w.known.contains(w.ca_key, serialOf(leaf.cert.get())));

  // A file entry is loaded as a file.
  auto one = loadKnownSerialsPath(w.dir.path + "/b-serials.txt", w.issuers, w.known);
  REQUIRE(one.ok());
  CHECK(one->files == 1);

  // An error names the file inside the directory.
  w.dir.write("c-bad.txt", "issuer: " + fp + "\nzz\n");
  auto bad = loadKnownSerialsPath(w.dir.path, w.issuers, w.known);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().detail == w.dir.path + "/c-bad.txt:2: not a hex serial: zz");

  TempDir empty{"known-serials"};
  auto nothing = loadKnownSerialsPath(empty.path, w.issuers, w.known);
  REQUIRE(nothing.ok());
  CHECK(nothing->files == 0);
}

TEST_CASE("the set holds at most max_entries serials and counts what it refused") {
  World w;
  KnownSerials small(2);
  CHECK(small.add(w.ca_key, "\x01"));
  CHECK(small.add(w.ca_key, std::string("\x00\x02", 2)));
  CHECK_FALSE(small.add(w.ca_key, "\x03"));
  CHECK_FALSE(small.add(w.ca_key, "\x04"));
  // One held already is no new entry.
  CHECK(small.add(w.ca_key, "\x02"));
  CHECK(small.size() == 2);
  CHECK(small.refused() == 2);
  CHECK_FALSE(small.contains(w.ca_key, "\x03"));

  // A file past the bound: what fitted is added, the rest counted as refused.
  auto loaded = loadKnownSerialsFile(
      w.dir.write("many.txt", "issuer: " + fingerprintOf(w.ca.cert.get()) + "\n05\n06\n07\n"),
      w.issuers, small);
  REQUIRE(loaded.ok());
  CHECK(loaded->added == 0);
  CHECK(small.refused() == 5);
}

TEST_CASE("empty and negative serials are never added nor found") {
  World w;
  CHECK_FALSE(w.known.add(w.ca_key, ""));
  CHECK_FALSE(w.known.add(w.ca_key, "\xab"));  // two's complement: -85
  CHECK_FALSE(w.known.add("short", "\x01"));   // not a SHA-1
  CHECK(w.known.size() == 0);
  CHECK(w.known.refused() == 0);
  REQUIRE(w.known.add(w.ca_key, std::string("\x00\xab", 2)));
  CHECK_FALSE(w.known.contains(w.ca_key, "\xab"));
  CHECK(w.known.contains(w.ca_key, std::string("\x00\x00\xab", 3)));
}

TEST_CASE("lookups from other threads see a consistent set while serials are added") {
  World w;
  for (int i = 1; i <= 100; ++i)
    REQUIRE(w.known.add(w.ca_key, std::string(1, static_cast<char>(i))));
  std::atomic<bool> done{false};
  std::atomic<int> running{0};
  std::atomic<int> misses{0};
  std::atomic<long> lookups{0};
  auto reader = [&] {
    ++running;
    do {
      for (int i = 1; i <= 100; ++i) {
        if (!w.known.contains(w.ca_key, std::string(1, static_cast<char>(i)))) ++misses;
      }
      ++lookups;
    } while (!done.load());
  };
  std::thread r1(reader);
  std::thread r2(reader);
  // The adds start once both readers run (a loaded machine may start a thread late).
  while (running.load() < 2) std::this_thread::yield();
  for (uint32_t i = 0; i < 20000; ++i) {
    std::string serial = {'\x01', static_cast<char>(i >> 16), static_cast<char>(i >> 8),
                          static_cast<char>(i)};
    w.known.add(w.ca_key, serial);
  }
  done = true;
  r1.join();
  r2.join();
  CHECK(misses.load() == 0);
  CHECK(lookups.load() >= 2);
  CHECK(w.known.size() == 20100);
}

// --- What feeds the set (upstream/known_serials_feed.h) --------------------------------------

namespace {

SharedX509 sharedOf(const Identity& id) {
  X509_up_ref(id.cert.get());
  return shareX509(X509Ptr(id.cert.get()));
}

conf::IssuerCert issuerCert(const Identity& id) {
  return conf::IssuerCert{"test.pem", sharedOf(id)};
}

// What a client asks about `cert` when it names `parent` as the issuer (Java asks so about an
// intermediate, with the root as issuer).
bool knownUnder(const KnownSerials& known, const Identity& parent, const Identity& cert) {
  CertIdInfo id =
      infoOf(certIdFor(parent, ASN1_INTEGER_get(X509_get0_serialNumber(cert.cert.get()))));
  return known.contains(id.issuer_key_hash, id.serial);
}

// A config naming CAs in every place a CA certificate can be named, and a trust store root.
struct Site {
  Identity root = issue({.cn = "Site Root", .ca = true}, nullptr);
  Identity issuing = issue({.cn = "Site Issuing CA", .ca = true}, &root);
  Identity watched = issue({.cn = "Site Watched CA", .ca = true}, &issuing);
  Identity crl_signer = issue({.cn = "Site CRL Signer", .ca = true}, &issuing);
  Identity listed = issue({.cn = "Site Listed CA", .ca = true}, &root);
  Identity trusted_root = issue({.cn = "Public Root", .ca = true}, nullptr);
  Identity public_ca = issue({.cn = "Public Issuing CA", .ca = true}, &trusted_root);
  // Names the site root as its issuer; another key signed it.
  Identity forger = issue({.cn = "Site Root", .ca = true}, nullptr);
  Identity forged = issue({.cn = "Forged CA", .ca = true}, &forger);
  X509StorePtr trust{X509_STORE_new()};
  conf::Config config;
  TempDir dir{"known-serials"};

  Site() {
    REQUIRE(X509_STORE_add_cert(trust.get(), trusted_root.cert.get()) == 1);
    conf::Upstream site = upstreamAt("site", {"ocsp.site.test"});
    site.issuers = {issuerCert(root), issuerCert(issuing), issuerCert(forged)};
    conf::Upstream pub = upstreamAt("public", {"ocsp.public.test"});
    pub.issuers = {issuerCert(public_ca)};
    config.upstreams = {site, pub};
    config.watch.issuers = {issuerCert(listed)};
    config.watch.intermediates = {conf::WatchedCa{.name = "watched",
                                                  .cert_path = "watched.pem",
                                                  .cert = sharedOf(watched),
                                                  .parent = sharedOf(issuing),
                                                  .ocsp_url = ""}};
    config.crl.issuers = {issuerCert(crl_signer)};
  }
};

}  // namespace

TEST_CASE("every CA certificate of the config is known as issued by the CA that signed it") {
  Site s;
  IssuerIndex index(s.config);
  KnownSerials known;
  StderrCapture logs;
  auto loaded = loadKnownSerials(s.config, index, s.trust.get(), {}, known);
  REQUIRE(loaded.ok());
  CHECK(loaded->config_cas == 5);
  CHECK(knownUnder(known, s.root, s.issuing));
  CHECK(knownUnder(known, s.issuing, s.watched));
  CHECK(knownUnder(known, s.issuing, s.crl_signer));
  CHECK(knownUnder(known, s.root, s.listed));
  CHECK(knownUnder(known, s.trusted_root, s.public_ca));  // the parent is a trust-store root
  CHECK_FALSE(knownUnder(known, s.root, s.forged));
  CHECK_FALSE(knownUnder(known, s.root, s.root));  // a root is not its own serial
  CHECK(known.size() == 5);
  CHECK(logs.count({"event=known_serials_loaded", "config_cas=5", "learned_issuers=0", "files=0",
                    "entries=5", "refused=0", "took_ms="}) == 1);

  // A reload with another config adds to the set; nothing learned before is dropped.
  conf::Config smaller;
  IssuerIndex smaller_index(smaller);
  REQUIRE(loadKnownSerials(smaller, smaller_index, nullptr, {}, known).ok());
  CHECK(known.size() == 5);
}

TEST_CASE("an issuer learned through AIA is known as issued by the CA that signed it") {
  Site s;
  IssuerIndex index(s.config);
  KnownSerials known;
  Identity restored = issue({.cn = "Restored CA", .ca = true}, &s.trusted_root);
  Identity learned = issue({.cn = "Learned CA", .ca = true}, &s.trusted_root);
  Identity unchained = issue({.cn = "Unchained CA", .ca = true}, &s.forger);
  // Learned before this generation (the state file, an earlier generation): at load.
  index.learn(sharedOf(restored), 1, "public", LearnedFrom::State, kT);
  auto loaded = loadKnownSerials(s.config, index, s.trust.get(), {}, known);
  REQUIRE(loaded.ok());
  CHECK(loaded->learned == 1);
  CHECK(knownUnder(known, s.trusted_root, restored));
  // Learned at run time: as it is learned, as the server wires the listener.
  index.onLearned([&](const LearnedIssuer& issuer) {
    addUnderIssuer(known, issuer.route->issuer.get(), index.allIssuers(), s.trust.get());
  });
  index.learn(sharedOf(learned), 1, "public", LearnedFrom::Aia, kT);
  index.learn(sharedOf(unchained), 1, "public", LearnedFrom::Aia, kT);
  CHECK(knownUnder(known, s.trusted_root, learned));
  CHECK_FALSE(knownUnder(known, s.forger, unchained));  // the forger is no known CA
}

TEST_CASE("known_serials files are loaded under the config's CAs; an error stops the load") {
  Site s;
  IssuerIndex index(s.config);
  KnownSerials known;
  Identity leaf = issue({.cn = "leaf.site.test"}, &s.crl_signer);
  s.dir.write("leaves.pem", pemOf(leaf.cert.get()));
  s.dir.write("watched.txt", "issuer: " + fingerprintOf(s.watched.cert.get()) + "\n1f\n");
  StderrCapture logs;
  auto loaded = loadKnownSerials(s.config, index, s.trust.get(), {s.dir.path}, known);
  REQUIRE(loaded.ok());
  CHECK(loaded->files.files == 2);
  CHECK(loaded->files.added == 2);
  CHECK(knownUnder(known, s.crl_signer, leaf));
  CertIdInfo id = infoOf(certIdFor(s.watched, 0x1f));
  CHECK(known.contains(id.issuer_key_hash, id.serial));
  CHECK(logs.count({"event=known_serials_loaded", "files=2", "from_files=2"}) == 1);

  s.dir.write("zz-broken.txt", "issuer: " + fingerprintOf(s.trusted_root.cert.get()) + "\n");
  auto refused = loadKnownSerials(s.config, index, s.trust.get(), {s.dir.path}, known);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == "known_serials_issuer");
  CHECK(refused.error().detail.starts_with(s.dir.path + "/zz-broken.txt:1: "));
  CHECK(logs.count({"event=known_serials_loaded"}) == 1);
}
