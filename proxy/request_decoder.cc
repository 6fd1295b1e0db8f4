#include "proxy/request_decoder.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>

#include <algorithm>
#include <cstring>
#include <optional>

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

// The parse half of decodeOcspDer: `der` is exactly one DER OCSPRequest, or why not.
Result<OcspRequestPtr> parseRequestDer(std::string_view der) {
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
  return req;
}

// The query of a parsed request: its CertIDs checked, its nonce.
Result<OcspQuery> queryOf(OCSP_REQUEST* req, std::string_view der, size_t max_cert_ids) {
  OcspQuery q;
  q.request_der.assign(der);
  int n = OCSP_request_onereq_count(req);
  if (n <= 0) return malformed("no_certid", "request lists no CertID");
  if (static_cast<size_t>(n) > max_cert_ids) {
    return malformed("too_many_cert_ids",
                     "request lists " + std::to_string(n) +
                         " CertIDs (limits.max_cert_ids_per_request is " +
                         std::to_string(max_cert_ids) + ")");
  }
  q.cert_ids.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    OCSP_ONEREQ* one = OCSP_request_onereq_get0(req, i);
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
  int idx = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1);
  if (idx >= 0) {
    X509_EXTENSION* ext = OCSP_REQUEST_get_ext(req, idx);
    const ASN1_OCTET_STRING* v = X509_EXTENSION_get_data(ext);
    q.nonce = std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(v)),
                          static_cast<size_t>(ASN1_STRING_length(v)));
  }
  q.key = cacheKeyFor(q.cert_ids);
  return q;
}

// True if `text` (base64 or base64url, padding optional) can be the whole encoding of one
// DER SEQUENCE: its first bytes are a SEQUENCE tag with a definite length (RFC 6960 §4.1:
// DER), and the length of `text` is exactly that of the base64 of so many bytes. Reads at
// most 8 characters: the GET path decoder asks it of every suffix of the path.
bool mayEncodeOneSequence(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  auto head = base64Decode(text.substr(0, std::min<size_t>(text.size() & ~size_t{3}, 8)));
  if (!head || head->size() < 2 || static_cast<unsigned char>((*head)[0]) != 0x30) return false;
  const auto first = static_cast<unsigned char>((*head)[1]);
  size_t length = first;
  size_t header = 2;
  if (first >= 0x80) {
    const size_t bytes = first & 0x7f;  // 0: indefinite (BER); over 4: no real request
    if (bytes == 0 || bytes > 4 || head->size() < 2 + bytes) return false;
    length = 0;
    for (size_t i = 0; i < bytes; ++i) length = length << 8 | static_cast<unsigned char>((*head)[2 + i]);
    header += bytes;
  }
  const size_t total = header + length;
  return text.size() == (total * 4 + 2) / 3;  // RFC 4648 §4 without padding
}

}  // namespace

Result<OcspQuery> decodeOcspDer(std::string_view der, size_t max_cert_ids) {
  auto req = parseRequestDer(der);
  if (!req) return req.error();
  return queryOf(req->get(), der, max_cert_ids);
}

Result<OcspQuery> decodeOcspGetPath(std::string_view path, size_t max_cert_ids) {
  // RFC 5019 §5, RFC 6960 Appendix A.1: the client appends "/" and the URL-encoded base64
  // of the DER to the responder URL of the certificate's AIA, which may have a path of its
  // own ("/gts1c3", "/gsrsaovsslca2018/"). Clients URL-encode it, some only partly, some
  // form-decode it ('+' -> ' '): escapes are decoded first, spaces read as '+'.
  auto unescaped = percentDecode(path);
  if (!unescaped) return malformed("bad_escape", "malformed %-escape in GET path");
  std::string& text = *unescaped;
  std::replace(text.begin(), text.end(), ' ', '+');
  // The base64 may itself contain '/', so the request is the longest suffix starting after
  // a '/' that is one DER OCSPRequest. A suffix whose length cannot be that of its
  // SEQUENCE costs a few character reads; at most kMaxGetPathCandidates are decoded in
  // full, so a path of many slashes costs little.
  const std::string_view all(text);
  std::optional<Error> first_error;
  size_t decoded = 0;
  for (size_t start = all.empty() || all.front() != '/' ? 0 : 1;
       start != std::string_view::npos && decoded < kMaxGetPathCandidates;) {
    const std::string_view candidate = all.substr(start);
    const size_t slash = candidate.find('/');
    start = slash == std::string_view::npos ? slash : start + slash + 1;
    if (!mayEncodeOneSequence(candidate)) continue;
    ++decoded;
    auto der = base64Decode(candidate);
    if (!der) continue;
    auto req = parseRequestDer(*der);
    if (req) return queryOf(req->get(), *der, max_cert_ids);
    if (!first_error) first_error = req.error();
  }
  if (first_error) return *first_error;
  // Nothing that could be a request: what the whole path is, as before paths had prefixes.
  std::string_view whole = all;
  if (!whole.empty() && whole.front() == '/') whole.remove_prefix(1);
  auto der = base64Decode(whole);
  if (!der) return malformed("bad_base64", "GET path is not base64");
  return decodeOcspDer(*der, max_cert_ids);
}


}  // namespace ocsp
