#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
// Issuer completion (docs/ARCHITECTURE.md §9): reading embedded responder certificates and their
// AIA caIssuers URLs from real responses, parsing caIssuers downloads, matching a candidate to the
// CertID, and chaining it to a trust store, on real CA data and a generated PKI.
#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "core/cert_id.h"
#include "core/ossl.h"
#include "tests/unit/test_pki.h"
#include "tests/unit/test_util.h"
#include "pki/issuer_completion.h"

namespace ocsp {
namespace {

// The generated PKI and the real data files (tests/unit/test_pki.h, test_util.h).
using namespace test;

using Pkcs7Ptr = std::unique_ptr<PKCS7, FreeWith<PKCS7_free>>;

constexpr int64_t kToday = 1795392000;  // 2026-11-23T00:00:00Z, when the data was taken
constexpr int64_t kQuoVadisProducedAt = 1535831297;    // resp-revoked-reason.der, 2018-09-01
constexpr int64_t kGlobalSignProducedAt = 1350987936;  // D1.der, 2012-10-23T10:25:36Z

// ---------------------------------------------------------------------------------------------
// Helpers

std::vector<std::string> subjectsOf(const std::vector<SharedX509>& certs) {
  std::vector<std::string> out;
  for (const auto& c : certs) out.push_back(subjectLine(c.get()));
  return out;
}

// The CertID of a real response's first SingleResponse.
CertIdInfo certIdOfResponse(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  OcspResponsePtr resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  REQUIRE(resp);
  OcspBasicRespPtr bs(OCSP_response_get1_basic(resp.get()));
  REQUIRE(bs);
  CertIdInfo id;
  REQUIRE(certIdInfoFrom(OCSP_SINGLERESP_get0_id(OCSP_resp_get0(bs.get(), 0)), &id));
  return id;
}

std::string derOf(X509* cert) { return toDer(cert, i2d_X509); }

std::string pemOf(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_X509(bio.get(), cert) == 1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// A certs-only PKCS#7 SignedData (RFC 2315 §9.1 degenerate case), as CAs publish .p7c files.
Pkcs7Ptr certsOnly(const std::vector<X509*>& certs) {
  Pkcs7Ptr p7(PKCS7_new());
  REQUIRE(PKCS7_set_type(p7.get(), NID_pkcs7_signed) == 1);
  REQUIRE(PKCS7_content_new(p7.get(), NID_pkcs7_data) == 1);
  for (X509* c : certs) REQUIRE(PKCS7_add_certificate(p7.get(), c) == 1);
  return p7;
}

std::string pkcs7Der(PKCS7* p7) { return toDer(p7, i2d_PKCS7); }

std::string pkcs7Pem(PKCS7* p7) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_PKCS7(bio.get(), p7) == 1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// Subjects and DER of what parseIssuerDownload returned, or the error code.
std::vector<std::string> derOfAll(const Result<std::vector<SharedX509>>& r) {
  std::vector<std::string> out;
  if (!r.ok()) return {"error " + r.error().code + ": " + r.error().detail};
  for (const auto& c : *r) out.push_back(derOf(c.get()));
  return out;
}

// Safe on success too: doctest evaluates a message even when its check passes.
template <class T>
std::string codeOf(const Result<T>& r) {
  return r.ok() ? "ok" : r.error().code;
}
template <class T>
std::string detailOf(const Result<T>& r) {
  return r.ok() ? "accepted" : r.error().code + ": " + r.error().detail;
}
// Evaluates `status` once: the message is built from the same result.
#define CHECK_CODE(status, expected)                                   \
  do {                                                                 \
    const auto& checked_ = (status);                                   \
    CHECK_MESSAGE(codeOf(checked_) == (expected), detailOf(checked_)); \
  } while (false)

X509StorePtr storeWith(const std::vector<X509*>& roots) {
  X509StorePtr store(X509_STORE_new());
  REQUIRE(store);
  for (X509* r : roots) REQUIRE(X509_STORE_add_cert(store.get(), r) == 1);
  return store;
}

Status verify(X509* candidate, X509_STORE* store, const std::vector<X509*>& untrusted,
              int64_t now) {
  X509StackPtr stack(sk_X509_new_null());
  REQUIRE(stack);
  for (X509* c : untrusted) {
    REQUIRE(X509_up_ref(c) == 1);
    REQUIRE(sk_X509_push(stack.get(), c) > 0);
  }
  auto result = verifyIssuerChain(candidate, store, untrusted.empty() ? nullptr : stack.get(), now);
  CHECK_MESSAGE(ERR_peek_error() == 0, "verifyIssuerChain left errors in the OpenSSL queue");
  return result;
}

// A private directory under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/ocsp_test_trust.XXXXXX";
    REQUIRE(mkdtemp(name) != nullptr);
    path_ = name;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string write(const std::string& name, const std::string& content) const {
    std::string file = path_ + "/" + name;
    std::ofstream out(file, std::ios::binary);
    out << content;
    REQUIRE(out.good());
    return file;
  }

 private:
  std::string path_;
};

// The name `openssl rehash` gives a certificate: subject hash, ".0".
std::string hashedName(X509* cert) {
  char name[16];
  std::snprintf(name, sizeof(name), "%08lx.0", X509_subject_name_hash(cert));
  return name;
}

// A root, an intermediate under it, a second-level intermediate under that, and a leaf.
struct Chain {
  Identity root = issue(
      {.cn = "Test Root", .ca = true, .not_before = kT - 30 * kDay, .not_after = kT + 3650 * kDay},
      nullptr);
  Identity intermediate = issue({.cn = "Test Intermediate", .ca = true}, &root);
  Identity sub_intermediate = issue({.cn = "Test Sub-Intermediate", .ca = true}, &intermediate);
  Identity leaf = issue({.cn = "Test Leaf"}, &intermediate);
};

// ---------------------------------------------------------------------------------------------
// embeddedResponderCerts

TEST_CASE("real delegated responses yield their embedded responder certificate") {
  struct Row {
    const char* file;
    const char* subject;
  };
  const Row rows[] = {
      {"pyca-cryptography-vectors/ocsp/resp-revoked-reason.der",
       "CN=QuoVadis OCSP Authority Signature,OU=OCSP Responder,O=QuoVadis Limited,C=BM"},
      {"openssl-ocsp-tests/der/D1.der",
       "serialNumber=20120919094000,CN=GlobalSign Extended Validation CA - G2 OCSP responder - "
       "2,O=GlobalSign nv-sa,C=BE"},
      {"openssl-ocsp-tests/der/D3.der",
       "CN=ocsp.cacert.org,OU=Server Administration,O=CAcert Inc.,L=Sydney,ST=NSW,C=AU"},
      {"pyca-cryptography-vectors/ocsp/ocsp-army.deps.mil-resp.der",
       "CN=DOD NIPRNET OCSP 2D 5,OU=PKI,OU=DoD,O=U.S. Government,C=US"},
      {"pyca-cryptography-vectors/ocsp/resp-sct-extension.der",
       "CN=OCSP Responder Server Gold CA 2014 - G22,O=SwissSign AG,L=Glattbrugg,ST=ZH,C=CH"},
      {"aws-lc-ocsp/ocsp_response.der", "CN=ocsp.s2ntest.com,OU=s2n Test OCSP,O=s2n,ST=WA,C=US"},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.file));
    auto certs = embeddedResponderCerts(readFile(realData(row.file)));
    CHECK(subjectsOf(certs) == std::vector<std::string>{row.subject});
    CHECK(ERR_peek_error() == 0);
  }
}

TEST_CASE("responses without a certs field or without a BasicOCSPResponse yield nothing") {
  const char* files[] = {
      "pyca-cryptography-vectors/ocsp/resp-sha256.der",        // CA-direct, no certs
      "golang-x-crypto-ocsp/ocspResponse_GTS1C3.der",          // CA-direct, no certs
      "pyca-cryptography-vectors/ocsp/resp-unauthorized.der",  // error status
      "aws-lc-ocsp/ocsp_response_trylater.der",
      "pyca-cryptography-vectors/ocsp/resp-successful-no-response-bytes.der",
      "pyca-cryptography-vectors/ocsp/resp-response-type-unknown-oid.der",
  };
  for (const char* file : files) {
    INFO(std::string(file));
    CHECK(embeddedResponderCerts(readFile(realData(file))).empty());
  }
}

TEST_CASE("bytes that are not exactly one OCSPResponse yield no embedded certificates") {
  std::string der = readFile(realData("openssl-ocsp-tests/der/D1.der"));
  REQUIRE(embeddedResponderCerts(der).size() == 1);
  CHECK(embeddedResponderCerts("").empty());
  CHECK(embeddedResponderCerts("<html>502 Bad Gateway</html>").empty());
  CHECK(embeddedResponderCerts(der + '\0').empty());
  CHECK(embeddedResponderCerts(der.substr(0, der.size() - 1)).empty());
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("several embedded certificates come back in the response's order") {
  Chain chain;
  Identity responder =
      issue({.cn = "Test OCSP responder", .ocsp_signing = true}, &chain.intermediate);
  auto id = certIdFor(chain.intermediate, 7);
  std::string der =
      makeResponse({{id.get()}}, responder,
                   {.extra_certs = {chain.intermediate.cert.get(), chain.root.cert.get()}});
  auto certs = embeddedResponderCerts(der);
  REQUIRE(certs.size() == 3);
  CHECK(X509_cmp(certs[0].get(), responder.cert.get()) == 0);  // the signer comes first
  CHECK(X509_cmp(certs[1].get(), chain.intermediate.cert.get()) == 0);
  CHECK(X509_cmp(certs[2].get(), chain.root.cert.get()) == 0);
  // The shared certificates outlive the response bytes they came from.
  der.assign(der.size(), '\0');
  CHECK(subjectLine(certs[0].get()) == "CN=Test OCSP responder,O=ocsp-proxy tests");
}

// ---------------------------------------------------------------------------------------------
// caIssuersUrls

TEST_CASE("caIssuers URLs of real certificates are read exactly") {
  struct Row {
    const char* file;
    const char* url;
  };
  const Row rows[] = {
      {"pyca-cryptography-vectors/certs/letsencryptx3.pem",
       "http://apps.identrust.com/roots/dstrootcax3.p7c"},
      {"golang-x-crypto-ocsp/GTSRoot.pem", "http://pki.goog/repo/certs/gtsr1.der"},
      {"openssl-ocsp-tests/ND1_Issuer_ICA.pem",
       "http://crt.comodoca.com/COMODOAddTrustServerCA.crt"},
      {"pyca-cryptography-vectors/certs/cryptography.io.pem", "http://gv.symcb.com/gv.crt"},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.file));
    auto cert = loadCert(row.file);
    CHECK(caIssuersUrls(cert.get()) == std::vector<std::string>{row.url});
  }
}

TEST_CASE("caIssuers URLs of real embedded responder certificates point at their issuer") {
  struct Row {
    const char* response;
    std::vector<std::string> urls;
  };
  const Row rows[] = {
      {"pyca-cryptography-vectors/ocsp/ocsp-army.deps.mil-resp.der",
       {"http://crl.disa.mil/sign/DODIDSWCA_38.cer"}},
      {"pyca-cryptography-vectors/ocsp/resp-delegate-unknown-cert.der",
       {"http://www.camerfirma.com/certs/ac_camerfirma_cc.crt"}},
      // This QuoVadis responder certificate has no AuthorityInfoAccess at all.
      {"pyca-cryptography-vectors/ocsp/resp-revoked-reason.der", {}},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.response));
    auto certs = embeddedResponderCerts(readFile(realData(row.response)));
    REQUIRE(certs.size() == 1);
    CHECK(caIssuersUrls(certs[0].get()) == row.urls);
  }
}

TEST_CASE("only http caIssuers URIs are kept, in their order") {
  Chain chain;
  Identity responder = issue({.cn = "AIA responder",
                              .ocsp_signing = true,
                              .aia = "OCSP;URI:http://ocsp.example.com/,"
                                     "caIssuers;URI:http://a.example.com/ca.crt,"
                                     "caIssuers;URI:https://b.example.com/ca.crt,"
                                     "caIssuers;URI:ldap://ldap.example.com/cn=CA?cACertificate,"
                                     "caIssuers;URI:HTTP://C.example.com/ca.p7c,"
                                     "caIssuers;email:ca@example.com,"
                                     "caIssuers;URI:http://,"
                                     "caIssuers;URI:http://d.example.com:8080/x.der"},
                             &chain.intermediate);
  CHECK(caIssuersUrls(responder.cert.get()) ==
        std::vector<std::string>{"http://a.example.com/ca.crt", "HTTP://C.example.com/ca.p7c",
                                 "http://d.example.com:8080/x.der"});
  CHECK(caIssuersUrls(chain.leaf.cert.get()).empty());  // no AuthorityInfoAccess
  Identity ocsp_only =
      issue({.cn = "OCSP only", .aia = "OCSP;URI:http://ocsp.example.com/"}, &chain.intermediate);
  CHECK(caIssuersUrls(ocsp_only.cert.get()).empty());
  CHECK(caIssuersUrls(nullptr).empty());
  CHECK(ERR_peek_error() == 0);
}

// ---------------------------------------------------------------------------------------------
// parseIssuerDownload

TEST_CASE("a caIssuers download in DER, PEM or PKCS#7 yields every certificate in order") {
  Chain chain;
  X509* a = chain.intermediate.cert.get();
  X509* b = chain.root.cert.get();
  auto bundle = certsOnly({a, b});
  struct Row {
    const char* what;
    std::string bytes;
    std::vector<std::string> expected;
  };
  const Row rows[] = {
      {"DER certificate", derOf(a), {derOf(a)}},
      {"PEM certificate", pemOf(a), {derOf(a)}},
      {"PEM chain with explanatory text",
       "Intermediate:\n" + pemOf(a) + "Root:\n" + pemOf(b) + "\n",
       {derOf(a), derOf(b)}},
      // '0' is 0x30, the first byte of DER: the PEM is still found.
      {"PEM after text starting with '0'", "0 = intermediate\n" + pemOf(a), {derOf(a)}},
      {"DER PKCS#7 certs-only", pkcs7Der(bundle.get()), {derOf(a), derOf(b)}},
      {"PEM PKCS#7 certs-only", pkcs7Pem(bundle.get()), {derOf(a), derOf(b)}},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.what));
    CHECK(derOfAll(parseIssuerDownload(row.bytes)) == row.expected);
    CHECK(ERR_peek_error() == 0);
  }
}

TEST_CASE("real issuer certificates parse from their PEM and DER files") {
  struct Row {
    const char* file;
    const char* subject;
  };
  const Row rows[] = {
      {"openjdk-certification-tests/QuoVadis_Global_SSL_ICA_G3.pem",
       "CN=QuoVadis Global SSL ICA G3,O=QuoVadis Limited,C=BM"},
      {"pyca-cryptography-vectors/certs/letsencryptx3.pem",
       "CN=Let's Encrypt Authority X3,O=Let's Encrypt,C=US"},
      {"golang-x-crypto-ocsp/issuerCert_VeriSign_Intl_Server_CA_Class3.der", nullptr},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.file));
    auto r = parseIssuerDownload(readFile(realData(row.file)));
    REQUIRE_MESSAGE(r.ok(), detailOf(r));
    REQUIRE(r->size() == 1);
    CHECK(X509_cmp(r->front().get(), loadCert(row.file).get()) == 0);
    if (row.subject != nullptr) CHECK(subjectLine(r->front().get()) == row.subject);
  }
}

TEST_CASE("a caIssuers download that is not a certificate is rejected as not_a_certificate") {
  Chain chain;
  std::string der = derOf(chain.intermediate.cert.get());
  std::string pem = pemOf(chain.intermediate.cert.get());
  auto empty_bundle = certsOnly({});
  Pkcs7Ptr data_only(PKCS7_new());
  REQUIRE(PKCS7_set_type(data_only.get(), NID_pkcs7_data) == 1);
  std::string broken_pem = pem;
  broken_pem[pem.find('\n') + 5] = '*';  // not base64
  struct Row {
    const char* what;
    std::string bytes;
  };
  const Row rows[] = {
      {"empty", ""},
      {"an HTML error page", "<html><body>404 Not Found</body></html>"},
      {"DER certificate with a trailing byte", der + '\0'},
      {"DER certificate with a second one behind", der + der},
      {"truncated DER certificate", der.substr(0, der.size() - 1)},
      {"DER of something else (a CertID)", toDer(certIdFor(chain.root, 1).get(), i2d_OCSP_CERTID)},
      {"PKCS#7 without certificates", pkcs7Der(empty_bundle.get())},
      {"PKCS#7 data, not SignedData", pkcs7Der(data_only.get())},
      {"PKCS#7 with a trailing byte", pkcs7Der(certsOnly({chain.root.cert.get()}).get()) + '\n'},
      {"PEM with a broken CERTIFICATE block", broken_pem},
      {"PEM with only other blocks",
       "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"},
      {"PEM armour around garbage",
       "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.what));
    auto r = parseIssuerDownload(row.bytes);
    CHECK(ERR_peek_error() == 0);
    REQUIRE_FALSE(r.ok());
    CHECK_MESSAGE(r.error().code == "not_a_certificate", r.error().detail);
    CHECK(r.error().category == ErrorCategory::ValidationFailed);
    CHECK(r.error().detail.find('\n') == std::string::npos);
  }
}

// ---------------------------------------------------------------------------------------------
// matchesCertId

TEST_CASE("the issuer matches its CertIDs in SHA-1 and SHA-256") {
  Chain chain;
  X509* issuer = chain.intermediate.cert.get();
  CHECK(matchesCertId(issuer, infoOf(certIdFor(chain.intermediate, 42, EVP_sha1()))));
  CHECK(matchesCertId(issuer, infoOf(certIdFor(chain.intermediate, 42, EVP_sha256()))));
  CHECK(matchesCertId(issuer, infoOf(certIdFor(chain.intermediate, 42, EVP_sha384()))));
  // The serial plays no part: the CertID names the issuer by its hashes only.
  CHECK(matchesCertId(issuer, infoOf(certIdFor(chain.intermediate, 43))));
  CHECK_FALSE(matchesCertId(chain.root.cert.get(), infoOf(certIdFor(chain.intermediate, 42))));
}

TEST_CASE(
    "a CA with the issuer's name but another key, or its key but another name, does not match") {
  Chain chain;
  Identity same_name_other_key = issue({.cn = "Test Intermediate", .ca = true}, &chain.root);
  Identity same_key_other_name = issue(
      {.cn = "Test Intermediate 2", .ca = true, .key = chain.intermediate.key.get()}, &chain.root);
  for (const EVP_MD* md : {EVP_sha1(), EVP_sha256()}) {
    INFO(std::string(EVP_MD_get0_name(md)));
    CertIdInfo id = infoOf(certIdFor(chain.intermediate, 42, md));
    REQUIRE(X509_NAME_cmp(X509_get_subject_name(same_name_other_key.cert.get()),
                          X509_get_subject_name(chain.intermediate.cert.get())) == 0);
    CHECK_FALSE(matchesCertId(same_name_other_key.cert.get(), id));
    CHECK_FALSE(matchesCertId(same_key_other_name.cert.get(), id));
  }
}

TEST_CASE("a CertID with an unknown hash algorithm or no certificate matches nothing") {
  Chain chain;
  CertIdInfo id = infoOf(certIdFor(chain.intermediate, 42));
  CHECK(matchesCertId(chain.intermediate.cert.get(), id));
  CertIdInfo unknown = id;
  unknown.hash_nid = NID_undef;
  CHECK_FALSE(matchesCertId(chain.intermediate.cert.get(), unknown));
  CertIdInfo wrong_hash = id;
  wrong_hash.hash_nid = NID_sha256;  // SHA-1 values under a SHA-256 label
  CHECK_FALSE(matchesCertId(chain.intermediate.cert.get(), wrong_hash));
  CHECK_FALSE(matchesCertId(nullptr, id));
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("real issuers match the CertIDs of real responses; OpenSSL's wrong copies do not") {
  struct Row {
    const char* response;
    const char* issuer;
    bool matches;
  };
  const Row rows[] = {
      {"pyca-cryptography-vectors/ocsp/resp-revoked-reason.der",
       "openjdk-certification-tests/QuoVadis_Global_SSL_ICA_G3.pem", true},
      {"pyca-cryptography-vectors/ocsp/resp-sha256.der",
       "pyca-cryptography-vectors/certs/letsencryptx3.pem", true},
      {"openssl-ocsp-tests/der/D1.der", "openssl-ocsp-tests/D1_Issuer_ICA.pem", true},
      {"openssl-ocsp-tests/der/ND1.der", "openssl-ocsp-tests/ND1_Issuer_ICA.pem", true},
      // Wrong key, same name; wrong subject name, same key.
      {"openssl-ocsp-tests/der/D1.der", "openssl-ocsp-tests/WKIC_D1_Issuer_ICA.pem", false},
      {"openssl-ocsp-tests/der/D1.der", "openssl-ocsp-tests/WSNIC_D1_Issuer_ICA.pem", false},
      {"openssl-ocsp-tests/der/ND1.der", "openssl-ocsp-tests/WKIC_ND1_Issuer_ICA.pem", false},
      {"openssl-ocsp-tests/der/ND1.der", "openssl-ocsp-tests/WSNIC_ND1_Issuer_ICA.pem", false},
      // A broken signature on the issuer certificate does not change its name or key.
      {"openssl-ocsp-tests/der/D1.der", "openssl-ocsp-tests/ISIC_D1_Issuer_ICA.pem", true},
      // Another CA altogether.
      {"openssl-ocsp-tests/der/D1.der", "openssl-ocsp-tests/ND1_Issuer_ICA.pem", false},
  };
  for (const auto& row : rows) {
    INFO((std::string(row.response) + " with " + row.issuer));
    auto issuer = loadCert(row.issuer);
    CHECK(matchesCertId(issuer.get(), certIdOfResponse(readFile(realData(row.response)))) ==
          row.matches);
  }
}

// ---------------------------------------------------------------------------------------------
// verifyIssuerChain

TEST_CASE("an intermediate under a trusted root is accepted") {
  Chain chain;
  auto store = storeWith({chain.root.cert.get()});
  CHECK_CODE(verify(chain.intermediate.cert.get(), store.get(), {}, kT), "ok");
  // The root itself, when it is the CertID's issuer, is trusted as it is.
  CHECK_CODE(verify(chain.root.cert.get(), store.get(), {}, kT), "ok");
}

TEST_CASE("intermediates from the download may sit between the candidate and the root") {
  Chain chain;
  auto store = storeWith({chain.root.cert.get()});
  X509* sub = chain.sub_intermediate.cert.get();
  CHECK_CODE(verify(sub, store.get(), {chain.intermediate.cert.get()}, kT), "ok");
  // Without the middle certificate there is no path to the root.
  auto missing = verify(sub, store.get(), {}, kT);
  CHECK_CODE(missing, "untrusted_chain");
  CHECK(detailOf(missing).find("unable to get local issuer certificate") != std::string::npos);
  // A trusted intermediate alone is not a root: no partial chains.
  auto partial = storeWith({chain.intermediate.cert.get()});
  CHECK_CODE(verify(sub, partial.get(), {}, kT), "untrusted_chain");
}

TEST_CASE("an intermediate under an unknown root is untrusted") {
  Chain chain;
  Chain other;
  auto store = storeWith({other.root.cert.get()});
  auto r = verify(chain.intermediate.cert.get(), store.get(), {}, kT);
  CHECK_CODE(r, "untrusted_chain");
  if (!r.ok()) CHECK(r.error().category == ErrorCategory::ValidationFailed);
  CHECK(detailOf(r).find("CN=Test Intermediate") != std::string::npos);
  // Even when the download brings its own root along as an intermediate.
  CHECK_CODE(verify(chain.intermediate.cert.get(), store.get(), {chain.root.cert.get()}, kT),
             "untrusted_chain");
  // A self-signed CA that is not in the store.
  CHECK_CODE(verify(chain.root.cert.get(), store.get(), {}, kT), "untrusted_chain");
}

TEST_CASE("a certificate that is not a CA is rejected as not_a_ca") {
  Chain chain;
  auto store = storeWith({chain.root.cert.get()});
  Identity responder =
      issue({.cn = "Test OCSP responder", .ocsp_signing = true}, &chain.intermediate);
  for (X509* cert : {chain.leaf.cert.get(), responder.cert.get()}) {
    CAPTURE(subjectLine(cert));
    auto r = verify(cert, store.get(), {chain.intermediate.cert.get()}, kT);
    CHECK_CODE(r, "not_a_ca");
    if (!r.ok()) CHECK(r.error().category == ErrorCategory::ValidationFailed);
  }
  // A real TLS server certificate (basicConstraints CA:FALSE).
  auto server = loadCert("pyca-cryptography-vectors/certs/cryptography.io.pem");
  CHECK_CODE(verify(server.get(), store.get(), {}, kT), "not_a_ca");
}

TEST_CASE("an intermediate outside its validity at now is untrusted") {
  Chain chain;
  auto store = storeWith({chain.root.cert.get()});
  Identity expired = issue({.cn = "Expired Intermediate",
                            .ca = true,
                            .not_before = kT - 9 * kDay,
                            .not_after = kT - kDay},
                           &chain.root);
  auto r = verify(expired.cert.get(), store.get(), {}, kT);
  CHECK_CODE(r, "untrusted_chain");
  CHECK(detailOf(r).find("certificate has expired") != std::string::npos);
  // Valid at a `now` inside its validity: the host clock is never read.
  CHECK_CODE(verify(expired.cert.get(), store.get(), {}, kT - 2 * kDay), "ok");
  Identity future =
      issue({.cn = "Future Intermediate", .ca = true, .not_before = kT + kDay}, &chain.root);
  CHECK_CODE(verify(future.cert.get(), store.get(), {}, kT), "untrusted_chain");
}

TEST_CASE("a null candidate or store is a caller bug") {
  Chain chain;
  auto store = storeWith({chain.root.cert.get()});
  auto no_store = verifyIssuerChain(chain.intermediate.cert.get(), nullptr, nullptr, kT);
  REQUIRE_FALSE(no_store.ok());
  CHECK(no_store.error().category == ErrorCategory::Internal);
  CHECK_FALSE(verifyIssuerChain(nullptr, store.get(), nullptr, kT).ok());
}

TEST_CASE("real intermediates chain to their Mozilla roots at the time of their responses") {
  struct Row {
    const char* intermediate;
    const char* root;
    int64_t at;
    const char* code;
  };
  const Row rows[] = {
      {"openjdk-certification-tests/QuoVadis_Global_SSL_ICA_G3.pem",
       "certifi-mozilla-roots/QuoVadis_Root_CA_2_G3.pem", kQuoVadisProducedAt, "ok"},
      {"openssl-ocsp-tests/D1_Issuer_ICA.pem", "certifi-mozilla-roots/GlobalSign_Root_CA_R2.pem",
       kGlobalSignProducedAt, "ok"},
      // Both intermediates have expired since (2022).
      {"openjdk-certification-tests/QuoVadis_Global_SSL_ICA_G3.pem",
       "certifi-mozilla-roots/QuoVadis_Root_CA_2_G3.pem", kToday, "untrusted_chain"},
      // Under another root.
      {"openjdk-certification-tests/QuoVadis_Global_SSL_ICA_G3.pem",
       "certifi-mozilla-roots/GlobalSign_Root_CA_R2.pem", kQuoVadisProducedAt, "untrusted_chain"},
      // A broken signature on the intermediate.
      {"openssl-ocsp-tests/ISIC_D1_Issuer_ICA.pem",
       "certifi-mozilla-roots/GlobalSign_Root_CA_R2.pem", kGlobalSignProducedAt, "untrusted_chain"},
  };
  for (const auto& row : rows) {
    INFO((std::string(row.intermediate) + " under " + row.root + " at " + std::to_string(row.at)));
    auto store = loadTrustStore(realData(row.root));
    REQUIRE_MESSAGE(store.ok(), detailOf(store));
    auto candidate = loadCert(row.intermediate);
    CHECK_CODE(verify(candidate.get(), store->get(), {}, row.at), row.code);
  }
}

TEST_CASE("concurrent chain checks may share one lazily loaded directory store") {
  Chain chain;
  Chain stranger;
  TempDir dir;
  dir.write(hashedName(chain.root.cert.get()), pemOf(chain.root.cert.get()));
  auto store = loadTrustStore(dir.path());
  REQUIRE_MESSAGE(store.ok(), detailOf(store));
  constexpr int kThreads = 8;
  constexpr int kRounds = 25;
  // Per thread: how many checks gave the expected answer. Asserted on this thread only.
  std::vector<int> right(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        auto good = verifyIssuerChain(chain.intermediate.cert.get(), store->get(), nullptr, kT);
        auto bad = verifyIssuerChain(stranger.intermediate.cert.get(), store->get(), nullptr, kT);
        bool errors_left = ERR_peek_error() != 0;
        if (good.ok() && !bad.ok() && bad.error().code == "untrusted_chain" && !errors_left) {
          ++right[static_cast<size_t>(t)];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(right == std::vector<int>(kThreads, kRounds));
}

// ---------------------------------------------------------------------------------------------
// loadTrustStore

TEST_CASE("a trust store loads from a PEM file of roots") {
  Chain chain;
  Chain other;
  TempDir dir;
  std::string file =
      dir.write("roots.pem", pemOf(other.root.cert.get()) + pemOf(chain.root.cert.get()));
  auto store = loadTrustStore(file);
  REQUIRE_MESSAGE(store.ok(), detailOf(store));
  CHECK_CODE(verify(chain.intermediate.cert.get(), store->get(), {}, kT), "ok");
  CHECK_CODE(verify(other.intermediate.cert.get(), store->get(), {}, kT), "ok");
  // The real Mozilla root files load the same way.
  CHECK(loadTrustStore(realData("certifi-mozilla-roots/DigiCert_Global_Root_G2.pem")).ok());
}

TEST_CASE("a trust store loads from a directory of hashed names") {
  Chain chain;
  TempDir dir;
  dir.write(hashedName(chain.root.cert.get()), pemOf(chain.root.cert.get()));
  dir.write("README", "not a certificate\n");
  auto store = loadTrustStore(dir.path());
  REQUIRE_MESSAGE(store.ok(), detailOf(store));
  CHECK_CODE(verify(chain.intermediate.cert.get(), store->get(), {}, kT), "ok");
  Chain other;
  CHECK_CODE(verify(other.intermediate.cert.get(), store->get(), {}, kT), "untrusted_chain");
}

TEST_CASE("a trust store that cannot be used is an error naming its path") {
  Chain chain;
  TempDir dir;
  TempDir unhashed;
  unhashed.write("root.pem", pemOf(chain.root.cert.get()));
  TempDir empty;
  struct Row {
    const char* what;
    std::string path;
    const char* reason;
  };
  const Row rows[] = {
      {"missing path", dir.path() + "/no-such-file.pem", "No such file or directory"},
      {"file without certificates", dir.write("junk.pem", "hello\n"), "cannot load certificates"},
      {"DER file", dir.write("root.der", derOf(chain.root.cert.get())), "cannot load certificates"},
      {"directory without hashed names", unhashed.path(), "openssl rehash"},
      {"empty directory", empty.path(), "openssl rehash"},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.what));
    auto r = loadTrustStore(row.path);
    CHECK(ERR_peek_error() == 0);
    REQUIRE_FALSE(r.ok());
    CHECK_MESSAGE(r.error().code == "trust_store", r.error().detail);
    CHECK(r.error().category == ErrorCategory::Config);
    CHECK_MESSAGE(r.error().detail.find(row.path) != std::string::npos, r.error().detail);
    CHECK_MESSAGE(r.error().detail.find(row.reason) != std::string::npos, r.error().detail);
  }
}

TEST_CASE("the system trust store in /etc/ssl/certs loads") {
  const std::string system = "/etc/ssl/certs";
  if (!std::filesystem::is_directory(system)) {
    MESSAGE(system << " is absent (install ca-certificates); not checked");
    return;
  }
  auto store = loadTrustStore(system);
  REQUIRE_MESSAGE(store.ok(), detailOf(store));
  // The lazy directory lookup really finds a root, if the distribution still ships it.
  auto root = loadCert("certifi-mozilla-roots/QuoVadis_Root_CA_2_G3.pem");
  if (!std::filesystem::exists(system + "/" + hashedName(root.get()))) {
    MESSAGE("QuoVadis Root CA 2 G3 is not in " << system << "; chain not checked");
    return;
  }
  auto ica = loadCert("openjdk-certification-tests/QuoVadis_Global_SSL_ICA_G3.pem");
  CHECK_CODE(verify(ica.get(), store->get(), {}, kQuoVadisProducedAt), "ok");
}

}  // namespace
}  // namespace ocsp
