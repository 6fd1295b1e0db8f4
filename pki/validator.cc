#include "pki/validator.h"

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <ctime>
#include <mutex>
#include <string>
#include <unordered_set>
#include <utility>

#include "core/log.h"

namespace ocsp {
namespace {

Error fail(Reason reason, std::string detail) {
  return makeError(ErrorCategory::ValidationFailed, reason, std::move(detail));
}

std::string bytesOf(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

std::string timeText(const ASN1_TIME* t) {
  auto epoch = asn1ToEpoch(t);
  return epoch ? rfc3339(*epoch) : "(unreadable time)";
}

// How a CertID reads in a log line: the serial is what operators can look up.
std::string certIdText(const CertIdInfo& id) {
  const char* hash = OBJ_nid2sn(id.hash_nid);
  return "serial " + toHex(id.serial) + " (" + (hash ? hash : "?") + ")";
}

// RFC 6960 §4.2.1 OCSPResponseStatus -> what we tell our own client.
ErrorCategory categoryForStatus(long status) {
  switch (status) {
    case OCSP_RESPONSE_STATUS_MALFORMEDREQUEST:
      return ErrorCategory::MalformedRequest;
    case OCSP_RESPONSE_STATUS_UNAUTHORIZED:
      return ErrorCategory::Unauthorized;
    case OCSP_RESPONSE_STATUS_SIGREQUIRED:
      return ErrorCategory::SigRequired;
    default:
      return ErrorCategory::UpstreamUnavailable;  // internalError, tryLater, unknown
  }
}

// RFC 6960 §4.2.1 requires DER. Besides trailing bytes, re-encoding catches non-DER framing
// outside tbsResponseData (inside it, re-encoding already happens for the signature check),
// so the bytes we cache and serve are exactly one canonical OCSPResponse.
Result<OcspResponsePtr> parseResponse(std::string_view der) {
  if (der.empty()) return fail(Reason::Unparsable, "empty body");
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* const end = p + der.size();
  OcspResponsePtr resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  if (!resp) {
    return fail(Reason::Unparsable, withOpensslErrors("not a DER OCSPResponse (" +
                                                std::to_string(der.size()) + " bytes)"));
  }
  if (p != end) {
    return fail(Reason::Unparsable, std::to_string(end - p) + " trailing bytes after the " +
                                  std::to_string(der.size() - static_cast<size_t>(end - p)) +
                                  "-byte OCSPResponse");
  }
  if (toDer(resp.get(), i2d_OCSP_RESPONSE) != der) {
    return fail(Reason::Unparsable, withOpensslErrors("OCSPResponse is not DER (re-encoding differs)"));
  }
  return resp;
}

// The ResponderID as a log fragment (RFC 6960 §4.2.2.3: byName or byKey).
std::string responderIdText(const OCSP_BASICRESP* bs) {
  const ASN1_OCTET_STRING* key_hash = nullptr;
  const X509_NAME* name = nullptr;
  if (OCSP_resp_get0_id(bs, &key_hash, &name) != 1) return "unreadable ResponderID";
  if (key_hash != nullptr) return "ResponderID byKey " + toHex(bytesOf(key_hash));
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return "ResponderID byName " + std::string(data, static_cast<size_t>(len));
}

struct Signer {
  X509* cert = nullptr;  // owned by the response or by the caller's issuer
  bool delegated = false;
};

// RFC 6960 §4.2.2.2: the signer is the CA itself or a responder the CA delegated to. A
// certificate with the CA's subject and key (e.g. a cross-signed copy embedded by the
// responder) is the CA itself. OpenSSL 3.0 searches `extra` (our issuer) before the
// embedded certificates, so an embedded impostor with the CA's name never shadows the CA.
Result<Signer> findSigner(OCSP_BASICRESP* bs, X509* issuer) {
  X509StackPtr extra(sk_X509_new_null());
  if (!extra || !X509_up_ref(issuer)) {
    return makeError(ErrorCategory::Internal, Reason::Internal, withOpensslErrors("out of memory"));
  }
  if (!sk_X509_push(extra.get(), issuer)) {
    X509_free(issuer);
    return makeError(ErrorCategory::Internal, Reason::Internal, withOpensslErrors("out of memory"));
  }
  X509* signer = nullptr;
  if (OCSP_resp_get0_signer(bs, &signer, extra.get()) != 1 || signer == nullptr) {
    // sk_X509_num(nullptr) is -1: a response may carry no certs field at all.
    int embedded = std::max(0, sk_X509_num(OCSP_resp_get0_certs(bs)));
    return fail(Reason::SignerNotFound,
                withOpensslErrors("no certificate matches " + responderIdText(bs) + "; issuer " +
                                  subjectLine(issuer) + ", " + std::to_string(embedded) +
                                  " embedded certs"));
  }
  // `signer` is either in the response's certs or `issuer` itself, both outlive `extra`.
  bool is_issuer =
      X509_cmp(signer, issuer) == 0 ||
      (X509_NAME_cmp(X509_get_subject_name(signer), X509_get_subject_name(issuer)) == 0 &&
       EVP_PKEY_eq(X509_get0_pubkey(signer), X509_get0_pubkey(issuer)) == 1);
  return Signer{signer, !is_issuer};
}

// The issuer's signature on a delegated responder certificate is the same for every answer
// that responder signs (a CA's responder signs all of its answers for days): it is verified
// once per (responder certificate, issuer) pair and remembered. Keyed on SHA-256 over both
// certificates' DER, never on pointers; only pairs that verified are kept; at most
// kMaxPairs (then the set starts again empty). Thread-safe. The cheap checks (issuer name,
// validity, EKU) still run for every answer.
class ResponderSignatureMemo {
 public:
  static constexpr size_t kMaxPairs = 4096;

  bool verified(X509* signer, X509* issuer) {
    std::string key = pairKey(signer, issuer);
    if (!key.empty()) {
      std::lock_guard lock(mu_);
      if (pairs_.count(key) != 0) return true;
    }
    if (X509_verify(signer, X509_get0_pubkey(issuer)) != 1) return false;
    if (!key.empty()) {
      std::lock_guard lock(mu_);
      if (pairs_.size() >= kMaxPairs) pairs_.clear();
      pairs_.insert(std::move(key));
    }
    return true;
  }

 private:
  // Empty when a digest cannot be made: then nothing is remembered.
  static std::string pairKey(X509* signer, X509* issuer) {
    unsigned char md[2 * EVP_MAX_MD_SIZE];
    unsigned int signer_len = 0;
    unsigned int issuer_len = 0;
    if (X509_digest(signer, EVP_sha256(), md, &signer_len) != 1 ||
        X509_digest(issuer, EVP_sha256(), md + signer_len, &issuer_len) != 1) {
      ERR_clear_error();
      return {};
    }
    return std::string(reinterpret_cast<const char*>(md), signer_len + issuer_len);
  }

  std::mutex mu_;
  std::unordered_set<std::string> pairs_;
};

bool responderSignedByIssuer(X509* signer, X509* issuer) {
  static ResponderSignatureMemo memo;
  return memo.verified(signer, issuer);
}

// A certificate's validity period, seconds since epoch.
struct Validity {
  int64_t not_before = 0;
  int64_t not_after = 0;
};

// RFC 6960 §4.2.2.2 delegation rules, each failure with its own code. Validity is checked
// before the EKU so that a responder certificate that is simply out of date (the common
// operational failure) is reported as such even when it also lacks the EKU. Returns the
// responder certificate's validity, which the check at `now` compared against.
Result<Validity> checkDelegatedResponder(X509* signer, X509* issuer, int64_t now) {
  const std::string who = "delegated responder " + subjectLine(signer);
  int issued = X509_check_issued(issuer, signer);
  if (issued != X509_V_OK) {
    return fail(Reason::ResponderNotIssuedByIssuer,
                withOpensslErrors(who + " is not issued by " + subjectLine(issuer) + ": " +
                                  X509_verify_cert_error_string(issued)));
  }
  if (!responderSignedByIssuer(signer, issuer)) {
    return fail(Reason::ResponderNotIssuedByIssuer,
                withOpensslErrors(who + " names " + subjectLine(issuer) +
                                  " as issuer but its signature does not verify with its key"));
  }
  // X509_cmp_time: -1 when the certificate time is <= now, 1 when after, 0 when unreadable.
  time_t at = static_cast<time_t>(now);
  const ASN1_TIME* not_before = X509_get0_notBefore(signer);
  const ASN1_TIME* not_after = X509_get0_notAfter(signer);
  // Both bounds are whole seconds (X509_cmp_time reads only YYMMDDHHMMSSZ and
  // YYYYMMDDHHMMSSZ), so the check reads not_before <= now < not_after in epoch seconds.
  auto not_before_epoch = asn1ToEpoch(not_before);
  auto not_after_epoch = asn1ToEpoch(not_after);
  if (X509_cmp_time(not_before, &at) != -1 || X509_cmp_time(not_after, &at) != 1 ||
      !not_before_epoch || !not_after_epoch) {
    return fail(Reason::ResponderCertExpired,
                withOpensslErrors(who + " is valid " + timeText(not_before) + " .. " +
                                  timeText(not_after) + ", not at " + rfc3339(now)));
  }
  // RFC 6960 §4.2.2.2: "id-kp-OCSPSigning ... in the responder's certificate".
  // X509_get_extension_flags also parses the extensions, which X509_get_extended_key_usage
  // relies on.
  uint32_t flags = X509_get_extension_flags(signer);
  if ((flags & EXFLAG_INVALID) != 0) {
    return fail(Reason::ResponderMissingOcspSigning,
                withOpensslErrors(who + " has unparsable extensions, so no usable EKU"));
  }
  if ((flags & EXFLAG_XKUSAGE) == 0 || (X509_get_extended_key_usage(signer) & XKU_OCSP_SIGN) == 0) {
    return fail(Reason::ResponderMissingOcspSigning,
                who + " lacks id-kp-OCSPSigning in extendedKeyUsage");
  }
  return Validity{*not_before_epoch, *not_after_epoch};
}

// RFC 6960 §4.2.1: the signature is over the DER of tbsResponseData (ResponseData).
Status verifySignature(const OCSP_BASICRESP* bs, X509* key_cert) {
  const X509_ALGOR* alg = OCSP_resp_get0_tbs_sigalg(bs);
  const ASN1_OBJECT* alg_oid = nullptr;
  X509_ALGOR_get0(&alg_oid, nullptr, nullptr, alg);
  const char* alg_name = OBJ_nid2sn(OBJ_obj2nid(alg_oid));
  const std::string what = std::string("response signature (") + (alg_name ? alg_name : "?") +
                           ") by " + subjectLine(key_cert);
  EVP_PKEY* key = X509_get0_pubkey(key_cert);
  if (key == nullptr) {
    return fail(Reason::BadSignature, withOpensslErrors(what + ": signer public key unreadable"));
  }
  int rc = ASN1_item_verify(ASN1_ITEM_rptr(OCSP_RESPDATA), alg, OCSP_resp_get0_signature(bs),
                            OCSP_resp_get0_respdata(bs), key);
  if (rc != 1) return fail(Reason::BadSignature, withOpensslErrors(what + " does not verify"));
  return Ok{};
}

// docs/ARCHITECTURE.md §8: the proxy's own responder signed this answer when its ResponderID
// names `local` and the certificate embedded for it is `local`, byte for byte. Only the
// response's own certificates are searched (no `extra`), so an answer that does not carry the
// certificate is not the proxy's. False sends the answer through the CA rules.
bool signedByLocalResponder(OCSP_BASICRESP* bs, X509* local) {
  X509* signer = nullptr;
  bool found = OCSP_resp_get0_signer(bs, &signer, nullptr) == 1 && signer != nullptr &&
               X509_cmp(signer, local) == 0 &&
               toDer(signer, i2d_X509) == toDer(local, i2d_X509);
  ERR_clear_error();  // "signer not found" here is no error: the CA rules decide
  return found;
}

struct Single {
  CertIdInfo id;
  CertStatus status = CertStatus::Good;
  Revocation revocation;
  int64_t this_update = 0;
  std::optional<int64_t> next_update;
};

// RFC 6960 §4.2.1 SingleResponse fields, converted once.
Result<std::vector<Single>> readSingles(OCSP_BASICRESP* bs) {
  std::vector<Single> out;
  int count = OCSP_resp_count(bs);
  for (int i = 0; i < count; ++i) {
    OCSP_SINGLERESP* sr = OCSP_resp_get0(bs, i);
    Single s;
    // A CertID we cannot read (e.g. unknown hash algorithm) cannot match anything asked.
    if (!certIdInfoFrom(OCSP_SINGLERESP_get0_id(sr), &s.id)) {
      return fail(Reason::CertIdMismatch,
                  withOpensslErrors("SingleResponse #" + std::to_string(i) +
                                    " has an unreadable CertID (unknown hash algorithm?)"));
    }
    int reason = OCSP_REVOKED_STATUS_NOSTATUS;
    ASN1_GENERALIZEDTIME* revoked_at = nullptr;
    ASN1_GENERALIZEDTIME* this_update = nullptr;
    ASN1_GENERALIZEDTIME* next_update = nullptr;
    int status = OCSP_single_get0_status(sr, &reason, &revoked_at, &this_update, &next_update);
    auto this_epoch = asn1ToEpoch(this_update);
    auto next_epoch = asn1ToEpoch(next_update);
    auto revoked_epoch = asn1ToEpoch(revoked_at);
    if (status < 0 || !this_epoch || (next_update != nullptr && !next_epoch) ||
        (status == V_OCSP_CERTSTATUS_REVOKED && !revoked_epoch)) {
      return fail(Reason::Unparsable, withOpensslErrors("SingleResponse for " + certIdText(s.id) +
                                                  " has unreadable status or times"));
    }
    s.this_update = *this_epoch;
    s.next_update = next_epoch;
    switch (status) {
      case V_OCSP_CERTSTATUS_GOOD:
        s.status = CertStatus::Good;
        break;
      case V_OCSP_CERTSTATUS_REVOKED:
        s.status = CertStatus::Revoked;
        s.revocation = Revocation{*revoked_epoch, reason};
        break;
      default:
        s.status = CertStatus::Unknown;
        break;
    }
    out.push_back(std::move(s));
  }
  return out;
}

// RFC 6960 §3.2 item 1 and §4.2.2.3: the answer is for exactly what was asked. Returns the
// index of the SingleResponse answering the first requested CertID.
Result<size_t> matchCertIds(const std::vector<CertIdInfo>& requested,
                            const std::vector<Single>& singles) {
  size_t first = 0;
  for (size_t r = 0; r < requested.size(); ++r) {
    size_t matches = 0;
    for (size_t s = 0; s < singles.size(); ++s) {
      if (!sameCertId(requested[r], singles[s].id)) continue;
      if (matches++ == 0 && r == 0) first = s;
    }
    if (matches != 1) {
      return fail(Reason::CertIdMismatch, "requested CertID " + certIdText(requested[r]) +
                                         " is answered by " + std::to_string(matches) + " of " +
                                         std::to_string(singles.size()) + " SingleResponses");
    }
  }
  for (const auto& single : singles) {
    bool asked = false;
    for (const auto& id : requested) asked = asked || sameCertId(id, single.id);
    if (!asked) {
      return fail(Reason::CertIdMismatch, "SingleResponse for " + certIdText(single.id) +
                                         " answers a CertID that was not requested (" +
                                         std::to_string(requested.size()) + " requested)");
    }
  }
  return first;
}

// RFC 6960 §3.2 items 4 and 5 (and §4.2.2.1 on tolerating clock skew).
Status checkTimes(const std::vector<Single>& singles, int64_t now, int64_t skew_s) {
  for (const auto& s : singles) {
    if (s.this_update > now + skew_s) {
      return fail(Reason::ThisUpdateInFuture, "thisUpdate " + rfc3339(s.this_update) + " of " +
                                               certIdText(s.id) + " is after now " + rfc3339(now) +
                                               " + " + std::to_string(skew_s) + "s skew");
    }
    if (s.next_update && now >= *s.next_update) {
      return fail(Reason::Expired, "nextUpdate " + rfc3339(*s.next_update) + " of " + certIdText(s.id) +
                                 " is not after now " + rfc3339(now));
    }
  }
  return Ok{};
}

// Nonce representation: `expected` is the raw contents of the id-pkix-ocsp-nonce extension's
// extnValue OCTET STRING (X509_EXTENSION_get_data), exactly as the request carried it. For an
// RFC 8954 nonce that is itself the DER of the inner OCTET STRING (04 len bytes...), so no
// re-encoding happens on either side and the comparison is byte for byte.
// The nonce is an optional extension (RFC 6960 §4.4.1) and RFC 5019 responders (pre-produced
// answers, CDNs) leave it out; one a responder includes must be the request's (RFC 8954). Returns whether the
// response echoes it.
Result<bool> checkNonce(OCSP_BASICRESP* bs, const std::string& expected) {
  int idx = OCSP_BASICRESP_get_ext_by_NID(bs, NID_id_pkix_OCSP_Nonce, -1);
  if (idx < 0) return false;
  if (OCSP_BASICRESP_get_ext_by_NID(bs, NID_id_pkix_OCSP_Nonce, idx) >= 0) {
    return fail(Reason::NonceMismatch, "response carries more than one nonce extension");
  }
  std::string got = bytesOf(X509_EXTENSION_get_data(OCSP_BASICRESP_get_ext(bs, idx)));
  if (got != expected) {
    return fail(Reason::NonceMismatch,
                "response nonce " + toHex(got) + " differs from the request's " + toHex(expected));
  }
  return true;
}

}  // namespace

Result<ValidatedResponse> validateResponse(const ValidationInput& in) {
  ErrorQueueGuard clear_errors;
  if ((in.issuer == nullptr && !in.without_issuer) || in.cert_ids == nullptr ||
      in.cert_ids->empty()) {
    return makeError(ErrorCategory::Internal, Reason::Internal,
                     "validateResponse called without an issuer or without requested CertIDs");
  }

  auto resp = parseResponse(in.der);
  if (!resp.ok()) return resp.error();

  // RFC 6960 §4.2.1: only "successful" carries responseBytes.
  long status = OCSP_response_status(resp->get());
  if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    return makeError(categoryForStatus(status), Reason::UpstreamStatus,
                     std::string("upstream answered responseStatus ") +
                         OCSP_response_status_str(status) + " (" + std::to_string(status) + ")");
  }
  OcspBasicRespPtr bs(OCSP_response_get1_basic(resp->get()));
  if (!bs) {
    return fail(Reason::NotBasic, withOpensslErrors("responseBytes missing or not id-pkix-ocsp-basic"));
  }

  bool delegated = false;
  Validity responder_validity;
  if (!in.without_issuer && in.local_responder != nullptr &&
      signedByLocalResponder(bs.get(), in.local_responder)) {
    // Verified with the configured certificate's key, the trust anchor, like a CA's answer.
    Status signature = verifySignature(bs.get(), in.local_responder);
    if (!signature.ok()) return signature.error();
  } else if (!in.without_issuer) {
    auto signer = findSigner(bs.get(), in.issuer);
    if (!signer.ok()) return signer.error();
    if (signer->delegated) {
      auto delegation = checkDelegatedResponder(signer->cert, in.issuer, in.now);
      if (!delegation.ok()) return delegation.error();
      responder_validity = *delegation;
    }
    // CA-direct: verify with the configured issuer's key (the trust anchor), not with the
    // embedded copy, even though both carry the same key.
    Status signature = verifySignature(bs.get(), signer->delegated ? signer->cert : in.issuer);
    if (!signature.ok()) return signature.error();
    delegated = signer->delegated;
  }

  auto singles = readSingles(bs.get());
  if (!singles.ok()) return singles.error();
  auto first = matchCertIds(*in.cert_ids, *singles);
  if (!first.ok()) return first.error();
  Status times = checkTimes(*singles, in.now, in.clock_skew_s);
  if (!times.ok()) return times.error();

  bool nonce_echoed = false;
  if (in.expected_nonce) {
    auto nonce = checkNonce(bs.get(), *in.expected_nonce);
    if (!nonce.ok()) return nonce.error();
    nonce_echoed = *nonce;
  }

  auto produced_at = asn1ToEpoch(OCSP_resp_get0_produced_at(bs.get()));
  if (!produced_at) return fail(Reason::Unparsable, withOpensslErrors("producedAt is unreadable"));

  ValidatedResponse out;
  out.produced_at = *produced_at;
  out.delegated = delegated;
  out.nonce_echoed = nonce_echoed;
  out.responder_not_before = responder_validity.not_before;
  out.responder_not_after = responder_validity.not_after;
  out.this_update = singles->front().this_update;
  out.latest_this_update = singles->front().this_update;
  bool every_single_has_next_update = true;
  for (const auto& s : *singles) {
    out.this_update = std::min(out.this_update, s.this_update);
    out.latest_this_update = std::max(out.latest_this_update, s.this_update);
    if (!s.next_update) {
      every_single_has_next_update = false;
    } else if (out.earliest_next_update == 0 || *s.next_update < out.earliest_next_update) {
      out.earliest_next_update = *s.next_update;
    }
  }
  out.next_update = every_single_has_next_update ? out.earliest_next_update : 0;
  const Single& answer = (*singles)[*first];
  out.status = answer.status;
  if (answer.status == CertStatus::Revoked) out.revocation = answer.revocation;
  return out;
}

// Same rules and order as checkDelegatedResponder's validity and checkTimes.
Status recheckTimes(const ValidatedResponse& accepted, int64_t now, int64_t clock_skew_s) {
  if (accepted.delegated &&
      (now < accepted.responder_not_before || now >= accepted.responder_not_after)) {
    return fail(Reason::ResponderCertExpired, "delegated responder certificate is valid " +
                                              rfc3339(accepted.responder_not_before) + " .. " +
                                              rfc3339(accepted.responder_not_after) + ", not at " +
                                              rfc3339(now));
  }
  if (accepted.latest_this_update > now + clock_skew_s) {
    return fail(Reason::ThisUpdateInFuture, "thisUpdate " + rfc3339(accepted.latest_this_update) +
                                             " is after now " + rfc3339(now) + " + " +
                                             std::to_string(clock_skew_s) + "s skew");
  }
  if (accepted.earliest_next_update != 0 && now >= accepted.earliest_next_update) {
    return fail(Reason::Expired, "nextUpdate " + rfc3339(accepted.earliest_next_update) +
                               " is not after now " + rfc3339(now));
  }
  return Ok{};
}

}  // namespace ocsp
