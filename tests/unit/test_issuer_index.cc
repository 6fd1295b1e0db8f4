// Routing a CertID to the upstream whose configured issuer matches (RFC 6960 §4.1.1 hashes).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "tests/unit/test_pki.h"
#include "tests/unit/test_util.h"
#include "upstream/issuer_index.h"

using namespace ocsp;

namespace {

SharedX509 cert(const std::string& rel) { return shareX509(test::loadCert(rel)); }

CertIdInfo certId(const EVP_MD* md, const SharedX509& subject, const SharedX509& issuer) {
  OcspCertIdPtr id(OCSP_cert_to_id(md, subject.get(), issuer.get()));
  REQUIRE(id);
  CertIdInfo info;
  REQUIRE(certIdInfoFrom(id.get(), &info));
  return info;
}

conf::Upstream upstream(const std::string& name, std::vector<SharedX509> issuers) {
  conf::Upstream u;
  u.name = name;
  u.fqdns = {name + ".test"};
  for (auto& c : issuers) u.issuers.push_back(conf::IssuerCert{name + ".pem", std::move(c)});
  return u;
}

}  // namespace

TEST_CASE("a CertID is routed to the upstream of its issuer under every hash algorithm") {
  SharedX509 s2n_ca = cert("aws-lc-ocsp/ca_cert.pem");
  SharedX509 le_x3 = cert("pyca-cryptography-vectors/certs/letsencryptx3.pem");
  SharedX509 leaf = cert("aws-lc-ocsp/rsa_cert.pem");
  conf::Config config;
  config.upstreams = {upstream("letsencrypt", {le_x3}), upstream("s2n", {s2n_ca})};
  IssuerIndex index(config);
  CHECK(index.issuerCount() == 2);

  for (const EVP_MD* md : {EVP_sha1(), EVP_sha256(), EVP_sha384(), EVP_sha512()}) {
    CAPTURE(EVP_MD_get0_name(md));
    auto route = index.find(certId(md, leaf, s2n_ca));
    REQUIRE(route != nullptr);
    CHECK(route->upstream_index == 1);
    CHECK(route->upstream_name == "s2n");
    CHECK(route->issuer == s2n_ca);
  }
}

TEST_CASE("a CertID matches only with its algorithm, name hash and key hash together") {
  SharedX509 s2n_ca = cert("aws-lc-ocsp/ca_cert.pem");
  SharedX509 leaf = cert("aws-lc-ocsp/rsa_cert.pem");
  conf::Config config;
  config.upstreams = {upstream("s2n", {s2n_ca})};
  IssuerIndex index(config);
  const CertIdInfo good = certId(EVP_sha1(), leaf, s2n_ca);
  REQUIRE(index.find(good) != nullptr);

  CertIdInfo other_name = good;
  other_name.issuer_name_hash[0] ^= 1;
  CHECK(index.find(other_name) == nullptr);

  CertIdInfo other_key = good;
  other_key.issuer_key_hash[0] ^= 1;
  CHECK(index.find(other_key) == nullptr);

  CertIdInfo other_algorithm = good;  // SHA-1 hashes labelled as another 20-byte digest
  other_algorithm.hash_nid = NID_ripemd160;
  CHECK(index.find(other_algorithm) == nullptr);
}

TEST_CASE("a CertID of an issuer nobody configured has no route") {
  conf::Config config;
  config.upstreams = {
      upstream("letsencrypt", {cert("pyca-cryptography-vectors/certs/letsencryptx3.pem")})};
  IssuerIndex index(config);
  SharedX509 s2n_ca = cert("aws-lc-ocsp/ca_cert.pem");
  CHECK(index.find(certId(EVP_sha256(), cert("aws-lc-ocsp/rsa_cert.pem"), s2n_ca)) == nullptr);
}

TEST_CASE("an issuer learned at run time routes like a configured one, once") {
  conf::Config config;
  SharedX509 le_x3 = cert("pyca-cryptography-vectors/certs/letsencryptx3.pem");
  config.upstreams = {upstream("letsencrypt", {le_x3}), upstream("s2n", {})};
  IssuerIndex index(config);
  SharedX509 s2n_ca = cert("aws-lc-ocsp/ca_cert.pem");
  const CertIdInfo id = certId(EVP_sha256(), cert("aws-lc-ocsp/rsa_cert.pem"), s2n_ca);
  REQUIRE(index.find(id) == nullptr);
  CHECK(index.allIssuers().size() == 1);

  auto learned = index.learn(s2n_ca, 1, "s2n");
  auto again = index.learn(cert("aws-lc-ocsp/ca_cert.pem"), 0, "letsencrypt");
  CHECK(again == learned);  // the same certificate keeps its first route
  CHECK(index.learnedCount() == 1);
  auto route = index.find(id);
  REQUIRE(route != nullptr);
  CHECK(route->upstream_index == 1);
  CHECK(route->issuer == s2n_ca);
  CHECK(index.find(certId(EVP_sha1(), cert("aws-lc-ocsp/rsa_cert.pem"), s2n_ca)) == route);
  CHECK(index.allIssuers().size() == 2);
  CHECK(index.issuerCount() == 1);  // configured ones only
}
