#include "pki/ocsp_builder.h"

#include <openssl/ocsp.h>

#include <ctime>
#include <string>
#include <utility>

namespace ocsp {
namespace {

Error fail(std::string detail) {
  return makeError(ErrorCategory::Internal, "build_failed", std::move(detail));
}

// RFC 6960 §4.2.1 writes every time as GeneralizedTime.
Asn1TimePtr generalizedTime(int64_t epoch) {
  return Asn1TimePtr(ASN1_GENERALIZEDTIME_set(nullptr, static_cast<time_t>(epoch)));
}

// RFC 5280 §5.3.1 CRLReason values (7 is unused); -1 leaves revocationReason out.
bool validReason(int reason) { return reason == -1 || (reason >= 0 && reason <= 10 && reason != 7); }

// The rules of the header that OpenSSL would not enforce itself.
Status checkInput(const OcspBuildInput& in) {
  if (in.signer == nullptr || !in.signer->key || !in.signer->cert) {
    return fail("no responder credentials to sign with");
  }
  if (in.singles.empty()) return fail("no CertID to answer");
  if (in.next_update <= in.this_update) {
    return fail("nextUpdate " + std::to_string(in.next_update) + " is not after thisUpdate " +
                std::to_string(in.this_update));
  }
  for (const auto& single : in.singles) {
    if (single.cert_id == nullptr || single.cert_id->der.empty()) {
      return fail("a SingleResponse without the client's CertID");
    }
    if (single.status == CertStatus::Revoked && !validReason(single.revocation.reason)) {
      return fail("revocationReason " + std::to_string(single.revocation.reason) +
                  " is not a CRLReason (RFC 5280 §5.3.1)");
    }
  }
  return Ok{};
}

int statusCode(CertStatus s) {
  switch (s) {
    case CertStatus::Good:
      return V_OCSP_CERTSTATUS_GOOD;
    case CertStatus::Revoked:
      return V_OCSP_CERTSTATUS_REVOKED;
    case CertStatus::Unknown:
      break;
  }
  return V_OCSP_CERTSTATUS_UNKNOWN;
}

Status addSingle(OCSP_BASICRESP* bs, const BuiltSingle& single, const ASN1_TIME* this_update,
                 const ASN1_TIME* next_update) {
  // The client's CertID, decoded from its DER and re-encoded by OCSP_basic_add1_status; the
  // DER came from OpenSSL's own encoder (core/cert_id.h), so the round trip gives the same
  // bytes (RFC 6960 §4.2.2.3: the client matches its request on them).
  const std::string& der = single.cert_id->der;
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  OcspCertIdPtr id(d2i_OCSP_CERTID(nullptr, &p, static_cast<long>(der.size())));
  if (!id) return fail(withOpensslErrors("the client's CertID does not decode"));
  Asn1TimePtr revoked_at;
  int reason = OCSP_REVOKED_STATUS_NOSTATUS;
  if (single.status == CertStatus::Revoked) {
    revoked_at = generalizedTime(single.revocation.time);
    if (!revoked_at) return fail(withOpensslErrors("revocationTime out of range"));
    reason = single.revocation.reason;  // -1 == OCSP_REVOKED_STATUS_NOSTATUS: no reason given
  }
  // OpenSSL declares the time arguments non-const; it copies them.
  if (OCSP_basic_add1_status(bs, id.get(), statusCode(single.status), reason, revoked_at.get(),
                             const_cast<ASN1_TIME*>(this_update),
                             const_cast<ASN1_TIME*>(next_update)) == nullptr) {
    return fail(withOpensslErrors("OCSP_basic_add1_status refused the SingleResponse"));
  }
  return Ok{};
}

}  // namespace

Result<std::string> buildOcspResponse(const OcspBuildInput& in) {
  ErrorQueueGuard clear_errors;
  Status input = checkInput(in);
  if (!input.ok()) return input.error();

  OcspBasicRespPtr bs(OCSP_BASICRESP_new());
  Asn1TimePtr this_update = generalizedTime(in.this_update);
  Asn1TimePtr next_update = generalizedTime(in.next_update);
  if (!bs || !this_update || !next_update) {
    return fail(withOpensslErrors("out of memory or a time out of range"));
  }
  for (const auto& single : in.singles) {
    Status added = addSingle(bs.get(), single, this_update.get(), next_update.get());
    if (!added.ok()) return added.error();
  }
  // producedAt is the caller's, not the signing moment (OCSP_NOTIME): the bridge gives one
  // clock to every part of an answer. OpenSSL has no setter for it, only the field itself,
  // which OCSP_basic_sign encodes as it finds it.
  auto* produced_at = const_cast<ASN1_GENERALIZEDTIME*>(OCSP_resp_get0_produced_at(bs.get()));
  if (produced_at == nullptr ||
      ASN1_GENERALIZEDTIME_set(produced_at, static_cast<time_t>(in.produced_at)) == nullptr) {
    return fail(withOpensslErrors("producedAt out of range"));
  }
  // ResponderID byKey (OCSP_RESPID_KEY); OCSP_basic_sign embeds the signer's certificate
  // (no OCSP_NOCERTS) and adds no nonce.
  const EVP_MD* md = sha256Md();
  if (md == nullptr ||
      OCSP_basic_sign(bs.get(), in.signer->cert.get(), in.signer->key.get(), md, nullptr,
                      OCSP_RESPID_KEY | OCSP_NOTIME) != 1) {
    return fail(withOpensslErrors("signing with the responder key of " + in.signer->subject +
                                  " failed"));
  }
  OcspResponsePtr resp(OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs.get()));
  if (!resp) return fail(withOpensslErrors("OCSP_response_create failed"));
  std::string der = toDer(resp.get(), i2d_OCSP_RESPONSE);
  if (der.empty()) return fail(withOpensslErrors("encoding the OCSPResponse failed"));
  return der;
}

}  // namespace ocsp
