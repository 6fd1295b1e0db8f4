// Request decoding: POST DER, RFC 5019 GET in both base64 alphabets, garbage, truncated DER.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <openssl/ocsp.h>

#include <cctype>
#include <chrono>
#include <vector>

#include "core/base64.h"
#include "core/ossl.h"
#include "proxy/request_decoder.h"
#include "tests/unit/test_util.h"

using namespace ocsp;
using ocsp::test::readFile;
using ocsp::test::realData;

namespace {

std::string toBase64Url(std::string b64) {
  for (char& c : b64) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return b64;
}

std::string urlEncode(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '+') out += "%2B";
    else if (c == '/') out += "%2F";
    else if (c == '=') out += "%3D";
    else out.push_back(c);
  }
  return out;
}

}  // namespace

TEST_CASE("a real POST request decodes to its CertID and nonce") {
  auto q = decodeOcspDer(readFile(realData("aws-lc-ocsp/ocsp_request.der")));
  REQUIRE(q.ok());
  REQUIRE(q->cert_ids.size() == 1);
  CHECK(q->cert_ids[0].hash_nid == NID_sha1);
  CHECK(q->cert_ids[0].issuer_name_hash.size() == 20);
  CHECK(q->cert_ids[0].issuer_key_hash.size() == 20);
  CHECK_FALSE(q->cert_ids[0].serial.empty());
  CHECK(q->nonce.has_value());
}

TEST_CASE("nonce does not change the cache key") {
  auto with = decodeOcspDer(readFile(realData("aws-lc-ocsp/ocsp_request.der")));
  auto without = decodeOcspDer(readFile(realData("aws-lc-ocsp/ocsp_request_no_nonce.der")));
  REQUIRE(with.ok());
  REQUIRE(without.ok());
  CHECK_FALSE(without->nonce.has_value());
  CHECK(with->key == without->key);
}

TEST_CASE("a signed request is accepted and keyed like the unsigned one") {
  auto signed_req = decodeOcspDer(readFile(realData("aws-lc-ocsp/ocsp_request_signed.der")));
  auto plain = decodeOcspDer(readFile(realData("aws-lc-ocsp/ocsp_request.der")));
  REQUIRE(signed_req.ok());
  CHECK(signed_req->key == plain->key);
}

TEST_CASE("a request with two CertIDs keeps both, in order") {
  auto q = decodeOcspDer(readFile(realData("pyca-cryptography-vectors/ocsp/req-multi-sha1.der")));
  REQUIRE(q.ok());
  REQUIRE(q->cert_ids.size() == 2);
  CHECK_FALSE(q->cert_ids[0].serial == q->cert_ids[1].serial);
  auto first = decodeOcspDer(readFile(realData("pyca-cryptography-vectors/ocsp/req-sha1.der")));
  REQUIRE(first.ok());
  CHECK_FALSE(first->key == q->key);
}

TEST_CASE("a CertID with an unknown hash algorithm is malformed") {
  auto q = decodeOcspDer(readFile(realData("pyca-cryptography-vectors/ocsp/req-invalid-hash-alg.der")));
  REQUIRE_FALSE(q.ok());
  CHECK(q.error().category == ErrorCategory::MalformedRequest);
  CHECK(q.error().code == "unknown_hash");
}

TEST_CASE("garbage, empty and trailing bytes are malformed") {
  std::string good = readFile(realData("aws-lc-ocsp/ocsp_request.der"));
  struct Case {
    std::string body;
    std::string code;
  };
  const Case cases[] = {
      {"", "empty"},
      {"hello, this is not DER", "not_der"},
      {std::string(64, '\0'), "not_der"},
      {good + "x", "trailing_bytes"},
      {readFile(realData("aws-lc-ocsp/ocsp_response.der")), "not_der"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.code);
    auto q = decodeOcspDer(c.body);
    REQUIRE_FALSE(q.ok());
    CHECK(q.error().category == ErrorCategory::MalformedRequest);
    CHECK(q.error().code == c.code);
  }
}

// `der` (one DER TLV) with its outermost length written another way: "indefinite" (BER
// 0x80 ... 00 00) or "long" (one more length byte than needed).
std::string reframed(const std::string& der, const std::string& how) {
  REQUIRE(der.size() > 4);
  const auto first = static_cast<unsigned char>(der[1]);
  const size_t length_bytes = first < 0x80 ? 0 : first & 0x7f;
  const std::string content = der.substr(2 + length_bytes);
  std::string length = der.substr(1, 1 + length_bytes);
  if (how == "indefinite") return der.substr(0, 1) + "\x80" + content + std::string(2, '\0');
  const std::string value = length_bytes == 0 ? length : length.substr(1);
  return der.substr(0, 1) + static_cast<char>(0x80 | (value.size() + 1)) + '\0' + value + content;
}

TEST_CASE("a BER request (indefinite or non-minimal length) is malformed: OCSP requests are DER") {
  for (const char* name : {"aws-lc-ocsp/ocsp_request.der", "aws-lc-ocsp/ocsp_request_signed.der",
                           "pyca-cryptography-vectors/ocsp/req-multi-sha1.der"}) {
    const std::string der = readFile(realData(name));
    REQUIRE(decodeOcspDer(der).ok());
    for (const char* how : {"indefinite", "long"}) {
      CAPTURE(name);
      CAPTURE(how);
      const std::string ber = reframed(der, how);
      REQUIRE(ber != der);
      auto q = decodeOcspDer(ber);
      REQUIRE_FALSE(q.ok());
      CHECK(q.error().category == ErrorCategory::MalformedRequest);
      CHECK(q.error().code == "not_der");
      CHECK(q.error().detail == "the OCSPRequest is BER, not DER (RFC 6960 §4.1)");
      // The same through GET (RFC 5019 §5).
      auto get = decodeOcspGetPath("/" + toBase64Url(base64Encode(ber)));
      REQUIRE_FALSE(get.ok());
      CHECK(get.error().code == "not_der");
    }
  }
}

TEST_CASE("every real DER request in the test data is still accepted") {
  for (const char* name :
       {"aws-lc-ocsp/ocsp_request.der", "aws-lc-ocsp/ocsp_request_no_nonce.der",
        "aws-lc-ocsp/ocsp_request_signed.der", "aws-lc-ocsp/ocsp_request_signed_sha256.der",
        "aws-lc-ocsp/ocsp_request_attached_cert.der", "aws-lc-ocsp/ocsp_request_wrong_signer.der",
        "aws-lc-ocsp/ocsp_request_expired_signer.der",
        "pyca-cryptography-vectors/ocsp/req-sha1.der",
        "pyca-cryptography-vectors/ocsp/req-multi-sha1.der",
        "pyca-cryptography-vectors/ocsp/req-ext-nonce.der",
        "pyca-cryptography-vectors/ocsp/ocsp-army.valid-req.der"}) {
    CAPTURE(name);
    CHECK(decodeOcspDer(readFile(realData(name))).ok());
  }
}

// A request listing `n` CertIDs of a real request's issuer: serials 1..n, or all the same.
std::string requestWith(int n, bool distinct = true) {
  const std::string real = readFile(realData("aws-lc-ocsp/ocsp_request_no_nonce.der"));
  const auto* p = reinterpret_cast<const unsigned char*>(real.data());
  OcspRequestPtr from(d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(real.size())));
  REQUIRE(from);
  OCSP_CERTID* id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(from.get(), 0));
  OcspRequestPtr req(OCSP_REQUEST_new());
  for (int i = 0; i < n; ++i) {
    OCSP_CERTID* copy = OCSP_CERTID_dup(id);
    ASN1_INTEGER* serial = nullptr;
    REQUIRE(OCSP_id_get0_info(nullptr, nullptr, nullptr, &serial, copy) == 1);
    if (distinct) REQUIRE(ASN1_INTEGER_set(serial, i + 1) == 1);
    REQUIRE(OCSP_request_add0_id(req.get(), copy));
  }
  unsigned char* der = nullptr;
  const int len = i2d_OCSP_REQUEST(req.get(), &der);
  REQUIRE(len > 0);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

TEST_CASE("a request with more CertIDs than the limit is malformed, saying the limit") {
  CHECK(decodeOcspDer(requestWith(16), 16).ok());
  CHECK(decodeOcspDer(requestWith(230)).ok());  // no limit given
  for (int n : {17, 230}) {
    CAPTURE(n);
    auto q = decodeOcspDer(requestWith(n), 16);
    REQUIRE_FALSE(q.ok());
    CHECK(q.error().category == ErrorCategory::MalformedRequest);
    CHECK(q.error().code == "too_many_cert_ids");
    CHECK(q.error().detail == "request lists " + std::to_string(n) +
                                  " CertIDs (limits.max_cert_ids_per_request is 16)");
    auto get = decodeOcspGetPath("/" + toBase64Url(base64Encode(requestWith(n))), 16);
    REQUIRE_FALSE(get.ok());
    CHECK(get.error().code == "too_many_cert_ids");
  }
}

TEST_CASE("every truncation of a real request is malformed") {
  std::string good = readFile(realData("aws-lc-ocsp/ocsp_request_no_nonce.der"));
  for (size_t n = 0; n < good.size(); ++n) {
    CAPTURE(n);
    CHECK_FALSE(decodeOcspDer(good.substr(0, n)).ok());
  }
}

TEST_CASE("GET accepts URL-encoded standard base64 and base64url, padded or not") {
  std::string der = readFile(realData("aws-lc-ocsp/ocsp_request.der"));
  auto post = decodeOcspDer(der);
  REQUIRE(post.ok());
  std::string b64 = base64Encode(der);
  const std::string paths[] = {
      "/" + urlEncode(b64),
      "/" + b64,  // raw '+', '/' and '=' in the path (RFC 5019 clients often send this)
      "/" + toBase64Url(b64),
      "/" + toBase64Url(b64) + "==",
  };
  for (const auto& path : paths) {
    CAPTURE(path);
    auto q = decodeOcspGetPath(path);
    REQUIRE(q.ok());
    CHECK(q->key == post->key);
    CHECK(q->request_der == der);
  }
}

TEST_CASE("GET with bad base64 or a bad escape is malformed") {
  const std::pair<std::string, std::string> cases[] = {
      {"/", "empty"},
      {"/not*base64", "bad_base64"},
      {"/abcde", "bad_base64"},  // 5 chars cannot be base64
      {"/%zz", "bad_escape"},
      {"/MFQw%2", "bad_escape"},
      {"/aGVsbG8gd29ybGQ", "not_der"},  // valid base64 of "hello world"
  };
  for (const auto& [path, code] : cases) {
    const std::string& shown = path;  // clang 14: a lambda (CAPTURE) cannot use a binding
    CAPTURE(shown);
    auto q = decodeOcspGetPath(path);
    REQUIRE_FALSE(q.ok());
    CHECK(q.error().category == ErrorCategory::MalformedRequest);
    CHECK(q.error().code == code);
  }
}

TEST_CASE("the upstream request drops the nonce and keeps the CertIDs") {
  auto q = decodeOcspDer(readFile(realData("pyca-cryptography-vectors/ocsp/req-multi-sha1.der")));
  REQUIRE(q.ok());
  std::string rebuilt = encodeOcspRequest(q->cert_ids);
  auto again = decodeOcspDer(rebuilt);
  REQUIRE(again.ok());
  CHECK_FALSE(again->nonce.has_value());
  REQUIRE(again->cert_ids.size() == 2);
  CHECK(again->key == q->key);

  auto nonced = decodeOcspDer(readFile(realData("aws-lc-ocsp/ocsp_request.der")));
  REQUIRE(nonced.ok());
  auto stripped = decodeOcspDer(encodeOcspRequest(nonced->cert_ids));
  REQUIRE(stripped.ok());
  CHECK_FALSE(stripped->nonce.has_value());
  CHECK(stripped->request_der == readFile(realData("aws-lc-ocsp/ocsp_request_no_nonce.der")));
}

TEST_CASE("a request listing one CertID twice is malformed: no answer could fit it") {
  auto q = decodeOcspDer(requestWith(2, /*distinct=*/false));
  REQUIRE_FALSE(q.ok());
  CHECK(q.error().category == ErrorCategory::MalformedRequest);
  CHECK(q.error().code == "duplicate_certid");
  CHECK(decodeOcspDer(requestWith(2)).ok());  // two different serials are fine
}

namespace {

// Real requests whose base64 holds '/', '+' and '=' between them, one over 1 KiB (signed).
const char* const kGetRequests[] = {
    "aws-lc-ocsp/ocsp_request.der",              // '/', '+', "=="
    "aws-lc-ocsp/ocsp_request_no_nonce.der",     // '/', '+', no padding
    "aws-lc-ocsp/ocsp_request_signed.der",       // many '/' and '+'
    "golang-x-crypto-ocsp/ocspRequest.der",      // '/' three times, "="
    "pyca-cryptography-vectors/ocsp/req-multi-sha1.der",
    "pyca-cryptography-vectors/ocsp/ocsp-army.valid-req.der",
};

// The paths of real AIA OCSP URLs (the catalogue CAs'), before the client appends
// "/<base64>": GlobalSign, Google Trust Services, DigiCert, QuoVadis and PKIoverheid
// (http://ocsp.digicert.com/ -> ""; a client that joins without looking gives "//").
const char* const kAiaPaths[] = {
    "", "/", "/gsrsaovsslca2018", "/gsrsaovsslca2018/", "/gsgccr3dvtlsca2020", "/rootr3",
    "/gts1c3", "/gts1c3/", "/ocsp", "/domorganisatieservicesocsp-g3", "///",
};

std::string replaced(std::string s, char from, const std::string& to) {
  std::string out;
  for (char c : s) {
    if (c == from) out += to;
    else out.push_back(c);
  }
  return out;
}

// Every way clients write the base64 of `der` in a path.
std::vector<std::pair<std::string, std::string>> encodings(const std::string& der) {
  const std::string b64 = base64Encode(der);
  std::string unpadded = b64;
  while (!unpadded.empty() && unpadded.back() == '=') unpadded.pop_back();
  std::string lower = urlEncode(b64);
  for (size_t at = 0; (at = lower.find('%', at)) != std::string::npos; at += 3) {
    lower[at + 2] = static_cast<char>(std::tolower(static_cast<unsigned char>(lower[at + 2])));
  }
  return {
      {"raw", b64},
      {"raw, unpadded", unpadded},
      {"%-encoded", urlEncode(b64)},
      {"%-encoded, lower-case hex", lower},
      {"only '/' %-encoded", replaced(b64, '/', "%2F")},
      {"only '+' and '=' %-encoded", replaced(replaced(b64, '+', "%2B"), '=', "%3D")},
      {"base64url", toBase64Url(b64)},
      {"base64url, padded", toBase64Url(b64) + std::string(b64.size() - unpadded.size(), '=')},
      {"'+' form-decoded to a space, %-encoded", replaced(b64, '+', "%20")},
      {"'+' form-decoded to a space", replaced(b64, '+', " ")},
      {"every character %-encoded", [&] {
         std::string all;
         static const char* hex = "0123456789ABCDEF";
         for (unsigned char c : b64) all += std::string("%") + hex[c >> 4] + hex[c & 15];
         return all;
       }()},
  };
}

}  // namespace

TEST_CASE("GET finds the request after the AIA URL's path, in every encoding clients use") {
  int paths = 0;
  for (const char* name : kGetRequests) {
    const std::string der = readFile(realData(name));
    auto post = decodeOcspDer(der);
    REQUIRE(post.ok());
    for (const char* aia_path : kAiaPaths) {
      for (const auto& [how, encoded] : encodings(der)) {
        const std::string path = std::string(aia_path) + "/" + encoded;
        const std::string& shown = path;
        const std::string& encoding = how;
        CAPTURE(name);
        CAPTURE(encoding);
        CAPTURE(shown);
        auto q = decodeOcspGetPath(path);
        REQUIRE(q.ok());
        CHECK(q->request_der == der);
        CHECK(q->key == post->key);
        ++paths;
      }
    }
  }
  CHECK(paths == 6 * 11 * 11);
}

TEST_CASE("GET after a path prefix keeps the request's own errors") {
  for (const char* aia_path : kAiaPaths) {
    CAPTURE(aia_path);
    auto limited = decodeOcspGetPath(std::string(aia_path) + "/" + base64Encode(requestWith(17)), 16);
    REQUIRE_FALSE(limited.ok());
    CHECK(limited.error().code == "too_many_cert_ids");
    auto twice = decodeOcspGetPath(std::string(aia_path) + "/" +
                                   toBase64Url(base64Encode(requestWith(2, false))));
    REQUIRE_FALSE(twice.ok());
    CHECK(twice.error().code == "duplicate_certid");
    auto ber = decodeOcspGetPath(std::string(aia_path) + "/" +
                                 base64Encode(reframed(requestWith(1), "long")));
    REQUIRE_FALSE(ber.ok());
    CHECK(ber.error().code == "not_der");
  }
}

TEST_CASE("GET paths whose segments hold no request are malformed") {
  const std::string b64 = base64Encode(readFile(realData("aws-lc-ocsp/ocsp_request.der")));
  const std::string paths[] = {
      "/gts1c3",
      "/gts1c3/",
      "/gsrsaovsslca2018/not*base64",
      "/" + b64 + "/gts1c3",          // something after the request
      "/" + b64 + "/",
      "/" + b64.substr(0, b64.size() - 8),  // truncated
      "/gts1c3/" + b64.substr(4),           // its first characters lost
      "/gts1c3/%zz" + b64,
      std::string(4000, '/'),
      std::string(4000, '/') + "MA",
  };
  for (const std::string& path : paths) {
    const std::string shown = path.substr(0, 80);
    CAPTURE(shown);
    auto q = decodeOcspGetPath(path);
    REQUIRE_FALSE(q.ok());
    CHECK(q.error().category == ErrorCategory::MalformedRequest);
  }
}

TEST_CASE("a long run of slashes before the request costs little and still finds it") {
  const std::string der = readFile(realData("aws-lc-ocsp/ocsp_request.der"));
  // Slashes and base64 characters up to the 8 KiB a request head may hold (limits.*).
  std::string prefix;
  while (prefix.size() < 8000) prefix += prefix.size() % 7 == 0 ? "/MIIB" : "/";
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) {
    auto q = decodeOcspGetPath(prefix + "/" + base64Encode(der));
    REQUIRE(q.ok());
    CHECK(q->request_der == der);
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  MESSAGE("100 decodings of an 8 KiB path of slashes took " << ms << " ms");
  CHECK(ms < 5000);  // about 10 ms here; a try of every suffix in full would take seconds
}
