#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
// CRL parsing and validation (docs/ARCHITECTURE.md §8): pyca and NIST PKITS CRLs for what real data
// covers, and CRLs generated here for single rules, serial edge cases and a million entries.
#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/ossl.h"
#include "tests/unit/test_crls.h"
#include "tests/unit/test_pki.h"
#include "tests/unit/test_util.h"
#include "pki/crl.h"

namespace ocsp {
namespace {

using test::Identity;
using test::issue;
using test::kDay;
using test::kT;  // "now" of the generated CRLs
using test::loadCert;
using test::readFile;
using test::realData;

using Asn1EnumeratedPtr = std::unique_ptr<ASN1_ENUMERATED, FreeWith<ASN1_ENUMERATED_free>>;
using RevokedPtr = std::unique_ptr<X509_REVOKED, FreeWith<X509_REVOKED_free>>;
using test::bytes;
using test::CrlSpec;
using test::ExtensionPtr;
using test::makeCrl;
using test::newCrl;
using test::signCrl;
using test::unknownExtension;

// Times read with `openssl crl -text` from the real files.
constexpr int64_t kValidSigThisUpdate = 1501984105;  // 2017-08-06T01:48:25Z
constexpr int64_t kValidSigNextUpdate = 1504576105;  // 2017-09-05T01:48:25Z
constexpr int64_t kPkits2010 = 1262334600;           // 2010-01-01T08:30:00Z
constexpr int64_t kPkitsJune2010 = 1275381000;       // 2010-06-01T08:30:00Z
constexpr int64_t kPkits2011 = 1293870600;           // 2011-01-01T08:30:00Z
constexpr int64_t kPkitsNextUpdate = 1924936200;     // 2030-12-31T08:30:00Z
constexpr int64_t k10kThisUpdate = 1662577583;       // 2022-09-07T19:06:23Z
constexpr int64_t k2015 = 1420070400;                // 2015-01-01T00:00:00Z
constexpr int64_t kR509ThisUpdate = 1450655087;      // 2015-12-20T23:44:47Z

const char* const kPyca = "pyca-cryptography-vectors/crl/";
const char* const kPkits = "pyca-cryptography-vectors/PKITS/";

// ---------------------------------------------------------------------------------------------
// Helpers

SharedX509 share(X509* cert) {
  REQUIRE(X509_up_ref(cert) == 1);
  return shareX509(X509Ptr(cert));
}

std::vector<SharedX509> issuers(std::initializer_list<X509*> certs) {
  std::vector<SharedX509> out;
  for (X509* c : certs) out.push_back(share(c));
  return out;
}

X509CrlPtr decodeCrl(const std::string& data) {
  BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  X509CrlPtr crl(data.starts_with("-----")
                     ? PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)
                     : d2i_X509_CRL_bio(bio.get(), nullptr));
  REQUIRE(crl);
  return crl;
}

std::string toPem(const std::string& der) {
  auto crl = decodeCrl(der);
  BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_X509_CRL(bio.get(), crl.get()) == 1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string pemToDer(const std::string& pem) { return toDer(decodeCrl(pem).get(), i2d_X509_CRL); }

Result<ParsedCrl> check(std::string_view data, int64_t now,
                        const std::vector<SharedX509>* candidates = nullptr,
                        X509_STORE* store = nullptr, int64_t skew_s = 300) {
  CrlCheckInput in{data, candidates, store, now, skew_s};
  auto result = parseAndValidateCrl(in);
  CHECK_MESSAGE(ERR_peek_error() == 0, "parseAndValidateCrl left errors in the OpenSSL queue");
  return result;
}

std::string codeOf(const Result<ParsedCrl>& r) { return r.ok() ? "ok" : r.error().code; }
std::string detailOf(const Result<ParsedCrl>& r) {
  return r.ok() ? "accepted" : r.error().code + ": " + r.error().detail;
}

#define CHECK_CODE(result, expected) CHECK_MESSAGE(codeOf(result) == (expected), detailOf(result))

void checkRevoked(const RevokedSerials& table, std::string_view serial_hex, int64_t time,
                  int reason) {
  CAPTURE(serial_hex);
  auto hit = table.find(bytes(serial_hex));
  REQUIRE(hit.has_value());
  CHECK(hit->time == time);
  CHECK(hit->reason == reason);
}

void checkAbsent(const RevokedSerials& table, std::string_view serial_hex) {
  CAPTURE(serial_hex);
  CHECK_FALSE(table.find(bytes(serial_hex)).has_value());
}

// ---------------------------------------------------------------------------------------------
// Real data: signatures and issuer lookup

TEST_CASE("a CRL signed by its configured issuer verifies and names the signer") {
  // A certificate without extensions: no keyUsage, so its key may sign CRLs.
  auto cert = loadCert(std::string(kPyca) + "valid_signature_cert.pem");
  auto candidates = issuers({cert.get()});
  std::string pem = readFile(realData(std::string(kPyca) + "valid_signature_crl.pem"));
  // The CRL and its issuer expired in 2017: judge them as of a day after thisUpdate.
  auto r = check(pem, kValidSigThisUpdate + kDay, &candidates);
  CHECK_CODE(r, "ok");
  REQUIRE(r.ok());
  CHECK(r->signature_checked);
  CHECK(r->signer == "CN=invalid_signature CRL test");
  CHECK(r->issuer == "CN=invalid_signature CRL test");
  CHECK(r->this_update == kValidSigThisUpdate);
  CHECK(r->next_update == kValidSigNextUpdate);
  CHECK(r->crl_number == "03");
  CHECK_FALSE(r->delta);
  CHECK(r->revoked.size() == 0);
}

TEST_CASE("a CRL whose signature does not verify with its issuer's key is bad_signature") {
  auto cert = loadCert(std::string(kPyca) + "valid_signature_cert.pem");
  auto candidates = issuers({cert.get()});
  std::string pem = readFile(realData(std::string(kPyca) + "invalid_signature_crl.pem"));
  auto r = check(pem, kValidSigThisUpdate + kDay, &candidates);
  CHECK_CODE(r, "bad_signature");
  if (!r.ok()) CHECK(r.error().category == ErrorCategory::ValidationFailed);
}

TEST_CASE("without a matching issuer the CRL is accepted unchecked for the caller's policy") {
  auto unrelated = loadCert(std::string(kPkits) + "TrustAnchorRootCertificate.crt");
  const auto candidates = issuers({unrelated.get()});
  std::string pem = readFile(realData(std::string(kPyca) + "invalid_signature_crl.pem"));
  using Candidates = const std::vector<SharedX509>*;
  for (Candidates c : {Candidates{nullptr}, &candidates}) {
    auto r = check(pem, kValidSigThisUpdate + kDay, c);
    CHECK_CODE(r, "ok");
    if (!r.ok()) continue;
    CHECK_FALSE(r->signature_checked);
    CHECK(r->signer.empty());
  }
}

TEST_CASE("the issuer is found in the trust store by subject when no candidate matches") {
  auto root = loadCert(std::string(kPkits) + "TrustAnchorRootCertificate.crt");
  auto unrelated = loadCert(std::string(kPyca) + "valid_signature_cert.pem");
  auto candidates = issuers({unrelated.get()});
  X509StorePtr store(X509_STORE_new());
  REQUIRE(X509_STORE_add_cert(store.get(), root.get()) == 1);
  std::string der = readFile(realData(std::string(kPkits) + "TrustAnchorRootCRL.crl"));
  auto r = check(der, kT, &candidates, store.get());
  CHECK_CODE(r, "ok");
  REQUIRE(r.ok());
  CHECK(r->signature_checked);
  CHECK(r->signer == "CN=Trust Anchor,O=Test Certificates 2011,C=US");
  CHECK(r->issuer == "CN=Trust Anchor,O=Test Certificates 2011,C=US");
  CHECK(r->this_update == kPkits2010);
  CHECK(r->next_update == kPkitsNextUpdate);
  CHECK(r->crl_number == "01");
  CHECK(r->revoked.size() == 1);
  checkRevoked(r->revoked, "68", kPkits2010, 1);  // keyCompromise
}

TEST_CASE("a delta CRL reports its indicator, CRL number and entries") {
  auto ca = loadCert(std::string(kPkits) + "deltaCRLCA1Cert.crt");
  auto candidates = issuers({ca.get()});
  std::string der = readFile(realData(std::string(kPkits) + "deltaCRLCA1deltaCRL.crl"));
  auto r = check(der, kT, &candidates);
  CHECK_CODE(r, "ok");
  REQUIRE(r.ok());
  CHECK(r->delta);
  CHECK(r->signature_checked);
  CHECK(r->crl_number == "05");
  CHECK(r->this_update == kPkits2011);
  REQUIRE(r->revoked.size() == 4);
  checkRevoked(r->revoked, "03", kPkitsJune2010, 1);  // keyCompromise
  checkRevoked(r->revoked, "04", kPkitsJune2010, 8);  // removeFromCRL
  checkRevoked(r->revoked, "05", kPkits2010, 1);
  checkRevoked(r->revoked, "06", kPkitsJune2010, 8);
  checkAbsent(r->revoked, "02");

  // Its base CRL carries a (non-critical) freshestCRL pointer and no delta indicator.
  std::string base = readFile(realData(std::string(kPkits) + "deltaCRLCA1CRL.crl"));
  auto b = check(base, kT, &candidates);
  CHECK_CODE(b, "ok");
  REQUIRE(b.ok());
  CHECK_FALSE(b->delta);
  CHECK(b->crl_number == "01");
  CHECK(b->revoked.size() == 3);
  checkRevoked(b->revoked, "04", kPkits2010, 6);  // certificateHold
}

TEST_CASE("a critical deltaCRLIndicator is understood and a 64-bit CRL number reads as hex") {
  std::string pem = readFile(realData(std::string(kPyca) + "crl_delta_crl_indicator.pem"));
  auto r = check(pem, kT);
  CHECK_CODE(r, "ok");
  REQUIRE(r.ok());
  CHECK(r->delta);
  CHECK(r->crl_number == "ab54a98ceb1f0ad3");  // 12345678901234567891
}

// ---------------------------------------------------------------------------------------------
// Real data: entries

TEST_CASE("crl_almost_10k: all 9,999 serials are found with their dates, others are not") {
  std::string pem = readFile(realData(std::string(kPyca) + "crl_almost_10k.pem"));
  auto r = check(pem, k10kThisUpdate + 3600);
  CHECK_CODE(r, "ok");
  REQUIRE(r.ok());
  CHECK_FALSE(r->signature_checked);
  CHECK(r->crl_number.empty());
  const RevokedSerials& table = r->revoked;
  CHECK(table.size() == 9999);
  // `openssl crl -text`: serials 01..270F; 19:06:23 up to 19FF, 19:06:24 from 1A00 on.
  checkRevoked(table, "01", k10kThisUpdate, -1);
  checkRevoked(table, "0100", k10kThisUpdate, -1);
  checkRevoked(table, "1388", k10kThisUpdate, -1);
  checkRevoked(table, "19ff", k10kThisUpdate, -1);
  checkRevoked(table, "1a00", k10kThisUpdate + 1, -1);
  checkRevoked(table, "270f", k10kThisUpdate + 1, -1);
  checkRevoked(table, "000001", k10kThisUpdate, -1);  // non-minimal leading zeros still match
  checkAbsent(table, "00");
  checkAbsent(table, "2710");
  checkAbsent(table, "010000");
  int found = 0;
  for (int s = 1; s <= 9999; ++s) {
    std::string serial(1, static_cast<char>(s >> 8));
    serial.push_back(static_cast<char>(s & 0xff));
    found += table.find(serial).has_value() ? 1 : 0;
  }
  CHECK(found == 9999);
}

TEST_CASE("every CRLReason code is read; an unknown one reads as -1 and still revokes") {
  std::string pem = readFile(realData(std::string(kPyca) + "crl_all_reasons.pem"));
  auto r = check(pem, k2015 + kDay);
  CHECK_CODE(r, "ok");
  REQUIRE(r.ok());
  // Entries 01..0A name this CRL's own issuer in certificateIssuer: they all count.
  REQUIRE(r->revoked.size() == 12);
  struct Row {
    const char* serial;
    int reason;
  };
  const Row rows[] = {{"00", -1}, {"01", 0}, {"02", 1}, {"03", 2}, {"04", 3},  {"05", 4},
                      {"06", 5},  {"07", 6}, {"08", 8}, {"09", 9}, {"0a", 10}, {"0b", 1}};
  for (const auto& row : rows) checkRevoked(r->revoked, row.serial, k2015, row.reason);

  std::string unsupported = readFile(realData(std::string(kPyca) + "crl_unsupported_reason.pem"));
  auto u = check(unsupported, k2015 + kDay);
  CHECK_CODE(u, "ok");
  REQUIRE(u.ok());
  checkRevoked(u->revoked, "00", k2015, -1);  // reasonCode 12 is not an RFC 5280 code
}

TEST_CASE("a CRL without nextUpdate is accepted with next_update 0, however late") {
  std::string pem = readFile(realData(std::string(kPyca) + "crl_no_next_update.pem"));
  auto r = check(pem, kT);
  CHECK_CODE(r, "ok");
  REQUIRE(r.ok());
  CHECK(r->next_update == 0);
  CHECK(r->this_update == kR509ThisUpdate);
  CHECK(r->crl_number == "01");
}

// ---------------------------------------------------------------------------------------------
// Real data: times and framing

TEST_CASE("thisUpdate later than now plus the clock skew is this_update_in_future") {
  std::string pem = readFile(realData(std::string(kPyca) + "valid_signature_crl.pem"));
  CHECK_CODE(check(pem, kValidSigThisUpdate - 300), "ok");
  CHECK_CODE(check(pem, kValidSigThisUpdate - 301), "this_update_in_future");
  CHECK_CODE(check(pem, kValidSigThisUpdate - 10, nullptr, nullptr, 0), "this_update_in_future");
}

TEST_CASE("now at or after nextUpdate is expired") {
  std::string pem = readFile(realData(std::string(kPyca) + "valid_signature_crl.pem"));
  CHECK_CODE(check(pem, kValidSigNextUpdate - 1), "ok");
  CHECK_CODE(check(pem, kValidSigNextUpdate), "expired");
  CHECK_CODE(check(pem, kT), "expired");
}

TEST_CASE("a certificate, an empty body or garbage is not_a_crl") {
  const std::string cert_pem = readFile(realData(std::string(kPyca) + "valid_signature_cert.pem"));
  const std::string cert_der = readFile(realData(std::string(kPkits) + "deltaCRLCA1Cert.crt"));
  struct Row {
    const char* what;
    std::string data;
  };
  const Row rows[] = {
      {"DER certificate", cert_der},
      {"PEM certificate", cert_pem},
      {"empty", ""},
      {"text", "not a CRL at all"},
      {"PEM armour around nothing", "-----BEGIN X509 CRL-----\n-----END X509 CRL-----\n"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.what);
    auto r = check(row.data, kT);
    CHECK_CODE(r, "not_a_crl");
  }
}

TEST_CASE("bytes after the CRL make it not_a_crl; whitespace after PEM is fine") {
  const std::string der = readFile(realData(std::string(kPkits) + "TrustAnchorRootCRL.crl"));
  const std::string pem = toPem(der);
  CHECK_CODE(check(der, kT), "ok");
  CHECK_CODE(check(der + std::string(1, '\0'), kT), "not_a_crl");
  CHECK_CODE(check(der + der, kT), "not_a_crl");
  CHECK_CODE(check(der.substr(0, der.size() - 1), kT), "not_a_crl");
  CHECK_CODE(check(pem + "\n\r\n  ", kT), "ok");
  CHECK_CODE(check(pem + "garbage\n", kT), "not_a_crl");
  CHECK_CODE(check(pem + pem, kT), "not_a_crl");
}

TEST_CASE("PEM and DER of the same CRL read the same") {
  struct Row {
    std::string file;
    int64_t now;
  };
  const Row rows[] = {
      {std::string(kPyca) + "crl_all_reasons.pem", k2015 + kDay},
      {std::string(kPkits) + "deltaCRLCA1deltaCRL.crl", kT},
  };
  auto ca = loadCert(std::string(kPkits) + "deltaCRLCA1Cert.crt");
  auto candidates = issuers({ca.get()});
  for (const auto& row : rows) {
    CAPTURE(row.file);
    std::string original = readFile(realData(row.file));
    bool is_pem = original.starts_with("-----");
    std::string pem = is_pem ? original : toPem(original);
    std::string der = is_pem ? pemToDer(original) : original;
    REQUIRE(pem != der);
    auto a = check(pem, row.now, &candidates);
    auto b = check(der, row.now, &candidates);
    CHECK_CODE(a, "ok");
    CHECK_CODE(b, "ok");
    if (!a.ok() || !b.ok()) continue;
    CHECK(a->issuer == b->issuer);
    CHECK(a->this_update == b->this_update);
    CHECK(a->next_update == b->next_update);
    CHECK(a->crl_number == b->crl_number);
    CHECK(a->delta == b->delta);
    CHECK(a->signature_checked == b->signature_checked);
    CHECK(a->signer == b->signer);
    CHECK(a->revoked.size() == b->revoked.size());
    CHECK(a->revoked.footprint() == b->revoked.footprint());
    for (int s = 0; s < 16; ++s) {
      std::string serial(1, static_cast<char>(s));
      auto x = a->revoked.find(serial);
      auto y = b->revoked.find(serial);
      REQUIRE(x.has_value() == y.has_value());
      if (x) CHECK((x->time == y->time && x->reason == y->reason));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Generated: extensions, issuer selection

TEST_CASE("a critical extension we do not process makes the CRL unsupported") {
  Identity ca = issue({.cn = "Test CRL CA", .ca = true}, nullptr);
  auto candidates = issuers({ca.cert.get()});
  CrlSpec critical;
  critical.extra_extension = unknownExtension(true);
  CHECK_CODE(check(makeCrl(ca, {{.serial_hex = "01"}}, critical), kT, &candidates), "unsupported");

  CrlSpec noncritical;
  noncritical.extra_extension = unknownExtension(false);
  CHECK_CODE(check(makeCrl(ca, {{.serial_hex = "01"}}, noncritical), kT, &candidates), "ok");

  // A critical issuingDistributionPoint is one we know.
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, nullptr, nullptr, nullptr, nullptr, 0);
  CrlSpec idp;
  idp.extra_extension = ExtensionPtr(X509V3_EXT_conf_nid(
      nullptr, &ctx, NID_issuing_distribution_point, "critical,fullname:URI:http://crl.test/a"));
  REQUIRE(*idp.extra_extension);
  CHECK_CODE(check(makeCrl(ca, {{.serial_hex = "01"}}, idp), kT, &candidates), "ok");

  CHECK_CODE(
      check(makeCrl(ca, {{.serial_hex = "01"}, {.serial_hex = "02", .critical_unknown = true}}), kT,
            &candidates),
      "unsupported");
}

TEST_CASE("an issuer whose keyUsage lacks cRLSign is passed over: issuer_not_crl_signer") {
  Identity ca = issue({.cn = "Test CRL CA", .ca = true}, nullptr);
  // Same name and key, but keyUsage digitalSignature only.
  Identity not_crl_signer = issue({.cn = "Test CRL CA", .key = ca.key.get()}, nullptr);
  const std::string crl = makeCrl(ca, {{.serial_hex = "01"}});

  auto only_not_crl_signer = issuers({not_crl_signer.cert.get()});
  auto r = check(crl, kT, &only_not_crl_signer);
  CHECK_CODE(r, "issuer_not_crl_signer");

  // The same key in a certificate that may sign CRLs is taken instead.
  auto both = issuers({not_crl_signer.cert.get(), ca.cert.get()});
  auto ok = check(crl, kT, &both);
  CHECK_CODE(ok, "ok");
  if (ok.ok()) CHECK(ok->signature_checked);
}

TEST_CASE("after a key rollover the AuthorityKeyIdentifier picks the issuer certificate") {
  Identity old_ca = issue({.cn = "Rollover CA", .ca = true}, nullptr);
  Identity new_ca = issue({.cn = "Rollover CA", .ca = true}, nullptr);
  const std::string with_aki = makeCrl(new_ca, {{.serial_hex = "01"}});
  CrlSpec no_aki_spec;
  no_aki_spec.authority_key_id = false;
  const std::string no_aki = makeCrl(new_ca, {{.serial_hex = "01"}}, no_aki_spec);

  auto both = issuers({old_ca.cert.get(), new_ca.cert.get()});
  auto only_old = issuers({old_ca.cert.get()});
  auto r = check(with_aki, kT, &both);
  CHECK_CODE(r, "ok");
  if (r.ok()) CHECK(r->signer == "CN=Rollover CA,O=ocsp-proxy tests");
  // The old certificate's key id differs from the CRL's AKI: it is not the issuer at all.
  auto old_only = check(with_aki, kT, &only_old);
  CHECK_CODE(old_only, "ok");
  if (old_only.ok()) CHECK_FALSE(old_only->signature_checked);
  // Without an AKI, every certificate with the name is tried.
  auto no_aki_both = check(no_aki, kT, &both);
  CHECK_CODE(no_aki_both, "ok");
  if (no_aki_both.ok()) CHECK(no_aki_both->signature_checked);
  CHECK_CODE(check(no_aki, kT, &only_old), "bad_signature");
}

TEST_CASE("entries an indirect CRL attributes to another CA are not in the table") {
  Identity ca = issue({.cn = "Indirect CRL CA", .ca = true}, nullptr);
  Identity other = issue({.cn = "Other CA", .ca = true}, nullptr);
  auto candidates = issuers({ca.cert.get()});
  // RFC 5280 §5.3.3: a certificateIssuer applies to its entry and the ones after it.
  const std::string crl = makeCrl(ca, {{.serial_hex = "01"},
                                       {.serial_hex = "02", .certificate_issuer = &other},
                                       {.serial_hex = "03"},
                                       {.serial_hex = "04", .certificate_issuer = &ca},
                                       {.serial_hex = "05"}});
  auto r = check(crl, kT, &candidates);
  CHECK_CODE(r, "ok");
  REQUIRE(r.ok());
  CHECK(r->revoked.size() == 3);
  CHECK(r->revoked.find(bytes("01")).has_value());
  checkAbsent(r->revoked, "02");
  checkAbsent(r->revoked, "03");
  CHECK(r->revoked.find(bytes("04")).has_value());
  CHECK(r->revoked.find(bytes("05")).has_value());
}

// ---------------------------------------------------------------------------------------------
// Serial edge cases

TEST_CASE("serials match as integers: leading zeros, 20 bytes, zero, prefixes, negatives") {
  Identity ca = issue({.cn = "Test CRL CA", .ca = true}, nullptr);
  auto candidates = issuers({ca.cert.get()});
  const std::string max20 = std::string(40, 'f');         // 20 bytes, top bit set
  const std::string pos20 = "7f" + std::string(38, 'f');  // 20 bytes, positive as is
  const std::string crl = makeCrl(ca, {
                                          {.serial_hex = "010203", .reason = 3},
                                          {.serial_hex = "", .reason = 0},  // serial 0
                                          {.serial_hex = "80", .reason = 1},
                                          {.serial_hex = max20, .reason = 4},
                                          {.serial_hex = pos20, .reason = 5},
                                          {.serial_hex = "0102", .reason = 9},
                                          {.serial_hex = "01", .reason = 10},
                                          {.serial_hex = "05", .negative = true},
                                          {.serial_hex = "0102", .time = kT, .reason = 2},
                                      });
  auto r = check(crl, kT, &candidates);
  CHECK_CODE(r, "ok");
  REQUIRE(r.ok());
  const RevokedSerials& t = r->revoked;
  CHECK(t.size() == 7);  // the negative entry is dropped, the repeated 0102 kept once
  const int64_t when = kT - 10 * kDay;
  checkRevoked(t, "00", when, 0);
  checkRevoked(t, "0000", when, 0);
  checkRevoked(t, "0080", when, 1);  // 0x80 is encoded 00 80
  checkAbsent(t, "80");              // ... while 80 alone is -128
  checkRevoked(t, "00" + max20, when, 4);
  checkAbsent(t, max20);  // negative
  checkRevoked(t, pos20, when, 5);
  checkRevoked(t, "01", when, 10);
  checkRevoked(t, "0102", when, 9);  // the first of the two entries
  checkRevoked(t, "010203", when, 3);
  checkRevoked(t, std::string(60, '0') + "010203", when, 3);
  checkAbsent(t, "0101");
  checkAbsent(t, "0103");
  checkAbsent(t, "02");
  checkAbsent(t, "01020300");
  checkAbsent(t, "05");
  checkAbsent(t, "fb");                         // -5
  checkAbsent(t, "01" + std::string(50, '0'));  // longer than any serial on the CRL
  CHECK_FALSE(t.find("").has_value());
}

TEST_CASE("the table keeps the first of repeated serials and handles degenerate widths") {
  RevokedSerials::Builder only_zero;
  only_zero.add(std::string(1, '\0'), 7, -1);
  only_zero.add("", 8, 1);
  RevokedSerials zero = std::move(only_zero).finish();
  CHECK(zero.size() == 1);
  auto hit = zero.find(bytes("00"));
  REQUIRE(hit.has_value());
  CHECK(hit->time == 7);
  CHECK(hit->reason == -1);
  CHECK_FALSE(zero.find(bytes("01")).has_value());

  RevokedSerials empty = RevokedSerials::Builder().finish();
  CHECK(empty.size() == 0);
  CHECK_FALSE(empty.find(bytes("00")).has_value());
  CHECK(empty.footprint() >= sizeof(RevokedSerials));

  // Entry i of the CRL is revoked at time i: the repeated 3 must read time 1, not 3.
  RevokedSerials::Builder unsorted;
  const int serials[] = {9, 3, 7, 3, 1};
  for (int i = 0; i < 5; ++i) unsorted.add(std::string(1, static_cast<char>(serials[i])), i, 0);
  RevokedSerials t = std::move(unsorted).finish();
  CHECK(t.size() == 4);
  struct Row {
    int serial;
    int64_t time;
  };
  for (const Row& row : {Row{9, 0}, Row{3, 1}, Row{7, 2}, Row{1, 4}}) {
    auto h = t.find(std::string(1, static_cast<char>(row.serial)));
    REQUIRE(h.has_value());
    CHECK(h->time == row.time);
  }
}

// ---------------------------------------------------------------------------------------------
// Scale

uint64_t splitmix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

TEST_CASE("a CRL with a million entries in random order parses, and every 1000th is found") {
  constexpr int kEntries = 1000000;
  constexpr int kReasons[] = {0, 1, 2, 3, 4, 5, 6, 8, 9, 10};
  Identity ca = issue({.cn = "Big CRL CA", .ca = true}, nullptr);
  auto candidates = issuers({ca.cert.get()});
  struct Sample {
    std::string serial;  // INTEGER contents
    int64_t time;
    int reason;
  };
  std::vector<Sample> samples;

  auto gen_start = std::chrono::steady_clock::now();
  auto crl = newCrl(ca, {});
  Asn1IntegerPtr serial(ASN1_INTEGER_new());
  Asn1EnumeratedPtr reason(ASN1_ENUMERATED_new());
  uint64_t rng = 20261123;
  bool built = true;  // one REQUIRE after the loop: a million of them would dominate the time
  for (int i = 0; i < kEntries; ++i) {
    unsigned char magnitude[16];
    for (int half = 0; half < 2; ++half) {
      uint64_t v = splitmix64(&rng);
      for (int b = 0; b < 8; ++b) {
        magnitude[half * 8 + b] = static_cast<unsigned char>(v >> (56 - 8 * b));
      }
    }
    if (magnitude[0] == 0) magnitude[0] = 1;          // minimal encoding: no leading zero byte
    const int64_t time = kT - 400 * kDay + i / 4096;  // CAs revoke in runs of equal dates
    const int code = i % 10 == 0 ? kReasons[(i / 10) % 10] : -1;
    RevokedPtr rev(X509_REVOKED_new());
    Asn1TimePtr date(ASN1_TIME_set(nullptr, static_cast<time_t>(time)));
    built = built && ASN1_STRING_set(serial.get(), magnitude, sizeof(magnitude)) == 1 &&
            X509_REVOKED_set_serialNumber(rev.get(), serial.get()) == 1 &&
            X509_REVOKED_set_revocationDate(rev.get(), date.get()) == 1;
    if (code >= 0) {
      ASN1_ENUMERATED_set(reason.get(), code);
      built =
          built && X509_REVOKED_add1_ext_i2d(rev.get(), NID_crl_reason, reason.get(), 0, 0) == 1;
    }
    built = built && X509_CRL_add0_revoked(crl.get(), rev.release()) == 1;
    if (i % 1000 == 0 || i % 1000 == 1) {
      std::string content(reinterpret_cast<const char*>(magnitude), sizeof(magnitude));
      if ((magnitude[0] & 0x80) != 0) content.insert(0, 1, '\0');
      samples.push_back({content, time, code});
    }
  }
  REQUIRE(built);
  const std::string der = signCrl(crl.get(), ca);
  crl.reset();
  auto gen_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - gen_start)
                    .count();

  auto start = std::chrono::steady_clock::now();
  auto r = check(der, kT, &candidates);
  auto parse_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  CHECK_CODE(r, "ok");
  REQUIRE(r.ok());
  CHECK(r->signature_checked);
  const RevokedSerials& table = r->revoked;
  CHECK(table.size() == kEntries);
  int found = 0;
  int right = 0;
  for (const auto& s : samples) {
    auto hit = table.find(s.serial);
    found += hit ? 1 : 0;
    right += hit && hit->time == s.time && hit->reason == s.reason ? 1 : 0;
    std::string absent = s.serial;
    absent.back() = static_cast<char>(absent.back() ^ 0x01);
    CHECK_FALSE(table.find(absent).has_value());
  }
  CHECK(found == static_cast<int>(samples.size()));
  CHECK(right == static_cast<int>(samples.size()));
  MESSAGE("1,000,000-entry CRL (" << der.size() / (1024 * 1024) << " MiB DER, generated in "
                                  << gen_ms << " ms): parseAndValidateCrl took " << parse_ms
                                  << " ms; table footprint " << table.footprint() << " bytes");
}

}  // namespace
}  // namespace ocsp
