#include "tests/unit/test_pki.h"

#include <doctest/doctest.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "tests/unit/test_util.h"

namespace ocsp::test {
namespace {

void addExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  REQUIRE_MESSAGE(ext != nullptr, std::string(OBJ_nid2sn(nid)) << ": " << opensslErrors());
  REQUIRE(X509_add_ext(cert, ext, -1) == 1);
  X509_EXTENSION_free(ext);
}

EvpPkeyPtr keyFor(const CertSpec& spec) {
  if (spec.key == nullptr) return EvpPkeyPtr(EVP_EC_gen("P-256"));
  REQUIRE(EVP_PKEY_up_ref(spec.key) == 1);
  return EvpPkeyPtr(spec.key);
}

}  // namespace

X509Ptr loadCert(const std::string& relative) {
  std::string why;
  auto certs = readCertificates(realData(relative), &why);
  REQUIRE_MESSAGE(!certs.empty(), relative << ": " << why);
  return std::move(certs.front());
}

std::string pemOf(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(bio);
  REQUIRE(PEM_write_bio_X509(bio.get(), cert) == 1);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Identity issue(const CertSpec& spec, const Identity* issuer) {
  static long next_serial = 1;  // test-only; the tests run on one thread
  Identity id{keyFor(spec), X509Ptr(X509_new())};
  REQUIRE(id.key);
  X509* cert = id.cert.get();
  X509_set_version(cert, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), spec.serial != 0 ? spec.serial : next_serial++);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("ocsp-proxy tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.cn.c_str()), -1, -1, 0);
  X509* signer_cert = issuer ? issuer->cert.get() : cert;
  X509_set_issuer_name(cert, X509_get_subject_name(signer_cert));
  ASN1_TIME_set(X509_getm_notBefore(cert), static_cast<time_t>(spec.not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert), static_cast<time_t>(spec.not_after));
  X509_set_pubkey(cert, id.key.get());

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, signer_cert, cert, nullptr, nullptr, 0);
  addExtension(cert, &ctx, NID_subject_key_identifier, "hash");
  addExtension(cert, &ctx, NID_authority_key_identifier, "keyid:always");
  if (spec.ca) {
    addExtension(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    addExtension(cert, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
  } else {
    addExtension(cert, &ctx, NID_basic_constraints, "CA:FALSE");
    addExtension(cert, &ctx, NID_key_usage, "critical,digitalSignature");
    addExtension(cert, &ctx, NID_ext_key_usage, spec.ocsp_signing ? "OCSPSigning" : "serverAuth");
  }
  if (!spec.aia.empty()) addExtension(cert, &ctx, NID_info_access, spec.aia.c_str());
  EVP_PKEY* signer_key = issuer ? issuer->key.get() : id.key.get();
  REQUIRE(X509_sign(cert, signer_key, EVP_sha256()) > 0);
  return id;
}

OcspCertIdPtr certIdFor(const Identity& ca, long serial, const EVP_MD* md) {
  Asn1IntegerPtr s(ASN1_INTEGER_new());
  ASN1_INTEGER_set(s.get(), serial);
  X509* cert = ca.cert.get();
  return OcspCertIdPtr(
      OCSP_cert_id_new(md, X509_get_subject_name(cert), X509_get0_pubkey_bitstr(cert), s.get()));
}

CertIdInfo infoOf(const OcspCertIdPtr& id) {
  CertIdInfo info;
  REQUIRE(certIdInfoFrom(id.get(), &info));
  return info;
}

std::vector<CertIdInfo> certIdsIn(const std::string& response_der) {
  const auto* p = reinterpret_cast<const unsigned char*>(response_der.data());
  OcspResponsePtr resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(response_der.size())));
  REQUIRE(resp);
  OcspBasicRespPtr bs(OCSP_response_get1_basic(resp.get()));
  REQUIRE(bs);
  std::vector<CertIdInfo> ids;
  for (int i = 0; i < OCSP_resp_count(bs.get()); ++i) {
    CertIdInfo id;
    REQUIRE(certIdInfoFrom(OCSP_SINGLERESP_get0_id(OCSP_resp_get0(bs.get(), i)), &id));
    ids.push_back(id);
  }
  return ids;
}

ResponderCredentials credentialsOf(const Identity& id) {
  ResponderCredentials c;
  REQUIRE(EVP_PKEY_up_ref(id.key.get()) == 1);
  c.key = std::shared_ptr<EVP_PKEY>(id.key.get(), EVP_PKEY_free);
  REQUIRE(X509_up_ref(id.cert.get()) == 1);
  c.cert = shareX509(X509Ptr(id.cert.get()));
  c.cert_der = toDer(id.cert.get(), i2d_X509);
  c.subject = subjectLine(id.cert.get());
  auto not_after = asn1ToEpoch(X509_get0_notAfter(id.cert.get()));
  REQUIRE(not_after.has_value());
  c.not_after = *not_after;
  return c;
}

std::string makeResponse(const std::vector<SingleSpec>& singles, const Identity& signer,
                         const SignSpec& sign) {
  OcspBasicRespPtr bs(OCSP_BASICRESP_new());
  for (const auto& s : singles) {
    Asn1TimePtr this_update(ASN1_TIME_set(nullptr, static_cast<time_t>(s.this_update)));
    Asn1TimePtr next_update(
        s.next_update ? ASN1_TIME_set(nullptr, static_cast<time_t>(*s.next_update)) : nullptr);
    Asn1TimePtr revoked_at(ASN1_TIME_set(nullptr, static_cast<time_t>(kT - 30 * kDay)));
    REQUIRE(OCSP_basic_add1_status(bs.get(), s.id, s.status, s.reason, revoked_at.get(),
                                   this_update.get(), next_update.get()) != nullptr);
  }
  if (sign.nonce) {
    auto* bytes = reinterpret_cast<unsigned char*>(const_cast<char*>(sign.nonce->data()));
    REQUIRE(OCSP_basic_add1_nonce(bs.get(), bytes, static_cast<int>(sign.nonce->size())) == 1);
  }
  X509StackPtr extra(sk_X509_new_null());
  REQUIRE(extra);
  for (X509* c : sign.extra_certs) {
    REQUIRE(X509_up_ref(c) == 1);
    REQUIRE(sk_X509_push(extra.get(), c) > 0);
  }
  REQUIRE(OCSP_basic_sign(bs.get(), signer.cert.get(), signer.key.get(), EVP_sha256(), extra.get(),
                          sign.flags) == 1);
  OcspResponsePtr resp(OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs.get()));
  REQUIRE(resp);
  return toDer(resp.get(), i2d_OCSP_RESPONSE);
}

}  // namespace ocsp::test
