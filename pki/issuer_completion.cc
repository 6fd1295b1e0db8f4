#include "pki/issuer_completion.h"

#include <dirent.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <memory>
#include <utility>

#include "core/log.h"
#include "core/url.h"

namespace ocsp {
namespace {

using AiaPtr = std::unique_ptr<AUTHORITY_INFO_ACCESS,
                               OsslDeleter<AUTHORITY_INFO_ACCESS, AUTHORITY_INFO_ACCESS_free>>;
using Pkcs7Ptr = std::unique_ptr<PKCS7, OsslDeleter<PKCS7, PKCS7_free>>;
using StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX, OsslDeleter<X509_STORE_CTX, X509_STORE_CTX_free>>;

// PEM_read_bio allocates its three outputs with OPENSSL_malloc (a macro, so no function
// pointer to hand to OsslDeleter).
struct OpensslFree {
  void operator()(void* p) const { OPENSSL_free(p); }
};
using OpensslString = std::unique_ptr<char, OpensslFree>;
using OpensslBytes = std::unique_ptr<unsigned char, OpensslFree>;

Error notACertificate(std::string detail) {
  return makeError(ErrorCategory::ValidationFailed, "not_a_certificate",
                   withOpensslErrors(std::move(detail)));
}

SharedX509 shareUpRef(X509* cert) {
  if (X509_up_ref(cert) != 1) return nullptr;
  return shareX509(X509Ptr(cert));
}

// RFC 3986 §3.1: schemes are case-insensitive; parseHttpUrl lower-cases it for us.
bool isHttpUri(std::string_view uri) {
  auto url = parseHttpUrl(uri);
  return url.ok() && url->scheme == "http";
}

// The certificates of a PKCS#7 SignedData (RFC 2315 §9.1; certs-only when it has no
// signers, as caIssuers bundles are). Signers, if any, are not checked: the certificates are
// only candidates, trusted through verifyIssuerChain alone.
Result<std::vector<SharedX509>> certsOfPkcs7(PKCS7* p7) {
  if (PKCS7_type_is_signed(p7) == 0 || p7->d.sign == nullptr) {
    return notACertificate("PKCS#7 content type " + std::string(OBJ_nid2sn(OBJ_obj2nid(p7->type))) +
                           " is not signedData");
  }
  STACK_OF(X509)* certs = p7->d.sign->cert;
  std::vector<SharedX509> out;
  for (int i = 0; i < sk_X509_num(certs); ++i) {  // sk_X509_num(nullptr) is -1
    SharedX509 cert = shareUpRef(sk_X509_value(certs, i));
    if (!cert) return makeError(ErrorCategory::Internal, "internal", "X509_up_ref failed");
    out.push_back(std::move(cert));
  }
  if (out.empty()) return notACertificate("PKCS#7 SignedData holds no certificate");
  return out;
}

// One DER (or, for PKCS#7, BER) object that must span `der` exactly.
Result<std::vector<SharedX509>> parseDerObject(std::string_view der, bool allow_certificate,
                                               bool allow_pkcs7) {
  const auto* const begin = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* const end = begin + der.size();
  const long len = static_cast<long>(der.size());
  auto trailing = [&](const unsigned char* p, const char* what) {
    return notACertificate(std::to_string(end - p) + " trailing bytes after the " +
                           std::to_string(p - begin) + "-byte " + what);
  };
  if (allow_certificate) {
    const unsigned char* p = begin;
    X509Ptr cert(d2i_X509(nullptr, &p, len));
    if (cert) {
      if (p != end) return trailing(p, "certificate");
      return std::vector<SharedX509>{shareX509(std::move(cert))};
    }
    if (allow_pkcs7) ERR_clear_error();  // the PKCS#7 attempt reports its own reason
  }
  if (allow_pkcs7) {
    const unsigned char* p = begin;
    Pkcs7Ptr p7(d2i_PKCS7(nullptr, &p, len));
    if (p7) {
      if (p != end) return trailing(p, "PKCS#7");
      return certsOfPkcs7(p7.get());
    }
  }
  const char* expected = allow_certificate && allow_pkcs7 ? "a certificate or a PKCS#7 bundle"
                         : allow_certificate              ? "a certificate"
                                                          : "a PKCS#7 bundle";
  return notACertificate(std::to_string(der.size()) + " bytes are not " + expected);
}

bool isEndOfPem() {
  unsigned long e = ERR_peek_last_error();
  return ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
}

// RFC 7468: text around the blocks is allowed; blocks of other types are skipped.
Result<std::vector<SharedX509>> parsePem(std::string_view text) {
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) return makeError(ErrorCategory::Internal, "internal", "BIO_new_mem_buf failed");
  std::vector<SharedX509> out;
  int blocks = 0;
  for (;;) {
    char* raw_name = nullptr;
    char* raw_header = nullptr;
    unsigned char* raw_data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &raw_name, &raw_header, &raw_data, &len) != 1) break;
    OpensslString name(raw_name);
    OpensslString header(raw_header);
    OpensslBytes data(raw_data);
    ++blocks;
    std::string_view type(name.get());
    bool is_cert = type == PEM_STRING_X509 || type == PEM_STRING_X509_OLD;
    bool is_pkcs7 = type == PEM_STRING_PKCS7;
    if (!is_cert && !is_pkcs7) continue;
    std::string_view der(reinterpret_cast<const char*>(data.get()), static_cast<size_t>(len));
    auto certs = parseDerObject(der, is_cert, is_pkcs7);
    if (!certs.ok()) {
      Error e = certs.error();
      e.detail =
          "PEM block " + std::to_string(blocks) + " (" + std::string(type) + "): " + e.detail;
      return e;
    }
    for (auto& c : *certs) out.push_back(std::move(c));
  }
  if (!isEndOfPem()) {
    return notACertificate("malformed PEM after " + std::to_string(blocks) + " blocks");
  }
  ERR_clear_error();  // "no start line" only marks the end of the input
  if (out.empty()) {
    return notACertificate(std::to_string(text.size()) + " bytes are neither DER nor PEM with a " +
                           "CERTIFICATE or PKCS7 block (" + std::to_string(blocks) +
                           " other PEM blocks)");
  }
  return out;
}

Error trustStoreError(const std::string& path, const std::string& reason) {
  return makeError(ErrorCategory::Config, "trust_store",
                   "trust store " + path + ": " + withOpensslErrors(reason));
}

// `openssl rehash` / c_rehash names a certificate "<8 hex digits>.<n>" (CRLs get ".r<n>").
bool isHashedCertName(std::string_view name) {
  if (name.size() < 10 || name[8] != '.') return false;
  for (size_t i = 0; i < 8; ++i) {
    if (!std::isxdigit(static_cast<unsigned char>(name[i]))) return false;
  }
  for (size_t i = 9; i < name.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(name[i]))) return false;
  }
  return true;
}

Status checkHashedDirectory(const std::string& path) {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(path.c_str()), closedir);
  if (!dir) return trustStoreError(path, std::strerror(errno));
  while (const dirent* entry = readdir(dir.get())) {
    if (isHashedCertName(entry->d_name)) return Ok{};
  }
  return trustStoreError(path,
                         "directory has no hashed certificate names (<8 hex>.<n>); "
                         "run `openssl rehash` on it");
}

size_t certificatesIn(X509_STORE* store) {
  size_t n = 0;
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    if (X509_OBJECT_get_type(sk_X509_OBJECT_value(objects, i)) == X509_LU_X509) ++n;
  }
  return n;
}

}  // namespace

std::vector<SharedX509> embeddedResponderCerts(std::string_view ocsp_response_der) {
  ErrorQueueGuard guard;
  std::vector<SharedX509> out;
  const auto* p = reinterpret_cast<const unsigned char*>(ocsp_response_der.data());
  const unsigned char* const end = p + ocsp_response_der.size();
  OcspResponsePtr resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(ocsp_response_der.size())));
  if (!resp || p != end) return out;
  if (OCSP_response_status(resp.get()) != OCSP_RESPONSE_STATUS_SUCCESSFUL) return out;
  OcspBasicRespPtr basic(OCSP_response_get1_basic(resp.get()));
  if (!basic) return out;
  const STACK_OF(X509)* certs = OCSP_resp_get0_certs(basic.get());
  for (int i = 0; i < sk_X509_num(certs); ++i) {  // sk_X509_num(nullptr) is -1
    SharedX509 cert = shareUpRef(sk_X509_value(certs, i));
    if (!cert) return {};
    out.push_back(std::move(cert));
  }
  return out;
}

std::vector<std::string> caIssuersUrls(X509* cert) {
  ErrorQueueGuard guard;
  std::vector<std::string> out;
  if (cert == nullptr) return out;
  // Null when absent, malformed, or present twice (RFC 5280 §4.2: at most one instance).
  AiaPtr aia(static_cast<AUTHORITY_INFO_ACCESS*>(
      X509_get_ext_d2i(cert, NID_info_access, nullptr, nullptr)));
  for (int i = 0; i < sk_ACCESS_DESCRIPTION_num(aia.get()); ++i) {
    const ACCESS_DESCRIPTION* ad = sk_ACCESS_DESCRIPTION_value(aia.get(), i);
    if (OBJ_obj2nid(ad->method) != NID_ad_ca_issuers) continue;
    if (ad->location == nullptr || ad->location->type != GEN_URI) continue;
    std::string_view uri = asn1Bytes(ad->location->d.uniformResourceIdentifier);
    if (isHttpUri(uri)) out.emplace_back(uri);
  }
  return out;
}

Result<std::vector<SharedX509>> parseIssuerDownload(std::string_view bytes) {
  ErrorQueueGuard guard;
  if (bytes.empty()) return notACertificate("empty download");
  if (bytes.size() > static_cast<size_t>(INT_MAX)) return notACertificate("download too large");
  if (bytes.front() != 0x30) return parsePem(bytes);
  // A SEQUENCE tag: DER (or BER PKCS#7). PEM whose explanatory text starts with '0' (0x30)
  // is still read as PEM.
  auto der = parseDerObject(bytes, true, true);
  if (der.ok() || bytes.find("-----BEGIN ") == std::string_view::npos) return der;
  ERR_clear_error();
  return parsePem(bytes);
}

bool matchesCertId(X509* cert, const CertIdInfo& id) {
  ErrorQueueGuard guard;
  if (cert == nullptr) return false;
  const EVP_MD* md = EVP_get_digestbynid(id.hash_nid);
  if (md == nullptr) return false;
  auto digest = [md](std::string_view data, std::string* out) {
    unsigned char buf[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), buf, &len, md, nullptr) != 1) return false;
    out->assign(reinterpret_cast<const char*>(buf), len);
    return true;
  };
  std::string name_hash;
  std::string key_hash;
  const ASN1_BIT_STRING* key = X509_get0_pubkey_bitstr(cert);
  std::string subject_der = toDer(X509_get_subject_name(cert), i2d_X509_NAME);
  return key != nullptr && !subject_der.empty() && digest(subject_der, &name_hash) &&
         name_hash == id.issuer_name_hash && digest(asn1Bytes(key), &key_hash) &&
         key_hash == id.issuer_key_hash;
}

Status verifyIssuerChain(X509* candidate, X509_STORE* trust_store, STACK_OF(X509) * untrusted,
                         int64_t now) {
  ErrorQueueGuard guard;
  if (candidate == nullptr || trust_store == nullptr) {
    return makeError(ErrorCategory::Internal, "internal",
                     "verifyIssuerChain needs a candidate and a trust store");
  }
  if (X509_check_ca(candidate) != 1) {
    return makeError(ErrorCategory::ValidationFailed, "not_a_ca",
                     subjectLine(candidate) +
                         " is not a CA certificate (needs basicConstraints CA:TRUE and, with "
                         "keyUsage, keyCertSign)");
  }
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), trust_store, candidate, untrusted) != 1) {
    return makeError(ErrorCategory::Internal, "internal",
                     withOpensslErrors("cannot set up certificate verification"));
  }
  // Sets X509_V_FLAG_USE_CHECK_TIME on this context only; the shared store is not touched.
  X509_STORE_CTX_set_time(ctx.get(), 0, static_cast<time_t>(now));
  if (X509_verify_cert(ctx.get()) == 1) return Ok{};
  int err = X509_STORE_CTX_get_error(ctx.get());
  std::string detail = subjectLine(candidate) + " does not chain to a trusted root at " +
                       rfc3339(now) + ": " + X509_verify_cert_error_string(err);
  if (X509* at = X509_STORE_CTX_get_current_cert(ctx.get())) {
    detail += " (depth " + std::to_string(X509_STORE_CTX_get_error_depth(ctx.get())) + ", " +
              subjectLine(at) + ")";
  }
  return makeError(ErrorCategory::ValidationFailed, Reason::UntrustedChain,
                   withOpensslErrors(std::move(detail)));
}

Result<X509StorePtr> loadTrustStore(const std::string& path) {
  ErrorQueueGuard guard;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return trustStoreError(path, std::strerror(errno));
  X509StorePtr store(X509_STORE_new());
  if (!store) return trustStoreError(path, "X509_STORE_new failed");
  if (S_ISDIR(st.st_mode)) {
    // The hash_dir lookup reads nothing now, so an empty or un-hashed directory would only
    // show up later as every chain failing; refuse it at load time instead.
    if (auto ok = checkHashedDirectory(path); !ok.ok()) return ok.error();
    if (X509_STORE_load_path(store.get(), path.c_str()) != 1) {
      return trustStoreError(path, "cannot use as a certificate directory");
    }
    return store;
  }
  if (X509_STORE_load_file(store.get(), path.c_str()) != 1) {
    return trustStoreError(path, "cannot load certificates");
  }
  if (certificatesIn(store.get()) == 0) return trustStoreError(path, "no certificate in file");
  return store;
}

}  // namespace ocsp
