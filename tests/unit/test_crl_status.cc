#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
// What a validated CRL and its delta say about a serial (pki/crl_status.h), and what
// parseAndValidateCrl reads for it (pki/crl.h, pki/crl_extensions.h): real CRLs signed by CAs
// of the test PKI.
#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

#include "core/ossl.h"
#include "pki/crl.h"
#include "pki/crl_status.h"
#include "tests/unit/test_crls.h"
#include "tests/unit/test_pki.h"

namespace ocsp {
namespace {

using test::bytes;
using test::CrlSpec;
using test::EntrySpec;
using test::Identity;
using test::issue;
using test::kDay;
using test::kT;
using test::makeCrl;

constexpr int kKeyCompromise = 1;
constexpr int kSuperseded = 4;
constexpr int kCertificateHold = 6;
constexpr int kRemoveFromCrl = 8;

// Validated as the CRL service does, with `ca` as the configured issuer; `ca` null: no issuer.
ParsedCrl parsed(const std::string& der, const Identity* ca) {
  std::vector<SharedX509> candidates;
  if (ca != nullptr) {
    REQUIRE(X509_up_ref(ca->cert.get()) == 1);
    candidates.push_back(shareX509(X509Ptr(ca->cert.get())));
  }
  auto r = parseAndValidateCrl(CrlCheckInput{der, &candidates, nullptr, kT, 300});
  REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().code + ": " + r.error().detail));
  return std::move(*r);
}

std::string codeOf(const Status& s) { return s.ok() ? "ok" : s.error().code; }

// SHA-1 of the public key's BIT STRING contents, computed apart from the code under test.
std::string keySha1(const Identity& id) {
  const ASN1_BIT_STRING* key = X509_get0_pubkey_bitstr(id.cert.get());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  REQUIRE(EVP_Digest(ASN1_STRING_get0_data(key), static_cast<size_t>(ASN1_STRING_length(key)),
                     digest, &len, EVP_sha1(), nullptr) == 1);
  return std::string(reinterpret_cast<const char*>(digest), len);
}

CrlSpec baseSpec(long number) {
  CrlSpec spec;
  spec.number = number;
  spec.freshest = {"http://crl.test/delta.crl"};
  return spec;
}

CrlSpec deltaSpec(long number, long base_number) {
  CrlSpec spec;
  spec.number = number;
  spec.delta_base = base_number;
  return spec;
}

struct Expected {
  const char* serial_hex;
  bool revoked;
  int reason;  // when revoked
};

void checkListings(const ParsedCrl& base, const ParsedCrl* delta,
                   const std::vector<Expected>& rows) {
  for (const Expected& row : rows) {
    CAPTURE(row.serial_hex);
    CrlListing listing = crlListing(base, delta, bytes(row.serial_hex));
    CHECK(listing.revoked == row.revoked);
    if (row.revoked) CHECK(listing.revocation.reason == row.reason);
  }
}

// ---------------------------------------------------------------------------------------------
// The fields parseAndValidateCrl fills for deltas

TEST_CASE("a complete CRL names its Freshest CRL's http URIs, its issuer DER and signer key") {
  Identity ca = issue({.cn = "Delta CA", .ca = true}, nullptr);
  CrlSpec spec = baseSpec(0x1234);
  spec.freshest = {"http://crl.test/a-delta.crl", "ldap://ldap.test/cn=Delta%20CA",
                   "HTTP://crl.test/b-delta.crl", "https://crl.test/c-delta.crl"};
  ParsedCrl base = parsed(makeCrl(ca, {{.serial_hex = "01"}}, spec), &ca);
  CHECK_FALSE(base.delta);
  CHECK(base.crl_number == "1234");
  CHECK(base.base_crl_number.empty());
  CHECK(base.freshest_urls ==
        std::vector<std::string>{"http://crl.test/a-delta.crl", "HTTP://crl.test/b-delta.crl"});
  CHECK_FALSE(base.partial_scope);
  CHECK(base.issuer_der == toDer(X509_get_subject_name(ca.cert.get()), i2d_X509_NAME));
  CHECK(base.signature_checked);
  CHECK(base.signer_key_sha1.size() == 20);
  CHECK(base.signer_key_sha1 == keySha1(ca));

  // Without a known issuer nothing verified the signature: no signer key.
  ParsedCrl unchecked = parsed(makeCrl(ca, {{.serial_hex = "01"}}, spec), nullptr);
  CHECK_FALSE(unchecked.signature_checked);
  CHECK(unchecked.signer_key_sha1.empty());
  CHECK(unchecked.issuer_der == base.issuer_der);
}

TEST_CASE("a delta CRL validates and reports its BaseCRLNumber and its removeFromCRL entries") {
  Identity ca = issue({.cn = "Delta CA", .ca = true}, nullptr);
  ParsedCrl delta = parsed(makeCrl(ca,
                                   {{.serial_hex = "02", .reason = kRemoveFromCrl},
                                    {.serial_hex = "03", .reason = kKeyCompromise}},
                                   deltaSpec(0x0101, 0xff)),
                           &ca);
  CHECK(delta.delta);
  CHECK(delta.crl_number == "0101");
  CHECK(delta.base_crl_number == "ff");
  CHECK(delta.freshest_urls.empty());
  CHECK(delta.signature_checked);
  REQUIRE(delta.revoked.size() == 2);
  auto removed = delta.revoked.find(bytes("02"));
  REQUIRE(removed.has_value());
  CHECK(removed->reason == kRemoveFromCrl);
}

TEST_CASE("an issuingDistributionPoint that narrows the scope makes the CRL partial") {
  Identity ca = issue({.cn = "Scope CA", .ca = true}, nullptr);
  struct Row {
    const char* idp;
    bool partial;
  };
  const Row rows[] = {
      {"", false},
      {"critical,fullname:URI:http://crl.test/part1.crl", false},
      {"critical,onlyuser:TRUE", true},
      {"critical,onlyCA:TRUE", true},
      {"critical,onlyAA:TRUE", true},
      {"critical,onlysomereasons:keyCompromise", true},
      {"critical,indirectCRL:TRUE", true},
  };
  for (const Row& row : rows) {
    CAPTURE(row.idp);
    CrlSpec spec;
    spec.idp = row.idp;
    CHECK(parsed(makeCrl(ca, {{.serial_hex = "01"}}, spec), &ca).partial_scope == row.partial);
  }
}

// ---------------------------------------------------------------------------------------------
// Merging a base with its delta

TEST_CASE("a delta adds revocations, un-revokes a hold with removeFromCRL and wins over the base") {
  Identity ca = issue({.cn = "Delta CA", .ca = true}, nullptr);
  ParsedCrl base = parsed(makeCrl(ca,
                                  {{.serial_hex = "01", .reason = kKeyCompromise},
                                   {.serial_hex = "02", .reason = kCertificateHold},
                                   {.serial_hex = "03", .reason = kCertificateHold}},
                                  baseSpec(10)),
                          &ca);
  ParsedCrl delta = parsed(makeCrl(ca,
                                   {{.serial_hex = "02", .reason = kRemoveFromCrl},
                                    {.serial_hex = "03", .reason = kKeyCompromise},
                                    {.serial_hex = "04", .reason = kSuperseded}},
                                   deltaSpec(11, 10)),
                           &ca);
  REQUIRE(codeOf(checkDeltaFor(base, delta)) == "ok");

  checkListings(base, &delta,
                {{"01", true, kKeyCompromise},   // only in the base
                 {"02", false, 0},               // the hold was lifted
                 {"03", true, kKeyCompromise},   // the delta's reason, not the base's hold
                 {"04", true, kSuperseded},      // revoked since the base
                 {"05", false, 0}});
  CHECK(crlListing(base, &delta, bytes("04")).revocation.time == kT - 10 * kDay);
  // The base alone: as published before the delta.
  checkListings(base, nullptr,
                {{"01", true, kKeyCompromise},
                 {"02", true, kCertificateHold},
                 {"03", true, kCertificateHold},
                 {"04", false, 0}});
}

TEST_CASE("removeFromCRL in a complete CRL is ignored: the serial is not listed") {
  Identity ca = issue({.cn = "Delta CA", .ca = true}, nullptr);
  ParsedCrl base = parsed(makeCrl(ca,
                                  {{.serial_hex = "06", .reason = kRemoveFromCrl},
                                   {.serial_hex = "07", .reason = kCertificateHold}},
                                  baseSpec(3)),
                          &ca);
  checkListings(base, nullptr, {{"06", false, 0}, {"07", true, kCertificateHold}});
}

// ---------------------------------------------------------------------------------------------
// checkDeltaFor's refusals

TEST_CASE("checkDeltaFor accepts a delta on this base or an older one, and refuses the rest") {
  Identity ca = issue({.cn = "Delta CA", .ca = true}, nullptr);
  Identity other = issue({.cn = "Other CA", .ca = true}, nullptr);
  // Same name as `ca`, another key: a CA's name does not make it the same CA.
  Identity impostor = issue({.cn = "Delta CA", .ca = true}, nullptr);
  const std::vector<EntrySpec> entries = {{.serial_hex = "01"}};
  const ParsedCrl base = parsed(makeCrl(ca, entries, baseSpec(10)), &ca);

  CrlSpec user_only = deltaSpec(11, 10);
  user_only.idp = "critical,onlyuser:TRUE";
  CrlSpec base_no_number = baseSpec(10);
  base_no_number.number.reset();
  CrlSpec delta_no_number = deltaSpec(11, 10);
  delta_no_number.number.reset();

  struct Row {
    const char* what;
    ParsedCrl base;
    ParsedCrl delta;
    const char* code;
  };
  std::vector<Row> rows;
  rows.push_back({"built on this base", base, parsed(makeCrl(ca, entries, deltaSpec(11, 10)), &ca),
                  "ok"});
  rows.push_back({"built on an older base (RFC 5280 §5.2.4)", base,
                  parsed(makeCrl(ca, entries, deltaSpec(12, 8)), &ca), "ok"});
  rows.push_back({"base of the same name, signature unchecked", base,
                  parsed(makeCrl(impostor, entries, deltaSpec(11, 10)), nullptr), "ok"});
  rows.push_back({"a complete CRL as the delta", base,
                  parsed(makeCrl(ca, entries, baseSpec(11)), &ca), "not_a_delta"});
  rows.push_back({"a delta as the base", parsed(makeCrl(ca, entries, deltaSpec(10, 9)), &ca),
                  parsed(makeCrl(ca, entries, deltaSpec(11, 10)), &ca), "not_a_delta"});
  rows.push_back({"another CA's delta", base,
                  parsed(makeCrl(other, entries, deltaSpec(11, 10)), &other),
                  "delta_issuer_mismatch"});
  rows.push_back({"same name, another key", base,
                  parsed(makeCrl(impostor, entries, deltaSpec(11, 10)), &impostor),
                  "delta_issuer_mismatch"});
  rows.push_back({"a user-certs-only delta", base, parsed(makeCrl(ca, entries, user_only), &ca),
                  "delta_scope_mismatch"});
  rows.push_back({"the base is older than the delta's BaseCRLNumber", base,
                  parsed(makeCrl(ca, entries, deltaSpec(12, 11)), &ca), "delta_base_mismatch"});
  rows.push_back({"a base without a cRLNumber", parsed(makeCrl(ca, entries, base_no_number), &ca),
                  parsed(makeCrl(ca, entries, deltaSpec(11, 10)), &ca), "delta_base_mismatch"});
  rows.push_back({"a delta no newer than the base", base,
                  parsed(makeCrl(ca, entries, deltaSpec(10, 9)), &ca), "delta_not_newer"});
  rows.push_back({"a delta without a cRLNumber", base,
                  parsed(makeCrl(ca, entries, delta_no_number), &ca), "delta_not_newer"});
  for (const Row& row : rows) {
    CAPTURE(row.what);
    Status s = checkDeltaFor(row.base, row.delta);
    CHECK(codeOf(s) == row.code);
    if (!s.ok()) CHECK(s.error().category == ErrorCategory::ValidationFailed);
  }
}

TEST_CASE("CRL numbers compare as integers, not as text") {
  Identity ca = issue({.cn = "Delta CA", .ca = true}, nullptr);
  const std::vector<EntrySpec> entries = {{.serial_hex = "01"}};
  // 0x100 > 0xff although "0100" < "ff" as text; 0x0f < 0x10.
  const ParsedCrl base = parsed(makeCrl(ca, entries, baseSpec(0xff)), &ca);
  CHECK(codeOf(checkDeltaFor(base, parsed(makeCrl(ca, entries, deltaSpec(0x100, 0xff)), &ca))) ==
        "ok");
  CHECK(codeOf(checkDeltaFor(base, parsed(makeCrl(ca, entries, deltaSpec(0x100, 0x100)), &ca))) ==
        "delta_base_mismatch");
  const ParsedCrl small = parsed(makeCrl(ca, entries, baseSpec(0x0f)), &ca);
  CHECK(codeOf(checkDeltaFor(small, parsed(makeCrl(ca, entries, deltaSpec(0x10, 0x0f)), &ca))) ==
        "ok");
}

}  // namespace
}  // namespace ocsp
