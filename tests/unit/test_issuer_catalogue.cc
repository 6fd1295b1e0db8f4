// The issuer catalogue (pki/issuer_catalogue.h): what `ocsp-proxy issuers import` keeps and
// skips, and the routing rule, over the real cfssl_trust intermediates bundle shipped in
// conf/catalogue/sources.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>

#include "pki/cert_conformance.h"
#include "pki/issuer_catalogue.h"
#include "tests/unit/test_util.h"
#include "tools/catalogue_files.h"
#include "tools/log_record.h"

using namespace ocsp;

namespace {

const int64_t kAt = *report::parseTime("2026-12-03", true) / 1000;

std::vector<CatalogueInput> bundle() {
  std::string error;
  auto inputs = tools::readBundle(
      test::sourcePath("conf/catalogue/sources/cfssl-trust/int-bundle.crt"), &error);
  REQUIRE_MESSAGE(inputs.has_value(), error);
  REQUIRE(inputs->size() == 1263);
  return *inputs;
}

SharedX509 pkioverheidRoot() {
  std::string error;
  auto inputs = tools::readBundle(
      test::sourcePath("conf/catalogue/sources/mozilla-roots/Staat_der_Nederlanden_Root_CA_G3.pem"),
      &error);
  REQUIRE(inputs.has_value());
  REQUIRE(inputs->size() == 1);
  const auto* p = reinterpret_cast<const unsigned char*>((*inputs)[0].der.data());
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>((*inputs)[0].der.size())));
  REQUIRE(cert);
  return shareX509(std::move(cert));
}

const std::vector<CatalogueUpstream> kPkioverheid = {
    {"pkioverheid-root", {"rootocsp-g3.pkioverheid.nl"}},
    {"pkioverheid-services", {"domorganisatieservicesocsp-g3.pkioverheid.nl"}},
};

const KeptIssuer* kept(const Catalogue& c, std::string_view cn) {
  const std::string needle = "CN=" + std::string(cn) + ",";
  for (const auto& k : c.kept) {
    if (k.subject.rfind(needle, 0) == 0) return &k;
  }
  return nullptr;
}

const SkippedInput* skipped(const Catalogue& c, std::string_view origin_suffix) {
  for (const auto& s : c.skipped) {
    if (s.origin.size() >= origin_suffix.size() &&
        s.origin.compare(s.origin.size() - origin_suffix.size(), origin_suffix.size(),
                         origin_suffix) == 0) {
      return &s;
    }
  }
  return nullptr;
}

Catalogue pkioverheidCatalogue(const std::vector<CatalogueInput>& inputs,
                               size_t root_upstream = 0) {
  return buildCatalogue(kPkioverheid, {{pkioverheidRoot(), "root.pem", root_upstream}}, inputs,
                        kAt);
}

}  // namespace

TEST_CASE("every input gets exactly one line: kept or skipped with its reason") {
  auto inputs = bundle();
  Catalogue c = pkioverheidCatalogue(inputs);
  CHECK(c.kept.size() + c.skipped.size() == inputs.size() + 1);  // + the root
  // The PKIoverheid G3 hierarchy, and nothing else, chains to the one configured root.
  CHECK(c.kept.size() == 18);
  for (const auto& k : c.kept) {
    CAPTURE(k.subject);
    CHECK(k.subject.find("C=NL") != std::string::npos);
  }
  // The bundle's QuoVadis, DigiCert and GlobalSign CAs chain to roots this config lacks.
  const KeptIssuer* quovadis_pki = kept(c, "QuoVadis PKIoverheid Organisatie Server CA - G3");
  REQUIRE(quovadis_pki != nullptr);
  const SkippedInput* foreign = skipped(c, "#1250");  // SSL.com under Comodo AAA
  REQUIRE(foreign != nullptr);
  CHECK(foreign->reason == SkipReason::NoRoot);
  CHECK(foreign->detail ==
        "no kept CA or configured root signed it (issuer CN=AAA Certificate Services,"
        "O=Comodo CA Limited,L=Salford,ST=Greater Manchester,C=GB)");
}

TEST_CASE("certificates strict parsers refuse are named, and none stops the import") {
  Catalogue c = pkioverheidCatalogue(bundle());
  struct Row {
    const char* origin;
    const char* note;
  };
  const Row rows[] = {
      {"#1", "certificatePolicies userNotice explicitText is a VISIBLESTRING holding "
             "characters that type does not allow (X.680 §41)"},
      {"#2", "serial number is zero (RFC 5280 §4.1.2.2: a positive integer)"},
      {"#27", "serial number is zero (RFC 5280 §4.1.2.2: a positive integer)"},
      {"#531", "extension extendedKeyUsage writes critical FALSE, its DEFAULT (not DER, X.690 "
               "§11.5)"},
      {"#532", "extension extendedKeyUsage writes critical FALSE, its DEFAULT (not DER, X.690 "
               "§11.5)"},
      {"#533", "extension extendedKeyUsage writes critical FALSE, its DEFAULT (not DER, X.690 "
               "§11.5)"},
  };
  size_t noted = 0;
  for (const auto& s : c.skipped) noted += !s.notes.empty();
  CHECK(noted == std::size(rows));
  for (const auto& row : rows) {
    CAPTURE(row.origin);
    const SkippedInput* s = skipped(c, row.origin);
    REQUIRE(s != nullptr);
    CHECK(s->reason == SkipReason::NoRoot);  // they chain to roots this config lacks
    CHECK(s->notes == std::vector<std::string>{row.note});
  }
}

TEST_CASE("skip reasons: unparseable, not a CA, expired, duplicate") {
  auto inputs = bundle();
  std::vector<CatalogueInput> some = {
      CatalogueInput{"", "broken.pem#1", "PEM block is not valid base64"},
      CatalogueInput{std::string("\x30\x03\x02\x01\x01", 5), "short.der", ""},
      inputs[268],  // #269 CloudFlare Origin Certificate: basicConstraints cA false
      inputs[9],    // #10 Starfield Secure Certification Authority: notAfter 2026-11-16
  };
  // The UZI-register Zorgverlener CA G3: the bundle has it twice (two certificates, one
  // subject and key), and once more byte for byte under another name.
  for (const auto& in : inputs) {
    if (in.der.find("UZI-register Zorgverlener CA G3") != std::string::npos) some.push_back(in);
  }
  REQUIRE(some.size() == 6);
  some.push_back(CatalogueInput{some[4].der, "copy.pem#1", ""});
  // ... and its issuer, without which it would chain to nothing.
  for (const auto& in : inputs) {
    if (in.der.find("Staat der Nederlanden Organisatie Persoon CA - G3") != std::string::npos &&
        in.der.find("UZI") == std::string::npos && in.der.find("PKIoverheid") == std::string::npos) {
      some.push_back(in);
    }
  }
  Catalogue c = pkioverheidCatalogue(some);
  REQUIRE(c.skipped.size() == 6);
  CHECK(c.skipped[0].reason == SkipReason::Unparseable);
  CHECK(c.skipped[0].detail == "PEM block is not valid base64");
  CHECK(c.skipped[1].reason == SkipReason::Unparseable);
  CHECK(c.skipped[1].detail.rfind("not an X.509 certificate", 0) == 0);
  CHECK(c.skipped[2].reason == SkipReason::NotCa);
  CHECK(c.skipped[2].subject.find("CN=CloudFlare Origin Certificate") == 0);
  CHECK(c.skipped[3].reason == SkipReason::Expired);
  CHECK(c.skipped[3].detail == "notAfter 2026-11-16T01:15:40Z");
  CHECK(c.skipped[4].reason == SkipReason::Duplicate);
  CHECK(c.skipped[4].origin == "copy.pem#1");
  CHECK(c.skipped[4].detail == "the same certificate as " + some[4].origin);
  CHECK(c.skipped[5].reason == SkipReason::Duplicate);
  CHECK(c.skipped[5].origin == some[5].origin);
  CHECK(c.skipped[5].detail == "same subject and key as " + some[4].origin +
                                   " (a re-issue or cross-certificate: one issuer to a CertID)");
  REQUIRE(c.kept.size() == 3);  // root, Organisatie Persoon CA, Zorgverlener CA
  CHECK(kept(c, "UZI-register Zorgverlener CA G3") != nullptr);

  // A day after its notAfter, the root is expired and nothing chains.
  Catalogue later = buildCatalogue(kPkioverheid, {{pkioverheidRoot(), "root.pem", 0}}, some,
                                   *report::parseTime("2028-11-14", true) / 1000);
  CHECK(later.kept.empty());
  CHECK(later.skipped[0].reason == SkipReason::Expired);
  CHECK(later.skipped[0].origin == "root.pem");
}

TEST_CASE("routing rule: issued CAs' OCSP host, else own AIA OCSP host, else the root's") {
  Catalogue c = pkioverheidCatalogue(bundle());
  struct Row {
    const char* cn;
    const char* upstream;
    const char* host;
    const char* why;
  };
  const Row rows[] = {
      // Rule 1 for a root: 1 of its 4 domain CAs names an OCSP host at all.
      {"Staat der Nederlanden Root CA - G3", "pkioverheid-root", "rootocsp-g3.pkioverheid.nl",
       "the CAs it issued name rootocsp-g3.pkioverheid.nl (1 of 4)"},
      // Rule 1: every CA it issued names the domain responder.
      {"Staat der Nederlanden Organisatie Services CA - G3", "pkioverheid-services",
       "domorganisatieservicesocsp-g3.pkioverheid.nl",
       "the CAs it issued name domorganisatieservicesocsp-g3.pkioverheid.nl (6 of 6)"},
      // Rule 2: nothing it issued is in the bundle; its own AIA names its issuer's responder.
      {"UZI-register Medewerker niet op naam CA G3", "pkioverheid-services",
       "domorganisatieservicesocsp-g3.pkioverheid.nl",
       "its own AIA names domorganisatieservicesocsp-g3.pkioverheid.nl (no CA it issued in the "
       "bundles)"},
      // Rule 3: CRL only, it and its issuer.
      {"UZI-register Zorgverlener CA G3", "pkioverheid-root", "",
       "CRL only: follows its issuer CN=Staat der Nederlanden Organisatie Persoon CA - G3,"
       "O=Staat der Nederlanden,C=NL"},
      {"Staat der Nederlanden Organisatie Persoon CA - G3", "pkioverheid-root", "",
       "CRL only: follows its issuer CN=Staat der Nederlanden Root CA - G3,O=Staat der "
       "Nederlanden,C=NL"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.cn);
    const KeptIssuer* k = kept(c, row.cn);
    REQUIRE(k != nullptr);
    CHECK(kPkioverheid[k->upstream].name == row.upstream);
    CHECK(k->routed_host == row.host);
    CHECK(k->why == row.why);
  }
  CHECK(c.unserved_ocsp_hosts.empty());
  CHECK(c.crl_hosts == std::set<std::string>{"crl.pkioverheid.nl"});
  CHECK(c.ca_issuers_hosts == std::set<std::string>{"cert.pkioverheid.nl"});
}

TEST_CASE("an OCSP host no upstream serves is listed and does not decide a route") {
  const std::vector<CatalogueUpstream> root_only = {{"pkioverheid-root",
                                                     {"rootocsp-g3.pkioverheid.nl"}}};
  Catalogue c = buildCatalogue(root_only, {{pkioverheidRoot(), "root.pem", 0}}, bundle(), kAt);
  // Six kept CAs name the Organisatie Services responder in their own AIA.
  CHECK(c.unserved_ocsp_hosts ==
        std::map<std::string, size_t>{{"domorganisatieservicesocsp-g3.pkioverheid.nl", 6}});
  const KeptIssuer* services = kept(c, "Staat der Nederlanden Organisatie Services CA - G3");
  REQUIRE(services != nullptr);
  CHECK(services->upstream == 0);
  CHECK(services->why == "its own AIA names rootocsp-g3.pkioverheid.nl (no CA it issued names a "
                         "served OCSP host)");
}

TEST_CASE("a root given only as a bundle, with nothing to route it by, is unroutable") {
  auto inputs = bundle();
  std::vector<CatalogueInput> persoon;  // the CRL-only Organisatie Persoon domain CA alone
  for (const auto& in : inputs) {
    if (in.der.find("Staat der Nederlanden Organisatie Persoon CA - G3") != std::string::npos &&
        in.der.find("UZI") == std::string::npos && in.der.find("PKIoverheid") == std::string::npos) {
      persoon.push_back(in);
      break;
    }
  }
  REQUIRE(persoon.size() == 1);
  Catalogue bound = pkioverheidCatalogue(persoon, 0);
  CHECK(bound.kept.size() == 2);
  CHECK(bound.kept[0].why ==
        "root configured under this upstream (no CA it issued names a served OCSP host)");

  Catalogue unbound = pkioverheidCatalogue(persoon, kNoUpstream);
  CHECK(unbound.kept.empty());
  REQUIRE(unbound.skipped.size() == 2);
  for (const auto& s : unbound.skipped) CHECK(s.reason == SkipReason::Unroutable);
}

TEST_CASE("catalogue file names are stable, readable and unique") {
  Catalogue c = pkioverheidCatalogue(bundle());
  const KeptIssuer* uzi = kept(c, "UZI-register Zorgverlener CA G3");
  REQUIRE(uzi != nullptr);
  CHECK(tools::catalogueFileName(*uzi) == "UZI-register_Zorgverlener_CA_G3_3ead4f72.pem");
  std::set<std::string> names;
  for (const auto& k : c.kept) names.insert(tools::catalogueFileName(k));
  CHECK(names.size() == c.kept.size());
}
