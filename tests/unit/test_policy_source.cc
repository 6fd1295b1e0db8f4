// PolicySource (proxy/policy_source.h): where each query goes, what it refuses, and the routed
// lookup it passes down (core/source.h). A table of queries and what the stage below (or the
// front, for a refusal) must see.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "proxy/component_options.h"
#include "proxy/policy_source.h"
#include "tests/unit/fake_source.h"
#include "tests/unit/test_pki.h"
#include "tests/unit/test_util.h"

using namespace ocsp;
using ocsp::test::FakeSource;

namespace {

SharedX509 cert(const std::string& rel) { return shareX509(test::loadCert(rel)); }

// The CertID of `subject`'s serial number under `issuer` (RFC 6960 §4.1.1 hashes of the
// issuer's name and key), whoever actually issued `subject`.
CertIdInfo certId(const SharedX509& subject, const SharedX509& issuer) {
  OcspCertIdPtr id(OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(issuer.get()),
                                    X509_get0_pubkey_bitstr(issuer.get()),
                                    X509_get_serialNumber(subject.get())));
  REQUIRE(id);
  CertIdInfo info;
  REQUIRE(certIdInfoFrom(id.get(), &info));
  return info;
}

conf::Upstream upstream(const std::string& name, std::vector<std::string> fqdns,
                        const SharedX509& issuer) {
  conf::Upstream u;
  u.name = name;
  u.fqdns = std::move(fqdns);
  u.issuers.push_back(conf::IssuerCert{name + ".pem", issuer});
  return u;
}

// Three upstreams, each answering for one issuer; the third issuer's key is distrusted.
struct Pki {
  SharedX509 s2n_ca = cert("aws-lc-ocsp/ca_cert.pem");
  SharedX509 le_x3 = cert("pyca-cryptography-vectors/certs/letsencryptx3.pem");
  SharedX509 distrusted_ca = cert("certifi-mozilla-roots/DigiCert_Global_Root_CA.pem");
  SharedX509 stranger_ca = cert("certifi-mozilla-roots/DigiCert_Global_Root_G2.pem");
  SharedX509 rsa_leaf = cert("aws-lc-ocsp/rsa_cert.pem");
  SharedX509 ecdsa_leaf = cert("aws-lc-ocsp/ecdsa_cert.pem");

  std::shared_ptr<conf::Config> config(conf::NoncePolicy nonce) const {
    auto c = std::make_shared<conf::Config>();
    c->upstreams = {upstream("letsencrypt", {"le-a.test", "le-b.test"}, le_x3),
                    upstream("s2n", {"s2n.test"}, s2n_ca),
                    upstream("old", {"old.test"}, distrusted_ca)};
    conf::Distrusted d;
    d.name = "old-ca-incident";
    d.spki_sha256 = sha256(toDer(X509_get_X509_PUBKEY(distrusted_ca.get()), i2d_X509_PUBKEY));
    c->distrust = {d};
    c->nonce = nonce;
    return c;
  }
};

struct Row {
  const char* name;
  std::vector<CertIdInfo> cert_ids{};
  conf::NoncePolicy nonce_policy = conf::NoncePolicy::Ignore;
  bool with_nonce = false;
  bool upstream_ignores_nonces = false;  // NonceEcho learned it of the route's upstream
  std::optional<size_t> forward_upstream{};  // forward mode: the upstream the URL named
  size_t forward_fqdn = 0;
  conf::ResponderUnknownIssuerPolicy unknown_issuer = conf::ResponderUnknownIssuerPolicy::Refuse;
  // Expected: a refusal with this code (nullptr: passed down), else the route and the flags.
  const char* refused = nullptr;
  bool refusal_routed = false;  // the refusal still names the route (logged with its issuer)
  size_t upstream = 0;
  size_t first_fqdn = 0;
  X509* issuer = nullptr;  // the route's issuer; null: unknown (forward mode, discovery)
  bool passthrough = false;
  bool discover = false;  // routed for discovery (no upstream yet)
};

struct Outcome {
  int replies = 0;
  std::optional<Lookup> lookup;
  std::optional<Result<Answer>> result;
};

Outcome ask(PolicySource& policy, const Row& row, const std::string& client = "192.0.2.7") {
  auto q = std::make_shared<OcspQuery>();
  q->cert_ids = row.cert_ids;
  q->key = cacheKeyFor(q->cert_ids);
  q->client = client + ":4711";
  q->client_address = client;
  if (row.with_nonce) q->nonce = std::string("\x04\x02\xab\xcd", 4);
  if (row.forward_upstream) {
    q->mode = Mode::Forward;
    q->forward_upstream = row.forward_upstream;
    q->forward_fqdn = row.forward_fqdn;
  }
  Outcome out;
  policy.lookup(Lookup{q}, [&out](const Lookup& lookup, Result<Answer> result) {
    ++out.replies;
    out.lookup = lookup;
    out.result.emplace(std::move(result));
  });
  return out;
}

Result<Answer> fetched() {
  OcspEntry e;
  e.der = std::string("answer");
  return Answer{sealEntry(std::move(e)), AnswerSource::Upstream};
}

}  // namespace

TEST_CASE("queries are routed by issuer, refused by the policy, and passed down routed") {
  Pki pki;
  const CertIdInfo s2n_rsa = certId(pki.rsa_leaf, pki.s2n_ca);
  const CertIdInfo s2n_ecdsa = certId(pki.ecdsa_leaf, pki.s2n_ca);
  const CertIdInfo le = certId(pki.rsa_leaf, pki.le_x3);
  const CertIdInfo distrusted = certId(pki.rsa_leaf, pki.distrusted_ca);
  const CertIdInfo stranger = certId(pki.rsa_leaf, pki.stranger_ca);
  const CertIdInfo stranger_2 = certId(pki.ecdsa_leaf, pki.stranger_ca);
  using conf::NoncePolicy;

  const std::vector<Row> rows = {
      {.name = "a CertID of the s2n CA goes to upstream s2n",
       .cert_ids = {s2n_rsa}, .upstream = 1, .issuer = pki.s2n_ca.get()},
      {.name = "a CertID of Let's Encrypt X3 goes to upstream letsencrypt, first FQDN first",
       .cert_ids = {le}, .upstream = 0, .issuer = pki.le_x3.get()},
      {.name = "several CertIDs of one issuer go together",
       .cert_ids = {s2n_rsa, s2n_ecdsa}, .upstream = 1, .issuer = pki.s2n_ca.get()},
      {.name = "an issuer nobody configured is unauthorized in responder mode",
       .cert_ids = {stranger}, .refused = "unknown_issuer"},
      {.name = "a known and an unknown issuer in one request are unauthorized",
       .cert_ids = {s2n_rsa, stranger}, .refused = "unknown_issuer"},
      {.name = "under discover an issuer nobody configured goes down for discovery",
       .cert_ids = {stranger, stranger_2},
       .unknown_issuer = conf::ResponderUnknownIssuerPolicy::Discover, .discover = true},
      {.name = "under discover a known and an unknown issuer in one request are unauthorized",
       .cert_ids = {stranger, s2n_rsa},
       .unknown_issuer = conf::ResponderUnknownIssuerPolicy::Discover,
       .refused = "mixed_issuers"},
      {.name = "CertIDs of two known issuers in one request are unauthorized",
       .cert_ids = {s2n_rsa, le}, .refused = "mixed_issuers"},
      {.name = "a distrusted issuer is unauthorized, and the refusal names its route",
       .cert_ids = {distrusted}, .refused = "distrusted_issuer", .refusal_routed = true,
       .upstream = 2, .issuer = pki.distrusted_ca.get()},
      {.name = "under nonce passthrough a request with a nonce is passed through",
       .cert_ids = {s2n_rsa}, .nonce_policy = NoncePolicy::Passthrough, .with_nonce = true,
       .upstream = 1, .issuer = pki.s2n_ca.get(), .passthrough = true},
      {.name = "under nonce passthrough a request with a nonce to an upstream known to ignore "
               "nonces is an ordinary lookup, answered from the cache",
       .cert_ids = {s2n_rsa}, .nonce_policy = NoncePolicy::Passthrough, .with_nonce = true,
       .upstream_ignores_nonces = true, .upstream = 1, .issuer = pki.s2n_ca.get()},
      {.name = "under nonce passthrough a request without a nonce is shared",
       .cert_ids = {s2n_rsa}, .nonce_policy = NoncePolicy::Passthrough,
       .upstream = 1, .issuer = pki.s2n_ca.get()},
      {.name = "under nonce ignore a nonce is dropped: the answer is shared",
       .cert_ids = {s2n_rsa}, .with_nonce = true, .upstream = 1, .issuer = pki.s2n_ca.get()},
      {.name = "forward mode: the URL's upstream and FQDN, for a configured issuer",
       .cert_ids = {le}, .forward_upstream = 0, .forward_fqdn = 1,
       .upstream = 0, .first_fqdn = 1, .issuer = pki.le_x3.get()},
      {.name = "forward mode: the URL's upstream even when the issuer is another's",
       .cert_ids = {s2n_rsa}, .forward_upstream = 0, .forward_fqdn = 1,
       .upstream = 0, .first_fqdn = 1, .issuer = pki.s2n_ca.get()},
      {.name = "forward mode: an unknown issuer goes to the URL's upstream, to be completed",
       .cert_ids = {stranger, stranger_2}, .forward_upstream = 1,
       .upstream = 1, .issuer = nullptr},
      {.name = "forward mode: a known and an unknown issuer in one request are unauthorized",
       .cert_ids = {stranger, s2n_rsa}, .forward_upstream = 1, .refused = "mixed_issuers"},
      {.name = "forward mode: a distrusted issuer is unauthorized",
       .cert_ids = {distrusted}, .forward_upstream = 0, .refused = "distrusted_issuer",
       .refusal_routed = true, .upstream = 0, .issuer = pki.distrusted_ca.get()},
  };

  for (const Row& row : rows) {
    const std::string name = row.name;
    CAPTURE(name);
    auto config = pki.config(row.nonce_policy);
    IssuerIndex index(*config);
    FakeSource next;
    next.answerAll(fetched());
    FakeClock clock(test::kT);
    NonceEcho nonce_echo(clock);
    if (row.upstream_ignores_nonces) {
      nonce_echo.answered(config->upstreams[row.upstream].name, /*echoed=*/false);
    }
    PolicySource::Options options = policyOptions(*config);
    options.unknown_issuer = row.unknown_issuer;
    PolicySource policy(index, options, nullptr, next, &nonce_echo);
    Outcome out = ask(policy, row);

    REQUIRE(out.replies == 1);
    REQUIRE(out.lookup.has_value());
    const Lookup* routed = &*out.lookup;
    if (row.refused != nullptr) {
      CHECK(next.calls() == 0);
      REQUIRE_FALSE(out.result->ok());
      CHECK(out.result->error().category == ErrorCategory::Unauthorized);
      CHECK(out.result->error().code == row.refused);
      CHECK((routed->route != nullptr) == row.refusal_routed);
      if (!row.refusal_routed) continue;
    } else {
      REQUIRE(next.calls() == 1);
      CHECK(out.result->ok());
      routed = &next.lookups().front();
      CHECK(routed->query == out.lookup->query);  // the query itself, unchanged
      CHECK(routed->passthrough == row.passthrough);
      CHECK_FALSE(routed->refresh);
    }
    REQUIRE(routed->route != nullptr);
    CHECK(routed->route->discover == row.discover);
    if (row.discover) {
      CHECK(routed->route->issuer == nullptr);
      continue;
    }
    CHECK(routed->route->upstream_index == row.upstream);
    CHECK(routed->route->upstream_name == config->upstreams[row.upstream].name);
    CHECK(routed->route->first_fqdn == row.first_fqdn);
    CHECK(routed->route->issuer.get() == row.issuer);
    CHECK_FALSE(routed->issuer_revoked);
  }
}

TEST_CASE("an issuer the watch found revoked is flagged in the lookup, or refused") {
  Pki pki;
  auto config = pki.config(conf::NoncePolicy::Ignore);
  conf::WatchedCa watched;
  watched.name = "s2n-intermediate";
  watched.cert = pki.s2n_ca;
  watched.parent = pki.le_x3;
  config->watch.intermediates = {watched};
  const Row row{.name = "s2n", .cert_ids = {certId(pki.rsa_leaf, pki.s2n_ca)}};

  for (auto policy_kind : {conf::RevokedIssuerPolicy::Flag, conf::RevokedIssuerPolicy::Refuse}) {
    const bool refuse = policy_kind == conf::RevokedIssuerPolicy::Refuse;
    CAPTURE(refuse);
    config->watch.on_revoked_issuer = policy_kind;
    IssuerIndex index(*config);
    IssuerWatch watch(issuerWatchOptions(*config));
    FakeSource next;
    next.answerAll(fetched());
    PolicySource policy(index, policyOptions(*config), &watch, next);

    // Not revoked (yet): no flag, whatever the policy.
    Outcome before = ask(policy, row);
    REQUIRE(before.replies == 1);
    CHECK(before.result->ok());
    CHECK_FALSE(before.lookup->issuer_revoked);

    watch.record(0, WatchState::Revoked, Revocation{1'700'000'000, 1}, "crl test", "", 0);
    Outcome after = ask(policy, row);
    REQUIRE(after.replies == 1);
    CHECK(after.lookup->issuer_revoked);  // what the front turns into X-OCSP-Proxy-Flags
    REQUIRE(after.lookup->route != nullptr);
    CHECK(after.lookup->route->issuer == pki.s2n_ca);
    if (refuse) {
      REQUIRE_FALSE(after.result->ok());
      CHECK(after.result->error().code == "issuer_revoked");
      CHECK(next.calls() == 1);  // only the lookup before the revocation went down
    } else {
      CHECK(after.result->ok());
      CHECK(next.calls() == 2);
      CHECK(next.lookups().back().issuer_revoked);
    }
  }
}

TEST_CASE("a staged distrust serves, flags and counts before its date and refuses from it on") {
  Pki pki;
  auto config = pki.config(conf::NoncePolicy::Ignore);
  constexpr int64_t kDate = 1803859200;  // 2027-03-01T00:00:00Z
  conf::DistrustSchedule& s = config->distrust.front().schedule;
  s.mode = conf::DistrustStage::Warn;
  s.enforce_from = kDate;
  s.clients.push_back({"m2m", {*parseCidr("127.0.0.2/32").cidr, *parseCidr("2001:db8::/32").cidr},
                       kDate + 86400});
  IssuerIndex index(*config);
  FakeSource next;
  next.answerAll(fetched());
  FakeClock clock(kDate - 1);
  Metrics metrics;
  PolicySource policy(index, policyOptions(*config), nullptr, next, nullptr, clock, &metrics);
  auto counted = [&metrics](const char* stage) {
    return metrics.counter(Metric::DistrustRequests, {"old-ca-incident", stage}).value();
  };
  const Row row{.name = "distrusted", .cert_ids = {certId(pki.rsa_leaf, pki.distrusted_ca)}};
  test::StderrCapture log;

  // One second before the date: served, flagged distrust-pending, an ERROR line.
  Outcome before = ask(policy, row, "127.0.0.1");
  REQUIRE(before.replies == 1);
  CHECK(before.result->ok());
  CHECK(before.lookup->distrust_pending);
  CHECK(next.calls() == 1);
  CHECK(next.lookups().back().distrust_pending);
  CHECK(counted("warn") == 1);
  CHECK(log.count({"level=error", "event=distrust_pending", "distrust=old-ca-incident",
                   "stage=warn", "enforce_from=2027-03-01T00:00:00Z"}) == 1);

  // At the date: refused as distrusted; the group's clients are still served until theirs.
  clock.set(kDate);
  Outcome at = ask(policy, row, "127.0.0.1");
  REQUIRE(at.replies == 1);
  REQUIRE_FALSE(at.result->ok());
  CHECK(at.result->error().code == "distrusted_issuer");
  CHECK(counted("enforce") == 1);
  for (const char* member : {"127.0.0.2", "2001:db8::1"}) {
    CAPTURE(member);
    Outcome group = ask(policy, row, member);
    REQUIRE(group.replies == 1);
    CHECK(group.result->ok());
    CHECK(group.lookup->distrust_pending);
  }
  CHECK(counted("warn") == 3);
  CHECK(next.calls() == 3);

  // At the group's date its clients are refused too.
  clock.set(kDate + 86400);
  Outcome later = ask(policy, row, "127.0.0.2");
  REQUIRE_FALSE(later.result->ok());
  CHECK(later.result->error().code == "distrusted_issuer");
  CHECK(counted("enforce") == 2);
  CHECK(next.calls() == 3);
}

TEST_CASE("a distrust in the log stage serves without a flag and writes a WARN line") {
  Pki pki;
  auto config = pki.config(conf::NoncePolicy::Ignore);
  config->distrust.front().schedule.mode = conf::DistrustStage::Log;
  IssuerIndex index(*config);
  FakeSource next;
  next.answerAll(fetched());
  FakeClock clock(1803859200);
  Metrics metrics;
  PolicySource policy(index, policyOptions(*config), nullptr, next, nullptr, clock, &metrics);
  const Row row{.name = "distrusted", .cert_ids = {certId(pki.rsa_leaf, pki.distrusted_ca)}};
  test::StderrCapture log;
  Outcome out = ask(policy, row);
  REQUIRE(out.replies == 1);
  CHECK(out.result->ok());
  CHECK_FALSE(out.lookup->distrust_pending);
  CHECK(next.calls() == 1);
  CHECK(metrics.counter(Metric::DistrustRequests, {"old-ca-incident", "log"}).value() == 1);
  CHECK(log.count({"level=warn", "event=distrust_pending", "stage=log", "enforce_from=never"}) ==
        1);
}
