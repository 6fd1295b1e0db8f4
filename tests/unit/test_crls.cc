#include "tests/unit/test_crls.h"

#include <doctest/doctest.h>
#include <openssl/x509v3.h>

namespace ocsp::test {
namespace {

using Asn1EnumeratedPtr = std::unique_ptr<ASN1_ENUMERATED, FreeWith<ASN1_ENUMERATED_free>>;
using Asn1ObjectPtr = std::unique_ptr<ASN1_OBJECT, FreeWith<ASN1_OBJECT_free>>;
using OctetStringPtr = std::unique_ptr<ASN1_OCTET_STRING, FreeWith<ASN1_OCTET_STRING_free>>;
using RevokedPtr = std::unique_ptr<X509_REVOKED, FreeWith<X509_REVOKED_free>>;

void addInteger(X509_CRL* crl, int nid, long value, bool critical) {
  Asn1IntegerPtr number(ASN1_INTEGER_new());
  ASN1_INTEGER_set(number.get(), value);
  REQUIRE(X509_CRL_add1_ext_i2d(crl, nid, number.get(), critical ? 1 : 0, 0) == 1);
}

void addConfExtension(X509_CRL* crl, X509V3_CTX* ctx, int nid, const std::string& value) {
  ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  REQUIRE_MESSAGE(ext, OBJ_nid2sn(nid) << " " << value << ": " << opensslErrors());
  REQUIRE(X509_CRL_add_ext(crl, ext.get(), -1) == 1);
}

}  // namespace

std::string bytes(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

ExtensionPtr unknownExtension(bool critical) {
  Asn1ObjectPtr oid(OBJ_txt2obj("1.3.6.1.4.1.55555.7", 1));
  OctetStringPtr value(ASN1_OCTET_STRING_new());
  REQUIRE(ASN1_OCTET_STRING_set(value.get(), reinterpret_cast<const unsigned char*>("\x05\x00"),
                                2) == 1);
  ExtensionPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), critical ? 1 : 0, value.get()));
  REQUIRE(ext);
  return ext;
}

void addEntry(X509_CRL* crl, const EntrySpec& e) {
  RevokedPtr rev(X509_REVOKED_new());
  std::string magnitude = bytes(e.serial_hex);
  BIGNUM* bn = BN_bin2bn(reinterpret_cast<const unsigned char*>(magnitude.data()),
                         static_cast<int>(magnitude.size()), nullptr);
  REQUIRE(bn != nullptr);
  BN_set_negative(bn, e.negative ? 1 : 0);
  Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn, nullptr));
  BN_free(bn);
  REQUIRE(X509_REVOKED_set_serialNumber(rev.get(), serial.get()) == 1);
  Asn1TimePtr time(ASN1_TIME_set(nullptr, static_cast<time_t>(e.time)));
  REQUIRE(X509_REVOKED_set_revocationDate(rev.get(), time.get()) == 1);
  if (e.reason >= 0) {
    Asn1EnumeratedPtr reason(ASN1_ENUMERATED_new());
    ASN1_ENUMERATED_set(reason.get(), e.reason);
    REQUIRE(X509_REVOKED_add1_ext_i2d(rev.get(), NID_crl_reason, reason.get(), 0, 0) == 1);
  }
  if (e.certificate_issuer != nullptr) {
    GeneralNamesPtr names(GENERAL_NAMES_new());
    GENERAL_NAME* gn = GENERAL_NAME_new();
    gn->type = GEN_DIRNAME;
    gn->d.directoryName = X509_NAME_dup(X509_get_subject_name(e.certificate_issuer->cert.get()));
    sk_GENERAL_NAME_push(names.get(), gn);
    // RFC 5280 §5.3.3: "this extension MUST always be critical".
    REQUIRE(X509_REVOKED_add1_ext_i2d(rev.get(), NID_certificate_issuer, names.get(), 1, 0) == 1);
  }
  if (e.critical_unknown) {
    REQUIRE(X509_REVOKED_add_ext(rev.get(), unknownExtension(true).get(), -1) == 1);
  }
  REQUIRE(X509_CRL_add0_revoked(crl, rev.release()) == 1);
}

X509CrlPtr newCrl(const Identity& issuer, const CrlSpec& spec) {
  X509CrlPtr crl(X509_CRL_new());
  X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2);
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer.cert.get()));
  Asn1TimePtr this_update(ASN1_TIME_set(nullptr, static_cast<time_t>(spec.this_update)));
  X509_CRL_set1_lastUpdate(crl.get(), this_update.get());
  if (spec.next_update) {
    Asn1TimePtr next_update(ASN1_TIME_set(nullptr, static_cast<time_t>(*spec.next_update)));
    X509_CRL_set1_nextUpdate(crl.get(), next_update.get());
  }
  if (spec.number) addInteger(crl.get(), NID_crl_number, *spec.number, false);
  // RFC 5280 §5.2.4: "This extension MUST be marked critical".
  if (spec.delta_base) addInteger(crl.get(), NID_delta_crl, *spec.delta_base, true);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer.cert.get(), nullptr, nullptr, crl.get(), 0);
  if (spec.authority_key_id) {
    addConfExtension(crl.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  }
  if (!spec.freshest.empty()) {
    std::string names;
    for (const auto& uri : spec.freshest) names += (names.empty() ? "URI:" : ",URI:") + uri;
    addConfExtension(crl.get(), &ctx, NID_freshest_crl, names);
  }
  if (!spec.idp.empty()) addConfExtension(crl.get(), &ctx, NID_issuing_distribution_point, spec.idp);
  if (spec.extra_extension) REQUIRE(X509_CRL_add_ext(crl.get(), spec.extra_extension->get(), -1));
  return crl;
}

std::string signCrl(X509_CRL* crl, const Identity& signer) {
  REQUIRE(X509_CRL_sign(crl, signer.key.get(), EVP_sha256()) > 0);
  return toDer(crl, i2d_X509_CRL);
}

std::string makeCrl(const Identity& issuer, const std::vector<EntrySpec>& entries,
                    const CrlSpec& spec) {
  auto crl = newCrl(issuer, spec);
  for (const auto& e : entries) addEntry(crl.get(), e);
  return signCrl(crl.get(), issuer);
}

std::string makeCrl(const Identity& issuer, int64_t this_update, std::optional<int64_t> next_update,
                    const std::vector<long>& serials) {
  X509CrlPtr crl(X509_CRL_new());
  REQUIRE(crl);
  X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2);
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer.cert.get()));
  Asn1TimePtr last(ASN1_TIME_set(nullptr, static_cast<time_t>(this_update)));
  X509_CRL_set1_lastUpdate(crl.get(), last.get());
  if (next_update) {
    Asn1TimePtr next(ASN1_TIME_set(nullptr, static_cast<time_t>(*next_update)));
    X509_CRL_set1_nextUpdate(crl.get(), next.get());
  }
  for (long serial : serials) {
    X509_REVOKED* entry = X509_REVOKED_new();
    Asn1IntegerPtr number(ASN1_INTEGER_new());
    ASN1_INTEGER_set(number.get(), serial);
    X509_REVOKED_set_serialNumber(entry, number.get());
    X509_REVOKED_set_revocationDate(entry, last.get());
    REQUIRE(X509_CRL_add0_revoked(crl.get(), entry) == 1);
  }
  REQUIRE(X509_CRL_sign(crl.get(), issuer.key.get(), EVP_sha256()) > 0);
  return toDer(crl.get(), i2d_X509_CRL);
}

}  // namespace ocsp::test
