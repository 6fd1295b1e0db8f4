#include "pki/responder_credentials.h"

#include <fcntl.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <utility>

#include "core/log.h"

namespace ocsp {
namespace {

Error fail(std::string code, std::string detail) {
  return makeError(ErrorCategory::Config, std::move(code), std::move(detail));
}

// The key file's bytes, refused unless it is a regular file only its owner may read. The mode
// is read from the descriptor that is then read (fstat), so the file checked is the file used;
// O_NONBLOCK keeps a FIFO at the path from blocking start-up before it is refused.
Result<std::string> readKeyFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    return fail("responder_key_unreadable",
                "crl_bridge.key " + path + ": cannot open: " + std::strerror(errno));
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return fail("responder_key_unreadable", "crl_bridge.key " + path + ": not a regular file");
  }
  // The key signs any answer for any CA the bridge serves: no one but its owner may read it.
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return fail("responder_key_permissions",
                "crl_bridge.key " + path + " has mode " + mode +
                    " (readable or writable by group or others); fix: chmod 600 " + path);
  }
  std::string bytes;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return fail("responder_key_unreadable",
                  "crl_bridge.key " + path + ": read failed: " + std::strerror(errno));
    }
    if (n == 0) break;
    bytes.append(buf, static_cast<size_t>(n));
  }
  return bytes;
}

// A passphrase callback that never asks: with none, OpenSSL would prompt on the terminal for
// an encrypted key, and a daemon has no one to answer.
int noPassphrase(char*, int, int, void*) { return -1; }

Result<EvpPkeyPtr> parseKey(const std::string& path, const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EvpPkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassphrase, nullptr)
                     : nullptr);
  if (!key) {
    bool encrypted = pem.find("ENCRYPTED") != std::string::npos;
    return fail("responder_key_unreadable",
                withOpensslErrors("crl_bridge.key " + path +
                                  (encrypted ? ": an encrypted key (the proxy cannot ask for a "
                                               "passphrase; store it unencrypted, mode 0600)"
                                             : ": not a PEM private key (PKCS#8 or traditional)")));
  }
  return key;
}

}  // namespace

Result<std::shared_ptr<const ResponderCredentials>> loadResponderCredentials(
    const std::string& key_path, const std::string& cert_path, int64_t now) {
  ErrorQueueGuard clear_errors;
  auto pem = readKeyFile(key_path);
  if (!pem.ok()) return pem.error();
  auto key = parseKey(key_path, *pem);
  // The key's bytes are not kept past the parse.
  OPENSSL_cleanse(pem->data(), pem->size());
  if (!key.ok()) return key.error();

  std::string why;
  auto certs = readCertificates(cert_path, &why);
  if (certs.empty()) {
    return fail("responder_cert_unreadable", "crl_bridge.cert " + cert_path + ": " + why);
  }
  // The first certificate is the responder's; any after it (a chain) are not used here.
  X509* cert = certs.front().get();
  const std::string who = "crl_bridge.cert " + cert_path + " (" + subjectLine(cert) + ")";
  if (EVP_PKEY_eq(X509_get0_pubkey(cert), key->get()) != 1) {
    return fail("responder_key_mismatch",
                withOpensslErrors(who + " does not hold the public key of crl_bridge.key " +
                                  key_path));
  }
  // RFC 6960 §4.2.2.2: a responder certificate carries id-kp-OCSPSigning; a certificate made
  // for something else (a TLS server's) is not taken as the proxy's responder.
  uint32_t flags = X509_get_extension_flags(cert);
  if ((flags & EXFLAG_INVALID) != 0 || (flags & EXFLAG_XKUSAGE) == 0 ||
      (X509_get_extended_key_usage(cert) & XKU_OCSP_SIGN) == 0) {
    return fail("responder_cert_not_ocsp_signing",
                who + " lacks extendedKeyUsage id-kp-OCSPSigning (RFC 6960 §4.2.2.2)");
  }
  auto not_before = asn1ToEpoch(X509_get0_notBefore(cert));
  auto not_after = asn1ToEpoch(X509_get0_notAfter(cert));
  if (!not_before || !not_after || now < *not_before || now >= *not_after) {
    return fail("responder_cert_expired",
                who + " is valid " + (not_before ? rfc3339(*not_before) : "(unreadable)") +
                    " .. " + (not_after ? rfc3339(*not_after) : "(unreadable)") + ", not at " +
                    rfc3339(now));
  }

  auto out = std::make_shared<ResponderCredentials>();
  out->key = std::shared_ptr<EVP_PKEY>(key->release(), EVP_PKEY_free);
  out->cert_der = toDer(cert, i2d_X509);
  out->subject = subjectLine(cert);
  out->not_after = *not_after;
  out->cert = shareX509(std::move(certs.front()));
  return std::shared_ptr<const ResponderCredentials>(std::move(out));
}

}  // namespace ocsp
