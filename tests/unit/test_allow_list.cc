// Which hosts the forward proxy may reach and AIA may be fetched from (docs/ARCHITECTURE.md §1):
// the allow-list built from the config, never an open proxy.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "upstream/allow_list.h"

using namespace ocsp;

namespace {

conf::Config sampleConfig() {
  conf::Config config;
  conf::Upstream digicert;
  digicert.name = "digicert";
  digicert.fqdns = {"ocsp.digicert.com", "ocsp2.digicert.com"};
  digicert.port = 80;
  conf::Upstream internal;
  internal.name = "internal";
  internal.fqdns = {"ocsp.internal.example"};
  internal.port = 8080;
  config.upstreams = {digicert, internal};
  config.crl.fqdns = {{"crl3.digicert.com", 80}, {"crl.internal.example", 8081}};
  config.crl.urls = {"http://crl.internal.example:8081/webdist?cmd=crl&issuer=CN%3DCA"};
  config.forward.aia_fqdns = {{"cacerts.digicert.com", 80}};
  return config;
}

HttpUrl url(const char* text) {
  auto u = parseHttpUrl(text);
  REQUIRE(u.ok());
  return *u;
}

}  // namespace

TEST_CASE("allowed OCSP and CRL URLs are classified with their upstream and FQDN") {
  conf::Config config = sampleConfig();
  AllowList allow(config);
  auto second = allow.classify(url("http://OCSP2.digicert.com/MFEw"));
  REQUIRE(second.ok());
  CHECK(second->kind == TargetKind::Ocsp);
  CHECK(second->upstream_index == 0);
  CHECK(second->fqdn_index == 1);
  auto internal = allow.classify(url("http://ocsp.internal.example:8080/"));
  REQUIRE(internal.ok());
  CHECK(internal->upstream_index == 1);
  auto crl = allow.classify(url("http://crl3.digicert.com/ca.crl"));
  REQUIRE(crl.ok());
  CHECK(crl->kind == TargetKind::Crl);
  CHECK(allow.classify(url("http://crl.internal.example:8081/x.crl"))->kind == TargetKind::Crl);
  // A CRL URL with a query, listed in crl.urls (any spelling of its host).
  auto listed =
      allow.classify(url("http://CRL.internal.example:8081/webdist?cmd=crl&issuer=CN%3DCA"));
  REQUIRE(listed.ok());
  CHECK(listed->kind == TargetKind::Crl);
  // OCSP GET URLs keep their query: not a CRL.
  CHECK(allow.classify(url("http://ocsp.digicert.com/MFEw?x=1")).ok());
}

TEST_CASE("everything else is refused with the reason") {
  conf::Config config = sampleConfig();
  AllowList allow(config);
  struct Row {
    const char* text;
    const char* code;
  };
  const Row rows[] = {
      {"http://example.com/", "not_allowed"},
      {"http://cacerts.digicert.com:8080/ca.crt", "port"},
      {"http://ocsp.digicert.com.evil.example/", "not_allowed"},
      {"http://93.184.216.34/", "ip_literal"},
      {"http://[2001:db8::1]/", "ip_literal"},
      {"http://user@ocsp.digicert.com/", "userinfo"},
      {"http://ocsp.digicert.com:8080/", "port"},
      {"http://ocsp.internal.example/", "port"},
      {"http://crl.internal.example/x.crl", "port"},
      {"https://ocsp.digicert.com/", "scheme"},
      // Query variants of a CRL URL would each be a download of its own.
      {"http://crl3.digicert.com/ca.crl?v=1", "crl_query"},
      {"http://crl3.digicert.com/ca.crl?", "crl_query"},
      {"http://crl.internal.example:8081/webdist?cmd=crl&issuer=CN%3DOther", "crl_query"},
  };
  for (const Row& r : rows) {
    CAPTURE(r.text);
    auto target = allow.classify(url(r.text));
    REQUIRE_FALSE(target.ok());
    CHECK(target.error().code == r.code);
    CHECK(target.error().category == ErrorCategory::Unauthorized);
  }
}

TEST_CASE("a forward GET for an AIA host is a caIssuers download, whatever its path") {
  conf::Config config = sampleConfig();
  AllowList allow(config);
  for (const char* text :
       {"http://cacerts.digicert.com/DigiCertGlobalG2TLSRSASHA2562020CA1-1.crt",
        "http://CACERTS.digicert.com:80/bundle.p7c", "http://cacerts.digicert.com/",
        "http://cacerts.digicert.com/webdist?cmd=cacert&issuer=CN%3DCA",
        "http://cacerts.digicert.com/ca.crl"}) {
    CAPTURE(text);
    auto target = allow.classify(url(text));
    REQUIRE(target.ok());
    CHECK(target->kind == TargetKind::Aia);
  }
}

TEST_CASE("a host on the AIA list and another list is decided by the URL's path") {
  conf::Config config = sampleConfig();
  config.forward.aia_fqdns.push_back({"crl3.digicert.com", 80});
  config.forward.aia_fqdns.push_back({"ocsp.digicert.com", 80});
  AllowList allow(config);
  struct Row {
    const char* text;
    TargetKind kind;
  };
  const Row rows[] = {
      {"http://crl3.digicert.com/ca.crl", TargetKind::Crl},
      {"http://crl3.digicert.com/ca", TargetKind::Crl},
      {"http://crl3.digicert.com/ca.crt", TargetKind::Aia},
      {"http://crl3.digicert.com/CA.CER", TargetKind::Aia},
      {"http://crl3.digicert.com/ca.der", TargetKind::Aia},
      {"http://crl3.digicert.com/ca.p7c", TargetKind::Aia},
      {"http://crl3.digicert.com/ca.p7b", TargetKind::Aia},
      {"http://crl3.digicert.com/ca.pem", TargetKind::Aia},
      {"http://crl3.digicert.com/ca.crt?x=1", TargetKind::Aia},  // no crl_query for certificates
      {"http://crl3.digicert.com/certs.d/ca", TargetKind::Crl},  // a dot in a folder, not the name
      {"http://ocsp.digicert.com/MFEw", TargetKind::Ocsp},
      {"http://ocsp.digicert.com/", TargetKind::Ocsp},
      {"http://ocsp.digicert.com/issuer.crt", TargetKind::Aia},
  };
  for (const Row& r : rows) {
    CAPTURE(r.text);
    auto target = allow.classify(url(r.text));
    REQUIRE(target.ok());
    CHECK(target->kind == r.kind);
  }
  // The CRL rules still hold for what is a CRL.
  CHECK(allow.classify(url("http://crl3.digicert.com/ca.crl?v=1")).error().code == "crl_query");
}

TEST_CASE("AIA certificates may come from AIA, upstream and CRL hosts only") {
  conf::Config config = sampleConfig();
  AllowList allow(config);
  CHECK(allow.aiaAllowed(url("http://cacerts.digicert.com/DigiCertCA.crt")));
  CHECK(allow.aiaAllowed(url("http://crl3.digicert.com/ca.crt")));
  CHECK(allow.aiaAllowed(url("http://ocsp.digicert.com/ca.crt")));
  CHECK_FALSE(allow.aiaAllowed(url("http://cacerts.digicert.com:8080/ca.crt")));
  CHECK_FALSE(allow.aiaAllowed(url("https://cacerts.digicert.com/ca.crt")));
  CHECK_FALSE(allow.aiaAllowed(url("http://x@cacerts.digicert.com/ca.crt")));
  CHECK_FALSE(allow.aiaAllowed(url("http://203.0.113.9/ca.crt")));
  CHECK_FALSE(allow.aiaAllowed(url("http://elsewhere.example/ca.crt")));
}

TEST_CASE("the firewall list names every host and port with its purpose") {
  conf::Config config = sampleConfig();
  AllowList allow(config);
  auto all = allow.everything();
  CHECK(all.size() == 6);
  CHECK(all.find("ocsp2.digicert.com:80")->second == "ocsp upstream digicert");
  CHECK(all.find("ocsp.internal.example:8080")->second == "ocsp upstream internal");
  CHECK(all.find("crl.internal.example:8081")->second == "crl");
  CHECK(all.find("cacerts.digicert.com:80")->second == "aia");
}
