#include "tools/responder_key.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/ossl.h"
#include "core/result.h"
#include "tools/client_trust.h"
#include "tools/subcommand.h"

namespace ocsp::tools {
namespace {


namespace fs = std::filesystem;

// Two years. The certificate is installed by hand on every client (truststores, GPO, NSS
// databases), so a short life means frequent redistribution that sites get wrong; a long one
// keeps a stolen key trusted longer, and nothing revokes a trusted responder's certificate
// (id-pkix-ocsp-nocheck, RFC 6960 §4.2.2.2.1: clients do not ask about it). Two years matches
// a yearly key review with a year's slack to roll the next one out.
constexpr int kDefaultDays = 730;
// Clients whose clock runs behind would refuse a certificate that starts this very second.
constexpr int64_t kBackdate_s = 3600;

void usage(FILE* out) {
  std::fprintf(
      out,
      "Usage: ocsp-proxy responder-key new --out DIR [--subject \"CN=...\"] [--days N]\n"
      "                 [--algorithm ec-p256|rsa-2048|rsa-3072] [--csr] [--force]\n"
      "\n"
      "Makes the proxy's own OCSP responder key, which signs the answers the CRL bridge\n"
      "builds from CRLs (config crl_bridge.key and crl_bridge.cert):\n"
      "  DIR/responder.key  the private key (PEM, PKCS#8), created mode 0600\n"
      "  DIR/responder.pem  a self-signed certificate: extendedKeyUsage OCSPSigning,\n"
      "                     OCSP No Check, CA:FALSE, keyUsage digitalSignature\n"
      "  DIR/responder.csr  with --csr instead of responder.pem: a request with the same\n"
      "                     extensions for the site's own CA to sign; install the signed\n"
      "                     certificate as DIR/responder.pem\n"
      "Then prints the certificate's SHA-256 fingerprint, the config lines to add and how\n"
      "each kind of client is told to trust the key (docs/client-trust.md).\n"
      "\n"
      "  --out DIR        where to write (created if missing)\n"
      "  --subject NAME   \"CN=...,O=...,C=..\" (RFC 2253 order) or \"/C=../O=../CN=...\"\n"
      "                   (default \"CN=ocsp-proxy local responder <hostname>\")\n"
      "  --days N         validity of the self-signed certificate (default %d: 2 years)\n"
      "  --algorithm A    ec-p256 (default), rsa-2048 or rsa-3072\n"
      "  --csr            write a certificate request instead of a self-signed certificate\n"
      "  --force          replace existing files (default: refuse and write nothing)\n"
      "\n"
      "Exit 0 when written, 1 when not (a file exists, DIR is not writable), 64 for bad usage.\n",
      kDefaultDays);
}

struct Options {
  std::string out;
  std::string subject;
  int days = kDefaultDays;
  std::string algorithm = "ec-p256";
  bool csr = false;
  bool force = false;
};

std::optional<Options> parseArgs(int argc, char** argv, bool* help, std::string* error) {
  Options o;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string* into) {
      if (i + 1 >= argc) {
        *error = arg + " needs a value";
        return false;
      }
      *into = argv[++i];
      return true;
    };
    std::string v;
    if (arg == "--help" || arg == "-h") {
      *help = true;
      return o;
    } else if (arg == "--out") {
      if (!value(&o.out)) return std::nullopt;
    } else if (arg == "--subject") {
      if (!value(&o.subject)) return std::nullopt;
    } else if (arg == "--algorithm") {
      if (!value(&o.algorithm)) return std::nullopt;
      if (o.algorithm != "ec-p256" && o.algorithm != "rsa-2048" && o.algorithm != "rsa-3072") {
        *error = "--algorithm: expected ec-p256, rsa-2048 or rsa-3072, got " + o.algorithm;
        return std::nullopt;
      }
    } else if (arg == "--days") {
      if (!value(&v)) return std::nullopt;
      char* end = nullptr;
      long days = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || days < 1 || days > 3650) {
        *error = "--days: expected a whole number of days from 1 to 3650, got " + v;
        return std::nullopt;
      }
      o.days = static_cast<int>(days);
    } else if (arg == "--csr") {
      o.csr = true;
    } else if (arg == "--force") {
      o.force = true;
    } else {
      *error = "unknown argument: " + arg;
      return std::nullopt;
    }
  }
  if (o.out.empty()) {
    *error = "--out DIR is required";
    return std::nullopt;
  }
  return o;
}

std::string defaultSubject() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
    std::snprintf(host, sizeof(host), "localhost");
  }
  return std::string("CN=ocsp-proxy local responder ") + host;
}

using X509NamePtr = std::unique_ptr<X509_NAME, FreeWith<X509_NAME_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, FreeWith<X509_REQ_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, FreeWith<X509_EXTENSION_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, FreeWith<BN_free>>;

// "CN=a,O=b,C=NL" lists the most specific attribute first (RFC 2253 §2.1), the reverse of
// the encoding order; "/C=NL/O=b/CN=a" (OpenSSL's -subj form) lists them in encoding order.
// A backslash escapes the next character.
Result<X509NamePtr> parseSubject(const std::string& text) {
  const bool slashes = !text.empty() && text.front() == '/';
  const char separator = slashes ? '/' : ',';
  std::vector<std::string> parts(1);
  for (size_t i = slashes ? 1 : 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      parts.back() += text[++i];
    } else if (text[i] == separator) {
      parts.emplace_back();
    } else {
      parts.back() += text[i];
    }
  }
  if (!slashes) std::reverse(parts.begin(), parts.end());
  X509NamePtr name(X509_NAME_new());
  for (std::string part : parts) {
    while (!part.empty() && part.front() == ' ') part.erase(part.begin());
    size_t eq = part.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == part.size()) {
      return makeError(ErrorCategory::Config, "bad_subject",
                       "--subject: \"" + part + "\" is not TYPE=value");
    }
    std::string type = part.substr(0, eq);
    std::string value = part.substr(eq + 1);
    if (X509_NAME_add_entry_by_txt(name.get(), type.c_str(), MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                   0) != 1) {
      return makeError(ErrorCategory::Config, "bad_subject",
                       withOpensslErrors("--subject: unknown attribute type " + type));
    }
  }
  return name;
}

EvpPkeyPtr generateKey(const std::string& algorithm) {
  if (algorithm == "rsa-2048") return EvpPkeyPtr(EVP_RSA_gen(2048));
  if (algorithm == "rsa-3072") return EvpPkeyPtr(EVP_RSA_gen(3072));
  return EvpPkeyPtr(EVP_EC_gen("P-256"));
}

// The extensions of the responder certificate, or of the request for one.
// RFC 6960 §4.2.2.2: id-kp-OCSPSigning. §4.2.2.2.1: id-pkix-ocsp-nocheck, so that a client
// does not ask about the responder's own certificate (there is nowhere to ask).
Status addResponderExtensions(X509V3_CTX* ctx, bool with_key_ids,
                              const std::function<bool(X509_EXTENSION*)>& add) {
  std::vector<std::pair<int, const char*>> wanted = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature"},
      {NID_ext_key_usage, "OCSPSigning"},
      {NID_id_pkix_OCSP_noCheck, "ignored"},  // the extension's value is NULL
      {NID_subject_key_identifier, "hash"},
  };
  if (with_key_ids) wanted.emplace_back(NID_authority_key_identifier, "keyid:always");
  for (const auto& [nid, value] : wanted) {
    X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
    if (!ext || !add(ext.get())) {
      return makeError(ErrorCategory::Internal, "extension",
                       withOpensslErrors(std::string("cannot add ") + OBJ_nid2sn(nid)));
    }
  }
  return Ok{};
}

Result<X509Ptr> selfSigned(EVP_PKEY* key, const X509_NAME* subject, int days) {
  X509Ptr cert(X509_new());
  BignumPtr serial(BN_new());
  // RFC 5280 §4.1.2.2: a positive serial of at most 20 octets; 127 random bits.
  if (!cert || !serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr ||
      X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_subject_name(cert.get(), subject) != 1 ||
      X509_set_issuer_name(cert.get(), subject) != 1 ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdate_s) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400) ==
          nullptr ||
      X509_set_pubkey(cert.get(), key) != 1) {
    return makeError(ErrorCategory::Internal, "certificate",
                     withOpensslErrors("cannot fill in the certificate"));
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  Status ext = addResponderExtensions(&ctx, true, [&](X509_EXTENSION* e) {
    return X509_add_ext(cert.get(), e, -1) == 1;
  });
  if (!ext.ok()) return ext.error();
  if (X509_sign(cert.get(), key, EVP_sha256()) <= 0) {
    return makeError(ErrorCategory::Internal, "certificate",
                     withOpensslErrors("cannot sign the certificate"));
  }
  return cert;
}

Result<X509ReqPtr> request(EVP_PKEY* key, const X509_NAME* subject) {
  X509ReqPtr req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), 0) != 1 ||
      X509_REQ_set_subject_name(req.get(), subject) != 1 ||
      X509_REQ_set_pubkey(req.get(), key) != 1) {
    return makeError(ErrorCategory::Internal, "request",
                     withOpensslErrors("cannot fill in the request"));
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, nullptr, nullptr, req.get(), nullptr, 0);
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  Status ext = addResponderExtensions(&ctx, false, [&](X509_EXTENSION* e) {
    X509_EXTENSION* copy = X509_EXTENSION_dup(e);
    return copy != nullptr && sk_X509_EXTENSION_push(exts, copy) > 0;
  });
  bool added = ext.ok() && X509_REQ_add_extensions(req.get(), exts) == 1;
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  if (!ext.ok()) return ext.error();
  if (!added || X509_REQ_sign(req.get(), key, EVP_sha256()) <= 0) {
    return makeError(ErrorCategory::Internal, "request",
                     withOpensslErrors("cannot sign the request"));
  }
  return req;
}

template <class Write>
std::string pemOf(Write write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return {};
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// Writes `bytes` under `path` with `mode`. The file is created with that mode from the start
// (the umask can only take bits away), filled and synced under a temporary name in the same
// directory, then put in place: link() refuses an existing file (no --force), rename()
// replaces it (--force). So the key is never readable by others, and never half-written under
// its name.
Status writeFileAs(const std::string& path, const std::string& bytes, mode_t mode, bool force) {
  auto failure = [&](const std::string& what) {
    return makeError(ErrorCategory::Config, "write", path + ": " + what + ": " + std::strerror(errno));
  };
  std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return failure("cannot create " + tmp);
  bool ok = ::fchmod(fd, mode) == 0;
  for (size_t done = 0; ok && done < bytes.size();) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    errno = saved;
    return failure("cannot write");
  }
  bool placed = force ? ::rename(tmp.c_str(), path.c_str()) == 0
                      : ::link(tmp.c_str(), path.c_str()) == 0;
  saved = errno;
  ::unlink(tmp.c_str());
  errno = saved;
  if (!placed) return failure(errno == EEXIST ? "exists (--force replaces it)" : "cannot create");
  return Ok{};
}

std::string fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1) return {};
  std::string out;
  char byte[4];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(byte, sizeof(byte), i + 1 < len ? "%02X:" : "%02X", md[i]);
    out += byte;
  }
  return out;
}

int fail(const std::string& detail) {
  std::fprintf(stderr, "ocsp-proxy responder-key new: %s\n", detail.c_str());
  return 1;
}

int runNew(const Options& o) {
  ErrorQueueGuard clear_errors;
  auto subject = parseSubject(o.subject.empty() ? defaultSubject() : o.subject);
  if (!subject.ok()) {
    std::fprintf(stderr, "ocsp-proxy responder-key new: %s\n\n", subject.error().detail.c_str());
    usage(stderr);
    return kUsageExit;
  }
  std::error_code ec;
  fs::create_directories(o.out, ec);
  fs::path dir = fs::absolute(o.out, ec);
  if (ec || !fs::is_directory(dir)) return fail(o.out + ": not a directory we can create");
  ResponderFiles files;
  files.key_path = (dir / "responder.key").string();
  files.cert_path = (dir / "responder.pem").string();
  if (o.csr) files.csr_path = (dir / "responder.csr").string();
  const std::string& public_path = o.csr ? files.csr_path : files.cert_path;
  // Refused before anything is generated; link() below refuses a file that appears meanwhile.
  for (const std::string& path : {files.key_path, public_path}) {
    if (!o.force && fs::exists(fs::symlink_status(path, ec))) {
      return fail(path + " exists; --force replaces it (the old key then stops working)");
    }
  }

  EvpPkeyPtr key = generateKey(o.algorithm);
  if (!key) return fail(withOpensslErrors("cannot generate an " + o.algorithm + " key"));
  std::string public_pem;
  if (o.csr) {
    auto req = request(key.get(), subject->get());
    if (!req.ok()) return fail(req.error().detail);
    public_pem = pemOf([&](BIO* b) { return PEM_write_bio_X509_REQ(b, req->get()); });
    files.subject = nameLine(X509_REQ_get_subject_name(req->get()));
  } else {
    auto cert = selfSigned(key.get(), subject->get(), o.days);
    if (!cert.ok()) return fail(cert.error().detail);
    public_pem = pemOf([&](BIO* b) { return PEM_write_bio_X509(b, cert->get()); });
    files.subject = subjectLine(cert->get());
    files.sha256_fingerprint = fingerprint(cert->get());
  }
  std::string key_pem = pemOf([&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  if (key_pem.empty() || public_pem.empty()) return fail(withOpensslErrors("cannot encode PEM"));

  Status written = writeFileAs(files.key_path, key_pem, 0600, o.force);
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  if (!written.ok()) return fail(written.error().detail);
  written = writeFileAs(public_path, public_pem, 0644, o.force);
  if (!written.ok()) return fail(written.error().detail);
  std::fputs(clientTrustText(files).c_str(), stdout);
  return 0;
}

}  // namespace

int runResponderKey(int argc, char** argv) {
  return runSubcommand<Options>(argc, argv, "responder-key", "new", usage, parseArgs, runNew);
}

}  // namespace ocsp::tools
