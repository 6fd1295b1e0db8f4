// The shipped issuer catalogue (conf/catalogue) with the shipped config: every catalogued CA is
// routable, and every intermediate is routed where its CA says its status is answered.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include "conf/yaml_schema.h"
#include "core/url.h"
#include "tests/unit/test_util.h"
#include "upstream/issuer_index.h"
#include "upstream/known_serials_feed.h"

using namespace ocsp;

namespace {

std::shared_ptr<const conf::Config> shipped() {
  static auto loaded = conf::loadConfig(test::sourcePath("conf/ocsp-proxy.yaml"));
  if (!loaded.ok()) FAIL(loaded.error().detail);
  return *loaded;
}

CertIdInfo certId(OCSP_CERTID* raw) {
  OcspCertIdPtr id(raw);
  REQUIRE(id);
  CertIdInfo info;
  REQUIRE(certIdInfoFrom(id.get(), &info));
  return info;
}

// A CertID that names `issuer` as the issuer of some certificate (serial 1).
CertIdInfo underIssuer(const EVP_MD* md, X509* issuer) {
  Asn1IntegerPtr serial(ASN1_INTEGER_new());
  ASN1_INTEGER_set(serial.get(), 1);
  return certId(OCSP_cert_id_new(md, X509_get_subject_name(issuer),
                                 X509_get0_pubkey_bitstr(issuer), serial.get()));
}

struct Catalogued {
  SharedX509 cert;
  size_t upstream;
};

std::vector<Catalogued> catalogued(const conf::Config& config) {
  std::vector<Catalogued> all;
  for (size_t u = 0; u < config.upstreams.size(); ++u) {
    for (const auto& issuer : config.upstreams[u].issuers) all.push_back({issuer.cert, u});
  }
  return all;
}

// The catalogued certificate that signed `cert`, or null.
X509* parentOf(const std::vector<Catalogued>& all, X509* cert) {
  for (const auto& c : all) {
    if (X509_NAME_cmp(X509_get_subject_name(c.cert.get()), X509_get_issuer_name(cert)) == 0 &&
        X509_verify(cert, X509_get0_pubkey(c.cert.get())) == 1) {
      return c.cert.get();
    }
    ERR_clear_error();
  }
  return nullptr;
}

// The upstream serving the first OCSP host of `cert`'s own AIA, or SIZE_MAX.
size_t ownResponderUpstream(const conf::Config& config, X509* cert) {
  std::unique_ptr<STACK_OF(OPENSSL_STRING), FreeWith<X509_email_free>> urls(X509_get1_ocsp(cert));
  if (!urls || sk_OPENSSL_STRING_num(urls.get()) == 0) return SIZE_MAX;
  auto url = parseHttpUrl(sk_OPENSSL_STRING_value(urls.get(), 0));
  if (!url.ok()) return SIZE_MAX;
  for (size_t u = 0; u < config.upstreams.size(); ++u) {
    for (const auto& f : config.upstreams[u].fqdns) {
      if (conf::sameHost(f, url->host)) return u;
    }
  }
  return SIZE_MAX;
}

const Catalogued* named(const std::vector<Catalogued>& all, const std::string& cn) {
  for (const auto& c : all) {
    if (subjectLine(c.cert.get()).rfind("CN=" + cn + ",", 0) == 0) return &c;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("every catalogued certificate routes a CertID naming it as issuer to its upstream") {
  auto config = shipped();
  IssuerIndex index(*config);
  auto all = catalogued(*config);
  REQUIRE(all.size() > 300);
  for (const auto& c : all) {
    const std::string subject = subjectLine(c.cert.get());
    CAPTURE(subject);
    for (const EVP_MD* md : {EVP_sha1(), EVP_sha256()}) {
      auto route = index.find(underIssuer(md, c.cert.get()));
      REQUIRE(route != nullptr);
      CHECK(route->upstream_index == c.upstream);
    }
  }
}

// Independent real-world data: each CA's AIA says which responder answers for it. A CertID
// names only the issuer, so where the CAs one parent issued name responders of different
// upstreams (DigiCert roots whose China CAs name ocsp.digicert.cn; GlobalSign's cross-
// certificate of GTS Root R1 names ocsp.pki.goog), the parent has one route: the one most of
// them name.
TEST_CASE("an intermediate is routed to the responder its own AIA names, whenever one serves it") {
  auto config = shipped();
  IssuerIndex index(*config);
  auto all = catalogued(*config);
  struct Child {
    X509* cert;
    size_t expected;
  };
  std::map<X509*, std::vector<Child>> by_parent;
  for (const auto& c : all) {
    size_t expected = ownResponderUpstream(*config, c.cert.get());
    X509* parent = parentOf(all, c.cert.get());
    if (expected == SIZE_MAX || parent == nullptr || parent == c.cert.get()) continue;
    by_parent[parent].push_back({c.cert.get(), expected});
  }
  size_t agreed = 0, outvoted = 0;
  std::map<std::string, size_t> per_upstream;
  for (const auto& [parent, children] : by_parent) {
    std::map<size_t, size_t> votes;
    for (const auto& child : children) ++votes[child.expected];
    size_t majority = std::max_element(votes.begin(), votes.end(), [](auto& a, auto& b) {
                        return a.second < b.second;
                      })->first;
    for (const auto& child : children) {
      const std::string subject = subjectLine(child.cert);
      CAPTURE(subject);
      for (const EVP_MD* md : {EVP_sha1(), EVP_sha256()}) {
        auto route = index.find(certId(OCSP_cert_to_id(md, child.cert, parent)));
        REQUIRE(route != nullptr);
        CHECK(config->upstreams[route->upstream_index].name ==
              config->upstreams[votes.size() == 1 ? child.expected : majority].name);
      }
      if (votes.size() == 1) {
        ++agreed;
        ++per_upstream[config->upstreams[child.expected].name];
      } else {
        outvoted += child.expected != majority;
      }
    }
  }
  CHECK(agreed > 150);
  CHECK(outvoted < agreed / 2);
  for (const char* name : {"quovadis", "digicert", "globalsign", "pkioverheid-root",
                           "pkioverheid-services"}) {
    CAPTURE(name);
    CHECK(per_upstream[name] > 0);
  }
  MESSAGE("intermediates routed as their own AIA says: ", agreed, "; outvoted: ", outvoted);
}

TEST_CASE("named intermediates of each hierarchy route where their CA answers") {
  auto config = shipped();
  IssuerIndex index(*config);
  auto all = catalogued(*config);
  struct Row {
    const char* cn;
    const char* upstream;         // where CertIDs it issued go
    const char* parent_upstream;  // where a CertID for itself goes
  };
  const Row rows[] = {
      // CRL only, like its issuer: both follow the Staat der Nederlanden G3 root.
      {"UZI-register Zorgverlener CA G3", "pkioverheid-root", "pkioverheid-root"},
      {"UZI-register Medewerker niet op naam CA G3", "pkioverheid-services",
       "pkioverheid-services"},
      {"Staat der Nederlanden Organisatie Services CA - G3", "pkioverheid-services",
       "pkioverheid-root"},
      {"QuoVadis EU Issuing Certification Authority G4", "quovadis", "quovadis"},
      {"DigiCert Global G2 TLS RSA SHA256 2020 CA1", "digicert", "digicert"},
      {"GlobalSign RSA OV SSL CA 2018", "globalsign", "globalsign"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.cn);
    const Catalogued* c = named(all, row.cn);
    REQUIRE(c != nullptr);
    auto own = index.find(underIssuer(EVP_sha256(), c->cert.get()));
    REQUIRE(own != nullptr);
    CHECK(own->upstream_name == row.upstream);
    X509* parent = parentOf(all, c->cert.get());
    REQUIRE(parent != nullptr);
    auto itself = index.find(certId(OCSP_cert_to_id(EVP_sha1(), c->cert.get(), parent)));
    REQUIRE(itself != nullptr);
    CHECK(itself->upstream_name == row.parent_upstream);
  }
}

// What lets the CRL bridge answer `good` about an intermediate (Java asks about it with its
// root as the CertID's issuer): the serials known to be issued (upstream/known_serials_feed.h).
TEST_CASE("every catalogued CA another catalogued CA issued is a serial known to be issued") {
  auto config = shipped();
  IssuerIndex index(*config);
  auto all = catalogued(*config);
  KnownSerials known;
  auto loaded = loadKnownSerials(*config, index, nullptr, {}, known);
  REQUIRE(loaded.ok());
  size_t children = 0;
  for (const auto& c : all) {
    X509* parent = parentOf(all, c.cert.get());
    if (parent == nullptr || X509_cmp(parent, c.cert.get()) == 0) continue;
    ++children;
    const std::string subject = subjectLine(c.cert.get());
    CAPTURE(subject);
    CertIdInfo id = certId(OCSP_cert_to_id(EVP_sha1(), c.cert.get(), parent));
    CHECK(known.contains(id.issuer_key_hash, id.serial));
  }
  CHECK(children > 200);
  CHECK(loaded->config_cas == children);
  MESSAGE("catalogue: " << all.size() << " certificates, " << loaded->config_cas
                        << " known as issued by another, in " << loaded->took_ms << " ms");
}
