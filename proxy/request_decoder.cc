#include "proxy/request_decoder.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>

#include <cstring>

#include "core/base64.h"

namespace ocsp {

namespace {

Error malformed(std::string code, std::string detail) {
  return makeError(ErrorCategory::MalformedRequest, std::move(code), std::move(detail));
}

// Digest length for the CertID's hash algorithm, 0 if we do not know the algorithm.
int digestLength(int nid) {
  const EVP_MD* md = EVP_get_digestbynid(nid);
  return md != nullptr ? EVP_MD_get_size(md) : 0;
}

bool isReencodedAs(OCSP_REQUEST* req, std::string_view der) {
  unsigned char* out = nullptr;
  const int n = i2d_OCSP_REQUEST(req, &out);
  const bool same = n >= 0 && static_cast<size_t>(n) == der.size() &&
                    std::memcmp(out, der.data(), der.size()) == 0;
  OPENSSL_free(out);
  if (n < 0) ERR_clear_error();
  return same;
}

}  // namespace

Result<OcspQuery> decodeOcspDer(std::string_view der, size_t max_cert_ids) {
  if (der.empty()) return malformed("empty", "empty request body");
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  OcspRequestPtr req(d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(der.size())));
  if (!req) {
    ERR_clear_error();
    return malformed("not_der", "not a DER OCSPRequest");
  }
  if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return malformed("trailing_bytes", "bytes after the OCSPRequest");
  }
  // RFC 6960 §4.1 (and Appendix B): the request is DER. d2i also takes BER (indefinite
  // lengths, lengths in more bytes than needed, ...); DER has one encoding per value, so a
  // request is DER exactly when encoding what was parsed gives back the same bytes.
  if (!isReencodedAs(req.get(), der)) {
    return malformed("not_der", "the OCSPRequest is BER, not DER (RFC 6960 §4.1)");
  }
  OcspQuery q;
  q.request_der.assign(der);
  int n = OCSP_request_onereq_count(req.get());
  if (n <= 0) return malformed("no_certid", "request lists no CertID");
  if (static_cast<size_t>(n) > max_cert_ids) {
    return malformed("too_many_cert_ids",
                     "request lists " + std::to_string(n) +
                         " CertIDs (limits.max_cert_ids_per_request is " +
                         std::to_string(max_cert_ids) + ")");
  }
  q.cert_ids.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    OCSP_ONEREQ* one = OCSP_request_onereq_get0(req.get(), i);
    CertIdInfo info;
    if (!certIdInfoFrom(OCSP_onereq_get0_id(one), &info)) {
      ERR_clear_error();
      return malformed("bad_certid", "CertID " + std::to_string(i) + " is not well formed");
    }
    int want = digestLength(info.hash_nid);
    if (want == 0) {
      return malformed("unknown_hash", "CertID " + std::to_string(i) + " uses an unknown hash algorithm");
    }
    if (static_cast<int>(info.issuer_name_hash.size()) != want ||
        static_cast<int>(info.issuer_key_hash.size()) != want) {
      return malformed("bad_hash_length", "CertID " + std::to_string(i) + " hash length does not match its algorithm");
    }
    // The answer must carry one SingleResponse per CertID asked (RFC 6960 §4.2.2.3); with
    // one CertID twice no answer can, so the request is refused here rather than sent.
    for (const CertIdInfo& earlier : q.cert_ids) {
      if (sameCertId(earlier, info)) {
        return malformed("duplicate_certid", "CertID " + std::to_string(i) + " repeats an earlier one");
      }
    }
    q.cert_ids.push_back(std::move(info));
  }
  int idx = OCSP_REQUEST_get_ext_by_NID(req.get(), NID_id_pkix_OCSP_Nonce, -1);
  if (idx >= 0) {
    X509_EXTENSION* ext = OCSP_REQUEST_get_ext(req.get(), idx);
    const ASN1_OCTET_STRING* v = X509_EXTENSION_get_data(ext);
    q.nonce = std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(v)),
                          static_cast<size_t>(ASN1_STRING_length(v)));
  }
  q.key = cacheKeyFor(q.cert_ids);
  return q;
}

Result<OcspQuery> decodeOcspGetPath(std::string_view path, size_t max_cert_ids) {
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  // RFC 5019 §5: the base64 may itself contain '/', so the whole rest of the path is the
  // encoded request. Clients URL-encode it, some only partly; decode escapes first.
  auto unescaped = percentDecode(path);
  if (!unescaped) return malformed("bad_escape", "malformed %-escape in GET path");
  auto der = base64Decode(*unescaped);
  if (!der) return malformed("bad_base64", "GET path is not base64");
  return decodeOcspDer(*der, max_cert_ids);
}

}  // namespace ocsp
