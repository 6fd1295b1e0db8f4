#include "tools/check_query.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string_view>
#include <utility>

#include "core/cert_id.h"
#include "core/url.h"
#include "pki/issuer_completion.h"
#include "pki/validator.h"
#include "tools/check_http.h"

namespace ocsp::check {
namespace {

Error issuerError(std::string detail) {
  return makeError(ErrorCategory::Config, "no_issuer", std::move(detail));
}

// Reads what the answer says about `id`, without judging it (validateResponse does that).
void describeResponse(std::string_view der, OCSP_CERTID* id, X509* issuer, Report& r) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  OcspResponsePtr response(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  OcspBasicRespPtr basic(response ? OCSP_response_get1_basic(response.get()) : nullptr);
  if (response) r.response_status = OCSP_response_status_str(OCSP_response_status(response.get()));
  if (!basic) {
    ERR_clear_error();
    return;
  }
  r.produced_at = asn1ToEpoch(OCSP_resp_get0_produced_at(basic.get()));
  int status = -1, reason = -1;
  ASN1_GENERALIZEDTIME *revoked = nullptr, *this_update = nullptr, *next_update = nullptr;
  if (OCSP_resp_find_status(basic.get(), id, &status, &reason, &revoked, &this_update,
                            &next_update) == 1) {
    r.cert_status = status == V_OCSP_CERTSTATUS_GOOD      ? CertStatus::Good
                    : status == V_OCSP_CERTSTATUS_REVOKED ? CertStatus::Revoked
                                                          : CertStatus::Unknown;
    r.this_update = asn1ToEpoch(this_update);
    r.next_update = asn1ToEpoch(next_update);
    if (status == V_OCSP_CERTSTATUS_REVOKED) {
      r.revoked_at = asn1ToEpoch(revoked);
      if (reason >= 0) r.revocation_reason = OCSP_crl_reason_str(reason);
    }
  }
  X509StackPtr candidates(sk_X509_new_null());
  if (candidates && X509_up_ref(issuer) == 1 && !sk_X509_push(candidates.get(), issuer)) {
    X509_free(issuer);
  }
  X509* signer = nullptr;
  const ASN1_OCTET_STRING* key_hash = nullptr;
  const X509_NAME* name = nullptr;
  if (OCSP_resp_get0_signer(basic.get(), &signer, candidates.get()) == 1) {
    r.signer = subjectLine(signer);
  } else if (OCSP_resp_get0_id(basic.get(), &key_hash, &name) == 1) {
    r.signer = name != nullptr ? nameLine(name) : "key hash " + toHex(asn1Bytes(key_hash));
  }
  ERR_clear_error();
}

// The first line of a short text body ("refused: ..."), or "".
std::string firstTextLine(const std::string& body) {
  std::string line = body.substr(0, body.find('\n'));
  if (line.size() > 300) return "";
  for (unsigned char c : line) {
    if (c < 0x20 || c >= 0x7f) return "";
  }
  return line;
}

}  // namespace

bool signedBy(X509* cert, X509* issuer) {
  bool ok = X509_check_issued(issuer, cert) == X509_V_OK &&
            X509_verify(cert, X509_get0_pubkey(issuer)) == 1;
  ERR_clear_error();
  return ok;
}

std::optional<Issuer> pickIssuer(std::vector<SharedX509> certs, X509* cert,
                                 bool fallback_to_first) {
  size_t pick = 0;
  while (pick < certs.size() && !signedBy(cert, certs[pick].get())) ++pick;
  if (pick == certs.size()) {
    if (!fallback_to_first || certs.empty()) return std::nullopt;
    pick = 0;
  }
  Issuer issuer;
  issuer.cert = certs[pick];
  certs.erase(certs.begin() + static_cast<std::ptrdiff_t>(pick));
  issuer.others = std::move(certs);
  return issuer;
}

Result<Issuer> issuerFromFile(const std::string& path, X509* cert) {
  std::string why;
  std::vector<SharedX509> certs;
  for (auto& cert : readCertificates(path, &why)) certs.push_back(shareX509(std::move(cert)));
  auto issuer = pickIssuer(std::move(certs), cert, true);
  if (!issuer) return issuerError("--issuer " + path + ": " + why);
  issuer->source = "file";
  issuer->origin = path;
  return std::move(*issuer);
}

Result<Issuer> issuerFromAia(X509* cert, int64_t timeout_ms) {
  auto urls = caIssuersUrls(cert);
  if (urls.empty()) {
    return issuerError(subjectLine(cert) + " names no http caIssuers URL");
  }
  std::string why;
  for (const auto& url : urls) {
    auto download = httpExchange({url, "", std::nullopt, timeout_ms});
    if (!download || download->status != 200) {
      why = url + ": " +
            (download ? "HTTP " + std::to_string(download->status) : download.error().detail);
      continue;
    }
    auto certs = parseIssuerDownload(download->body);
    if (!certs) {
      why = url + ": " + certs.error().detail;
      continue;
    }
    if (auto issuer = pickIssuer(std::move(*certs), cert, false)) {
      issuer->source = "aia";
      issuer->origin = url;
      return std::move(*issuer);
    }
    why = url + ": no certificate there signed " + subjectLine(cert);
  }
  return issuerError("cannot get the issuer from the caIssuers URL: " + why);
}

Result<std::string> ocspUrlOf(X509* cert) {
  std::unique_ptr<STACK_OF(OPENSSL_STRING), FreeWith<X509_email_free>> urls(X509_get1_ocsp(cert));
  for (int i = 0; i < sk_OPENSSL_STRING_num(urls.get()); ++i) {
    std::string url = sk_OPENSSL_STRING_value(urls.get(), i);
    if (auto parsed = parseHttpUrl(url); parsed && parsed->scheme == "http") return url;
  }
  return makeError(ErrorCategory::Config, "no_ocsp_url",
                   subjectLine(cert) + " names no http OCSP URL");
}

std::string serialHex(const X509* cert) {
  std::unique_ptr<BIGNUM, FreeWith<BN_free>> bn(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  OpensslBuffer<char> hex(bn ? BN_bn2hex(bn.get()) : nullptr);
  return hex ? hex.get() : "";
}

Status failAt(Report& r, const char* stage, Error error) {
  r.error_stage = stage;
  return error;
}

Status askStatus(const Question& q, Report& r) {
  r.responder_url = q.url;
  r.route = q.via ? "proxy" : "direct";
  if (q.via) r.proxy_url = *q.via;
  r.hash = q.sha256 ? "sha256" : "sha1";

  // RFC 5019 §2.1.1: one CertID, no nonce, unsigned.
  OcspCertIdPtr id(OCSP_cert_to_id(q.sha256 ? EVP_sha256() : EVP_sha1(), q.cert, q.issuer));
  std::vector<CertIdInfo> ids(1);
  std::string request = id && certIdInfoFrom(id.get(), &ids[0]) ? encodeOcspRequest(ids) : "";
  if (request.empty()) {
    return failAt(r, "request",
                  makeError(ErrorCategory::Internal, "internal",
                            "cannot build the OCSP request: " + opensslErrors()));
  }

  auto answer = httpExchange({q.url, request, q.via, q.timeout_ms});
  if (!answer) {
    Error e = answer.error();
    e.detail = "no answer from " + q.url + (q.via ? " via proxy " + *q.via : "") + ": " + e.detail;
    return failAt(r, "transport", std::move(e));
  }
  r.http_status = answer->status;
  r.elapsed_ms = answer->elapsed_ms;
  for (auto& flag : answer->proxy_flags) addFlag(r, std::move(flag));
  if (answer->status != 200) {
    std::string text = firstTextLine(answer->body);
    return failAt(r, "http",
                  makeError(ErrorCategory::UpstreamUnavailable, "http_status",
                            "HTTP " + std::to_string(answer->status) + " from " +
                                (q.via ? "the proxy " + *q.via : q.url) +
                                (text.empty() ? "" : ": " + text)));
  }

  describeResponse(answer->body, id.get(), q.issuer, r);
  ValidationInput in;
  in.der = answer->body;
  in.cert_ids = &ids;
  in.issuer = q.issuer;
  in.now = q.now;
  auto validated = validateResponse(in);
  if (!validated) {
    r.validation_error = validated.error();
    return failAt(r, "validation", validated.error());
  }
  r.validated = *validated;
  return Ok{};
}

}  // namespace ocsp::check
