#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
// `ocsp-proxy egress test`'s verdicts (tools/egress_verdict.h): what one probe found becomes
// ok or FAIL and a cause the network team can act on, from real OCSP responses, real and
// generated CRLs and certificates, and the things a firewall or a CDN answers instead.
#include <doctest/doctest.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

#include "tests/unit/test_crls.h"
#include "tests/unit/test_pki.h"
#include "tests/unit/test_util.h"
#include "tools/egress_verdict.h"

namespace ocsp::tools {
namespace {

using test::readFile;
using test::realData;

const std::string kHtml = "<html><body>Blocked by policy</body></html>";

EgressFacts answered(EgressKind kind, long status, std::string content_type, std::string body) {
  EgressFacts f;
  f.kind = kind;
  f.http_status = status;
  f.content_type = std::move(content_type);
  f.body = std::move(body);
  f.body_bytes = static_cast<int64_t>(f.body.size());
  return f;
}

EgressFacts failed(EgressTransport transport, std::string detail = {}) {
  EgressFacts f;
  f.transport = transport;
  f.timeout_ms = 500;
  f.detail = detail;
  f.dns_error = std::move(detail);
  return f;
}

std::string derOf(X509* cert) {
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert, &der);
  REQUIRE(len > 0);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

// A probe that must FAIL, and the cause it must give.
struct FailRow {
  EgressFacts facts;
  std::string cause;
};

void checkEachFails(const std::vector<FailRow>& rows) {
  for (const auto& row : rows) {
    const EgressVerdict v = judgeEgress(row.facts);
    CAPTURE(row.cause);
    CHECK_FALSE(v.ok);
    CHECK(v.cause == row.cause);
  }
}

}  // namespace

TEST_CASE("a connection that never answered is a FAIL whose cause names the stage") {
  checkEachFails({
      {failed(EgressTransport::DnsFailed, "no address"), "DNS: no address"},
      {failed(EgressTransport::DnsFailed, "Temporary failure in name resolution"),
       "DNS: Temporary failure in name resolution"},
      {failed(EgressTransport::DnsTimeout), "DNS: timeout after 500 ms"},
      {failed(EgressTransport::Refused), "connect refused"},
      {failed(EgressTransport::ConnectFailed, "No route to host"),
       "connect failed: No route to host"},
      {failed(EgressTransport::ConnectTimeout), "timeout after 500 ms (connecting)"},
      {failed(EgressTransport::AnswerTimeout), "timeout after 500 ms (connected, no answer)"},
      {failed(EgressTransport::Closed, "Empty reply from server"),
       "connection closed without an answer: Empty reply from server"},
      {failed(EgressTransport::Tls, "certificate verify failed"), "TLS: certificate verify failed"},
  });
}

TEST_CASE("an OCSP upstream passes with any parseable OCSP answer, unauthorized included") {
  const std::string good = readFile(realData("aws-lc-ocsp/ocsp_response.der"));
  const std::string unauthorized = readFile(realData("aws-lc-ocsp/ocsp_response_unauthorized.der"));
  const std::string try_later = readFile(realData("aws-lc-ocsp/ocsp_response_trylater.der"));
  CHECK(ocspResponseStatusOf(good) == "successful");
  CHECK(ocspResponseStatusOf(unauthorized) == "unauthorized");

  EgressVerdict v = judgeEgress(answered(EgressKind::Ocsp, 200, "application/ocsp-response", good));
  CHECK(v.ok);
  CHECK(v.cause == "OCSP answer: successful");

  v = judgeEgress(answered(EgressKind::Ocsp, 200, "application/ocsp-response", unauthorized));
  CHECK(v.ok);
  CHECK(v.cause ==
        "OCSP answer: unauthorized (the responder answered; the path works, whatever it says "
        "of this CertID)");
  v = judgeEgress(answered(EgressKind::Ocsp, 200, "application/ocsp-response", try_later));
  CHECK(v.ok);
  CHECK(v.cause.starts_with("OCSP answer: trylater (the responder answered"));
}

TEST_CASE("an OCSP upstream fails on an HTTP error or on what is not an OCSP answer") {
  const std::string good = readFile(realData("aws-lc-ocsp/ocsp_response.der"));
  EgressFacts cut =
      answered(EgressKind::Ocsp, 200, "application/ocsp-response", good.substr(0, good.size() / 2));
  EgressFacts too_large = answered(EgressKind::Ocsp, 200, "application/ocsp-response", good);
  too_large.truncated = true;
  too_large.body_bytes = 5'000'000;
  checkEachFails({
      {answered(EgressKind::Ocsp, 503, "text/html", kHtml), "HTTP 503"},
      {answered(EgressKind::Ocsp, 403, "application/ocsp-response", good), "HTTP 403"},
      {answered(EgressKind::Ocsp, 200, "text/html; charset=utf-8", kHtml),
       "not an OCSP answer (text/html, " + std::to_string(kHtml.size()) + " bytes)"},
      {answered(EgressKind::Ocsp, 200, "", ""), "not an OCSP answer (no Content-Type, 0 bytes)"},
      {answered(EgressKind::Ocsp, 200, "application/ocsp-response", good + "x"),
       "not an OCSP answer (application/ocsp-response, " + std::to_string(good.size() + 1) +
           " bytes)"},
      {cut, "not an OCSP answer (application/ocsp-response, " + std::to_string(good.size() / 2) +
                " bytes)"},
      {too_large, "not an OCSP answer (application/ocsp-response, 5000000 bytes)"},
  });
}

TEST_CASE("a CRL host passes with a DER or PEM CRL, also when only its first bytes were read") {
  const test::Identity ca = test::issue({.cn = "Egress CA", .ca = true}, nullptr);
  const std::string der = test::makeCrl(ca, test::kT, test::kT + test::kDay, {1, 2, 3});
  const std::string pem = readFile(realData("pyca-cryptography-vectors/crl/crl_almost_10k.pem"));
  REQUIRE(der.size() > 120);

  EgressVerdict v = judgeEgress(answered(EgressKind::Crl, 200, "application/pkix-crl", der));
  CHECK(v.ok);
  CHECK(v.cause == "CRL (DER, " + std::to_string(der.size()) + " bytes)");

  EgressFacts prefix = answered(EgressKind::Crl, 200, "application/pkix-crl", der.substr(0, 120));
  prefix.truncated = true;
  prefix.body_bytes = static_cast<int64_t>(der.size());
  CHECK(judgeEgress(prefix).ok);

  EgressFacts pem_prefix =
      answered(EgressKind::Crl, 200, "application/x-pem-file", pem.substr(0, 65536));
  pem_prefix.truncated = true;
  pem_prefix.body_bytes = static_cast<int64_t>(pem.size());
  v = judgeEgress(pem_prefix);
  CHECK(v.ok);
  CHECK(v.cause == "CRL (PEM, " + std::to_string(pem.size()) + " bytes)");
  CHECK(looksLikeCrl(pem, false));
}

TEST_CASE("a CRL host fails on what is not a CRL: an error page, a certificate, an OCSP answer") {
  const test::Identity ca = test::issue({.cn = "Egress CA", .ca = true}, nullptr);
  const std::string cert = derOf(ca.cert.get());
  const std::string crl = test::makeCrl(ca, test::kT, test::kT + test::kDay, {1});
  const std::string ocsp = readFile(realData("aws-lc-ocsp/ocsp_response.der"));
  struct Row {
    std::string body;
    bool truncated;
    std::string why;
  };
  const std::vector<Row> rows = {
      {kHtml, false, "an HTML page"},
      {kHtml, true, "the first bytes of an HTML page"},
      {cert, false, "a certificate"},
      {cert.substr(0, 200), true, "the first bytes of a certificate"},
      {ocsp, false, "an OCSP response"},
      {crl + "trailing", false, "a CRL with bytes after it"},
      {crl.substr(0, crl.size() - 1), false, "a CRL cut short"},
      {"-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n", false, "broken PEM"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.why);
    EgressFacts f = answered(EgressKind::Crl, 200, "application/pkix-crl", row.body);
    f.truncated = row.truncated;
    const EgressVerdict v = judgeEgress(f);
    CHECK_FALSE(v.ok);
    CHECK(v.cause ==
          "not a CRL (application/pkix-crl, " + std::to_string(row.body.size()) + " bytes)");
  }
  CHECK(judgeEgress(answered(EgressKind::Crl, 404, "text/html", kHtml)).cause == "HTTP 404");
}

TEST_CASE("a caIssuers host passes with certificates and fails with anything else") {
  const test::Identity ca = test::issue({.cn = "Egress CA", .ca = true}, nullptr);
  EgressVerdict v =
      judgeEgress(answered(EgressKind::Aia, 200, "application/pkix-cert", derOf(ca.cert.get())));
  CHECK(v.ok);
  CHECK(v.cause == "caIssuers: 1 certificate (DER)");
  v = judgeEgress(
      answered(EgressKind::Aia, 200, "application/x-pem-file", test::pemOf(ca.cert.get())));
  CHECK(v.ok);
  CHECK(v.cause == "caIssuers: 1 certificate (PEM)");

  const std::string crl = test::makeCrl(ca, test::kT, test::kT + test::kDay, {1});
  v = judgeEgress(answered(EgressKind::Aia, 200, "application/pkix-crl", crl));
  CHECK_FALSE(v.ok);
  CHECK(v.cause ==
        "not a certificate (application/pkix-crl, " + std::to_string(crl.size()) + " bytes)");
  CHECK(judgeEgress(answered(EgressKind::Aia, 200, "text/html", kHtml)).cause ==
        "not a certificate (text/html, " + std::to_string(kHtml.size()) + " bytes)");
}

TEST_CASE("a host the config names no URL on passes with any HTTP answer to /, and says so") {
  EgressFacts f = answered(EgressKind::Crl, 404, "text/html", kHtml);
  f.path_known = false;
  const EgressVerdict v = judgeEgress(f);
  CHECK(v.ok);
  CHECK(v.cause == "HTTP 404 for / (the config names no URL on this host; content not checked)");
}

TEST_CASE("Redis passes on PONG only") {
  EgressFacts f;
  f.kind = EgressKind::Redis;
  f.redis_reply = "PONG";
  CHECK(judgeEgress(f).ok);
  CHECK(judgeEgress(f).cause == "Redis: PONG");
  f.redis_reply = "NOAUTH Authentication required.";
  CHECK_FALSE(judgeEgress(f).ok);
  CHECK(judgeEgress(f).cause == "Redis: NOAUTH Authentication required.");
  f.transport = EgressTransport::Refused;
  CHECK(judgeEgress(f).cause == "connect refused");
}

std::vector<EgressRow> sampleRows() {
  return {
      {"ocsp.a.example",
       80,
       "ocsp upstream a",
       "http://ocsp.a.example/",
       {"192.0.2.10"},
       "resolve",
       {true, "OCSP answer: successful"},
       12},
      {"crl.b.example",
       8081,
       "crl",
       "http://crl.b.example:8081/b.crl",
       {"192.0.2.20", "2001:db8::20"},
       "dns",
       {false, "HTTP 503"},
       7},
      {"gone.example", 80, "aia", "http://gone.example/", {}, "dns", {false, "DNS: no address"}, 3},
  };
}

TEST_CASE("the table has one aligned row per host and a summary the team can quote") {
  CHECK(renderEgressTable(sampleRows()) ==
        "HOST            PORT  PURPOSE          ADDRESSES                VERDICT  TIME   CAUSE\n"
        "ocsp.a.example  80    ocsp upstream a  192.0.2.10 (resolve:)    ok       12 ms  "
        "OCSP answer: successful\n"
        "crl.b.example   8081  crl              192.0.2.20,2001:db8::20  FAIL     7 ms   "
        "HTTP 503\n"
        "gone.example    80    aia              -                        FAIL     3 ms   "
        "DNS: no address\n"
        "2 of 3 hosts FAILED.\n");
  std::vector<EgressRow> all_ok = {sampleRows().front()};
  CHECK(renderEgressTable(all_ok).ends_with("\nAll 1 hosts reachable.\n"));
  CHECK(renderEgressTable({}).ends_with("No host to test: the config names none.\n"));
}

TEST_CASE("the JSON document carries the same rows, verdicts and causes") {
  CHECK(renderEgressJson(sampleRows(), 500) ==
        "{\"ok\": false, \"failed\": 2, \"timeout_ms\": 500, \"hosts\": [\n"
        "  {\"host\": \"ocsp.a.example\", \"port\": 80, \"purpose\": \"ocsp upstream a\", "
        "\"url\": \"http://ocsp.a.example/\", \"addresses\": [\"192.0.2.10\"], "
        "\"resolved_by\": \"resolve\", \"verdict\": \"ok\", \"cause\": \"OCSP answer: "
        "successful\", \"elapsed_ms\": 12},\n"
        "  {\"host\": \"crl.b.example\", \"port\": 8081, \"purpose\": \"crl\", "
        "\"url\": \"http://crl.b.example:8081/b.crl\", \"addresses\": [\"192.0.2.20\", "
        "\"2001:db8::20\"], \"resolved_by\": \"dns\", \"verdict\": \"FAIL\", \"cause\": \"HTTP "
        "503\", \"elapsed_ms\": 7},\n"
        "  {\"host\": \"gone.example\", \"port\": 80, \"purpose\": \"aia\", "
        "\"url\": \"http://gone.example/\", \"addresses\": [], \"resolved_by\": \"dns\", "
        "\"verdict\": \"FAIL\", \"cause\": \"DNS: no address\", \"elapsed_ms\": 3}\n"
        "]}\n");
  CHECK(renderEgressJson({}, 500) ==
        "{\"ok\": true, \"failed\": 0, \"timeout_ms\": 500, \"hosts\": []}\n");
}

}  // namespace ocsp::tools
