// The proxy's own responder key and certificate (pki/responder_credentials.h): each refusal
// with real files in a temporary directory, and what a loaded credential holds.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <openssl/pem.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/ossl.h"
#include "pki/responder_credentials.h"
#include "tests/unit/test_pki.h"

namespace ocsp {
namespace {

using namespace test;
namespace fs = std::filesystem;

struct Dir {
  std::string path;
  Dir() {
    std::string pattern = (fs::temp_directory_path() / "responder-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~Dir() { fs::remove_all(path); }
  Dir(const Dir&) = delete;
  Dir& operator=(const Dir&) = delete;
  std::string at(const std::string& name) const { return path + "/" + name; }
};

void writeText(const std::string& path, const std::string& text, mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    REQUIRE(out.good());
  }
  REQUIRE(chmod(path.c_str(), mode) == 0);
}

enum class KeyForm { Pkcs8, Traditional, Encrypted };

std::string keyPem(EVP_PKEY* key, KeyForm form = KeyForm::Pkcs8) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  int ok = 0;
  switch (form) {
    case KeyForm::Pkcs8:
      ok = PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
      break;
    case KeyForm::Traditional:
      ok = PEM_write_bio_PrivateKey_traditional(bio.get(), key, nullptr, nullptr, 0, nullptr,
                                                nullptr);
      break;
    case KeyForm::Encrypted: {
      static char pass[] = "secret";
      ok = PEM_write_bio_PKCS8PrivateKey(bio.get(), key, EVP_aes_256_cbc(), pass, 6, nullptr,
                                         nullptr);
      break;
    }
  }
  REQUIRE(ok == 1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string certPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_X509(bio.get(), cert) == 1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Identity responderIdentity(int64_t not_after = kT + 365 * kDay) {
  return issue({.cn = "local responder", .ocsp_signing = true, .not_after = not_after}, nullptr);
}

// A key and certificate pair written as the site would install them.
struct Installed {
  Dir dir;
  std::string key = dir.at("responder.key");
  std::string cert = dir.at("responder.pem");
  Installed(const Identity& id, KeyForm form = KeyForm::Pkcs8, mode_t key_mode = 0600) {
    writeText(key, keyPem(id.key.get(), form), key_mode);
    writeText(cert, certPem(id.cert.get()), 0644);
  }
};

std::string codeOf(const Result<std::shared_ptr<const ResponderCredentials>>& r) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().category == ErrorCategory::Config);
  return r.error().code;
}

TEST_CASE("a key of mode 0600 and its OCSP-signing certificate load") {
  Identity id = responderIdentity();
  for (KeyForm form : {KeyForm::Pkcs8, KeyForm::Traditional}) {
    Installed files(id, form);
    auto loaded = loadResponderCredentials(files.key, files.cert, kT);
    REQUIRE_MESSAGE(loaded.ok(), loaded.error().detail);
    const ResponderCredentials& c = **loaded;
    CHECK(EVP_PKEY_eq(c.key.get(), id.key.get()) == 1);
    CHECK(X509_cmp(c.cert.get(), id.cert.get()) == 0);
    CHECK(c.cert_der == toDer(id.cert.get(), i2d_X509));
    CHECK(c.subject == "CN=local responder,O=ocsp-proxy tests");
    CHECK(c.not_after == kT + 365 * kDay);
  }
}

TEST_CASE("a key only its owner can read but stricter than 0600 loads (0400)") {
  Installed files(responderIdentity(), KeyForm::Pkcs8, 0400);
  CHECK(loadResponderCredentials(files.key, files.cert, kT).ok());
}

TEST_CASE("a key readable by group or others is refused with the chmod that fixes it") {
  for (mode_t mode : {0640, 0604, 0644, 0660}) {
    Installed files(responderIdentity(), KeyForm::Pkcs8, mode);
    auto loaded = loadResponderCredentials(files.key, files.cert, kT);
    CHECK(codeOf(loaded) == "responder_key_permissions");
    char text[8];
    std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode));
    CHECK(loaded.error().detail.find(std::string("mode ") + text) != std::string::npos);
    CHECK(loaded.error().detail.find("chmod 600 " + files.key) != std::string::npos);
  }
}

TEST_CASE("a missing key, a directory and a FIFO are unreadable keys") {
  Installed files(responderIdentity());
  Dir other;
  CHECK(codeOf(loadResponderCredentials(other.at("absent.key"), files.cert, kT)) ==
        "responder_key_unreadable");
  REQUIRE(chmod(other.path.c_str(), 0700) == 0);
  CHECK(codeOf(loadResponderCredentials(other.path, files.cert, kT)) == "responder_key_unreadable");
  std::string fifo = other.at("fifo.key");
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  auto loaded = loadResponderCredentials(fifo, files.cert, kT);
  CHECK(codeOf(loaded) == "responder_key_unreadable");
  CHECK(loaded.error().detail.find("not a regular file") != std::string::npos);
}

TEST_CASE("a key file holding no private key, or an encrypted one, is refused") {
  Identity id = responderIdentity();
  Installed files(id);
  writeText(files.key, certPem(id.cert.get()), 0600);  // a certificate where the key belongs
  auto not_key = loadResponderCredentials(files.key, files.cert, kT);
  CHECK(codeOf(not_key) == "responder_key_unreadable");
  CHECK(not_key.error().detail.find("not a PEM private key") != std::string::npos);

  writeText(files.key, keyPem(id.key.get(), KeyForm::Encrypted), 0600);
  auto encrypted = loadResponderCredentials(files.key, files.cert, kT);
  CHECK(codeOf(encrypted) == "responder_key_unreadable");
  CHECK(encrypted.error().detail.find("encrypted key") != std::string::npos);
}

TEST_CASE("a missing or garbage certificate is unreadable") {
  Installed files(responderIdentity());
  CHECK(codeOf(loadResponderCredentials(files.key, files.dir.at("absent.pem"), kT)) ==
        "responder_cert_unreadable");
  writeText(files.cert, "not a certificate\n", 0644);
  auto loaded = loadResponderCredentials(files.key, files.cert, kT);
  CHECK(codeOf(loaded) == "responder_cert_unreadable");
  CHECK(loaded.error().detail.find(files.cert) != std::string::npos);
}

TEST_CASE("a certificate for another key is a mismatch") {
  Identity id = responderIdentity();
  Identity other = responderIdentity();
  Installed files(id);
  writeText(files.cert, certPem(other.cert.get()), 0644);
  auto loaded = loadResponderCredentials(files.key, files.cert, kT);
  CHECK(codeOf(loaded) == "responder_key_mismatch");
  CHECK(loaded.error().detail.find(files.key) != std::string::npos);
}

TEST_CASE("a certificate without id-kp-OCSPSigning is refused") {
  Identity tls = issue({.cn = "tls server"}, nullptr);  // serverAuth only
  Installed files(tls);
  auto loaded = loadResponderCredentials(files.key, files.cert, kT);
  CHECK(codeOf(loaded) == "responder_cert_not_ocsp_signing");
  CHECK(loaded.error().detail.find("id-kp-OCSPSigning") != std::string::npos);
}

TEST_CASE("a certificate not valid now is expired, at either bound") {
  Installed files(responderIdentity(kT + kDay));
  CHECK(loadResponderCredentials(files.key, files.cert, kT + kDay - 1).ok());
  CHECK(codeOf(loadResponderCredentials(files.key, files.cert, kT + kDay)) ==
        "responder_cert_expired");
  CHECK(loadResponderCredentials(files.key, files.cert, kT - kDay).ok());  // notBefore itself
  auto early = loadResponderCredentials(files.key, files.cert, kT - kDay - 1);
  CHECK(codeOf(early) == "responder_cert_expired");
  CHECK(early.error().detail.find("not at") != std::string::npos);
}

}  // namespace
}  // namespace ocsp
