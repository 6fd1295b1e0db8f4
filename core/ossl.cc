#include "core/ossl.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <ctime>

namespace ocsp {

SharedX509 shareX509(X509Ptr cert) { return SharedX509(cert.release(), X509_free); }

std::string opensslErrors() {
  std::string out;
  unsigned long e;
  char buf[256];
  while ((e = ERR_get_error()) != 0) {
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

std::optional<int64_t> asn1ToEpoch(const ASN1_TIME* t) {
  if (t == nullptr) return std::nullopt;
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  return static_cast<int64_t>(timegm(&tm));
}

std::vector<X509Ptr> readCertificates(const std::string& path, std::string* why) {
  std::vector<X509Ptr> out;
  BioPtr bio(BIO_new_file(path.c_str(), "rb"));
  if (!bio) {
    ERR_clear_error();
    *why = "cannot read file";
    return out;
  }
  while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(c);
  ERR_clear_error();
  if (out.empty()) {
    // Not PEM: try one DER certificate.
    BioPtr der(BIO_new_file(path.c_str(), "rb"));
    if (X509* c = d2i_X509_bio(der.get(), nullptr)) out.emplace_back(c);
    ERR_clear_error();
  }
  if (out.empty()) *why = "no certificate in file (expected PEM or DER X.509)";
  return out;
}

const EVP_MD* sha256Md() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

std::string sha256(std::string_view data) { return std::string(asBytes(sha256Digest(data))); }

Sha256Digest sha256Digest(std::string_view data) {
  // SHA256() looks the implementation up in the provider store on every call (EVP_Q_digest):
  // here it is fetched once per process and each thread reuses one context.
  static_assert(SHA256_DIGEST_LENGTH == std::tuple_size_v<Sha256Digest>);
  const EVP_MD* md = sha256Md();
  thread_local EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  Sha256Digest out{};
  unsigned int len = 0;
  if (md != nullptr && ctx && EVP_DigestInit_ex2(ctx.get(), md, nullptr) == 1 &&
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) == 1 &&
      EVP_DigestFinal_ex(ctx.get(), out.data(), &len) == 1 && len == out.size()) {
    return out;
  }
  ERR_clear_error();
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data());
  return out;
}

std::string toHex(std::string_view bytes) {
  std::string out;
  appendHex(out, bytes);
  return out;
}

void appendHex(std::string& out, std::string_view bytes) {
  const size_t at = out.size();
  out.resize(at + bytes.size() * 2);
  hexInto(bytes, out.data() + at);
}

void hexInto(std::string_view bytes, char* out) {
  static const char* digits = "0123456789abcdef";
  for (unsigned char c : bytes) {
    *out++ = digits[c >> 4];
    *out++ = digits[c & 15];
  }
}

std::string subjectLine(const X509* cert) {
  if (cert == nullptr) return "";
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string withOpensslErrors(std::string detail) {
  std::string errors = opensslErrors();
  if (!errors.empty()) detail += " (openssl: " + errors + ")";
  return detail;
}

std::string_view asn1Bytes(const ASN1_STRING* s) {
  return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
          static_cast<size_t>(ASN1_STRING_length(s))};
}

std::string nameLine(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace ocsp
