#pragma once
// RAII for OpenSSL handles: unique_ptr with the library's free function as deleter, plus the
// few conversions every module needs (DER in/out, ASN1 time, error queue text).
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/handles.h"

namespace ocsp {

using X509Ptr = std::unique_ptr<X509, FreeWith<X509_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, FreeWith<X509_STORE_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, FreeWith<EVP_PKEY_free>>;
using OcspRequestPtr = std::unique_ptr<OCSP_REQUEST, FreeWith<OCSP_REQUEST_free>>;
using OcspResponsePtr = std::unique_ptr<OCSP_RESPONSE, FreeWith<OCSP_RESPONSE_free>>;
using OcspBasicRespPtr = std::unique_ptr<OCSP_BASICRESP, FreeWith<OCSP_BASICRESP_free>>;
using OcspCertIdPtr = std::unique_ptr<OCSP_CERTID, FreeWith<OCSP_CERTID_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, FreeWith<ASN1_TIME_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, FreeWith<ASN1_INTEGER_free>>;
using X509CrlPtr = std::unique_ptr<X509_CRL, FreeWith<X509_CRL_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, FreeWith<GENERAL_NAMES_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, FreeWith<EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, FreeWith<BIO_free_all>>;

// The macros among OpenSSL's free functions, as functions FreeWith can name.
// A stack and the certificates on it.
inline void freeX509Stack(STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); }
// A stack that borrows its certificates (they stay owned elsewhere): the stack alone.
inline void freeX509StackOnly(STACK_OF(X509) * s) { sk_X509_free(s); }
// Memory OpenSSL allocated for the caller (PEM_read_bio's outputs, BN_bn2hex).
inline void opensslFree(void* p) { OPENSSL_free(p); }

using X509StackPtr = std::unique_ptr<STACK_OF(X509), FreeWith<freeX509Stack>>;
using BorrowedX509StackPtr = std::unique_ptr<STACK_OF(X509), FreeWith<freeX509StackOnly>>;
template <class T>
using OpensslBuffer = std::unique_ptr<T, FreeWith<opensslFree>>;

// Shared, immutable certificate (issuers are shared by config, routes and validator).
using SharedX509 = std::shared_ptr<X509>;
SharedX509 shareX509(X509Ptr cert);

// Drains the OpenSSL error queue into one line ("" when empty).
std::string opensslErrors();
// `detail` plus whatever OpenSSL queued (drained), so the log says why the library refused.
std::string withOpensslErrors(std::string detail);

// Every return path of a function holding one leaves this thread's OpenSSL error queue
// empty, so a stale error is never blamed on the next call the same thread makes; clearing
// on entry also keeps earlier, unrelated errors out of our details.
struct ErrorQueueGuard {
  ErrorQueueGuard() { ERR_clear_error(); }
  ~ErrorQueueGuard() { ERR_clear_error(); }
  ErrorQueueGuard(const ErrorQueueGuard&) = delete;
  ErrorQueueGuard& operator=(const ErrorQueueGuard&) = delete;
};

// The bytes of an ASN1_STRING (borrowed).
std::string_view asn1Bytes(const ASN1_STRING* s);
// A name in one line, RFC 2253 ("CN=...,O=...,C=...").
std::string nameLine(const X509_NAME* name);

// ASN1 time -> seconds since the epoch; nullopt if it cannot be converted.
std::optional<int64_t> asn1ToEpoch(const ASN1_TIME* t);

// Reads every certificate in a PEM (or single DER) file. Empty result + reason on failure.
std::vector<X509Ptr> readCertificates(const std::string& path, std::string* why);

// Encodes with an i2d function into a std::string. `Obj` is const or not as the i2d function
// declares its argument (OpenSSL declares some of them with a non-const one).
template <class Obj>
std::string toDer(std::type_identity_t<Obj>* obj, int (*i2d)(Obj*, unsigned char**)) {
  int len = i2d(obj, nullptr);
  if (len <= 0) return {};
  std::string out(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  i2d(obj, &p);
  return out;
}

// SHA-256 of bytes (32 raw bytes).
std::string sha256(std::string_view data);
// The same without an allocation.
using Sha256Digest = std::array<unsigned char, 32>;
Sha256Digest sha256Digest(std::string_view data);
inline std::string_view asBytes(const Sha256Digest& d) {
  return std::string_view(reinterpret_cast<const char*>(d.data()), d.size());
}
// SHA-256 fetched from the default provider once per process (null if it is unavailable):
// EVP_sha256() and SHA256() would look it up again on each use.
const EVP_MD* sha256Md();
// Lower-case hex.
std::string toHex(std::string_view bytes);
// The same, appended to `out` (no allocation once `out` has room).
void appendHex(std::string& out, std::string_view bytes);
// The same into 2 * bytes.size() characters at `out`.
void hexInto(std::string_view bytes, char* out);

// One line naming a certificate for logs: its subject in RFC 2253 form.
std::string subjectLine(const X509* cert);

}  // namespace ocsp
