#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
// `ocsp-proxy explain`'s decision (tools/explain_verdict.h): a table with a row for every
// cause, a table for each client error code, the evidence lines a helpdesk reads, and the
// reading of the proxy's /status document (tools/proxy_status.h).
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "core/log.h"
#include "tools/explain_verdict.h"
#include "tools/proxy_status.h"

namespace ocsp::explain {
namespace {

constexpr int64_t kNow = 1'796'000'000;  // 2026-11-30T00:53:20Z
constexpr int64_t kDay = 86'400;
const char* const kLeaf = "CN=leaf.example,O=Hospital";
const char* const kIca = "CN=QuoVadis Issuing CA G4,O=QuoVadis";
const char* const kRoot = "CN=QuoVadis Root CA,O=QuoVadis";
const char* const kProxy = "http://127.0.0.1:8080";

// A leaf the CA answers good for, through the proxy; its intermediate names no OCSP URL; a
// root. Each row changes what it needs.
Evidence fineChain() {
  Evidence e;
  e.now = kNow;
  e.via_proxy = true;
  Link leaf;
  leaf.subject = kLeaf;
  leaf.serial = "0A1B";
  leaf.issuer = kIca;
  leaf.not_before = kNow - 10 * kDay;
  leaf.not_after = kNow + 300 * kDay;
  leaf.responder_url = "http://ocsp.quovadisglobal.com/";
  leaf.proxy_url = kProxy;
  leaf.http_status = 200;
  leaf.response_status = "successful";
  leaf.cert_status = "good";
  leaf.validated = true;
  leaf.next_update = kNow + kDay;
  Link ica;
  ica.subject = kIca;
  ica.serial = "77";
  ica.issuer = kRoot;
  ica.not_before = kNow - 900 * kDay;
  ica.not_after = kNow + 900 * kDay;
  ica.error_stage = "responder_url";
  ica.error_code = "no_ocsp_url";
  ica.error_detail = std::string(kIca) + " names no http OCSP URL";
  Link root;
  root.subject = kRoot;
  root.serial = "01";
  root.issuer = kRoot;
  root.self_signed = true;
  e.chain = {leaf, ica, root};
  e.status = ProxyState{"http://127.0.0.1:9090/status", "", {}, {}};
  return e;
}

void noAnswer(Link& l) {
  l.http_status.reset();
  l.response_status.clear();
  l.cert_status.clear();
  l.validated = false;
  l.next_update.reset();
}

void answered(Link& l, long http, const char* response_status) {
  noAnswer(l);
  l.http_status = http;
  l.response_status = response_status;
  l.error_stage = http == 200 ? "validation" : "http";
  l.error_code = http == 200 ? "upstream_status" : "http_status";
  l.error_detail = std::string("upstream answered ") + response_status;
}

LogLine logged(const char* status) {
  LogLine line;
  line.time = "2026-11-29T08:00:00.000Z";
  line.status = status;
  line.validation = "ok";
  line.upstream_fqdn = "ocsp.quovadisglobal.com";
  return line;
}

struct Row {
  const char* name;
  std::function<void(Evidence&)> change;
  Cause cause;
  const char* sentence_part;
  int exit_code;
};

TEST_CASE("each cause is named from the evidence that shows it, with check's exit codes") {
  const std::vector<Row> rows = {
      {"every certificate good", [](Evidence&) {}, Cause::Good,
       "Nothing is wrong: the CA answers good for \"CN=leaf.example,O=Hospital\"", 0},
      {"leaf answered revoked",
       [](Evidence& e) {
         e.chain[0].cert_status = "revoked";
         e.chain[0].revoked_at = kNow - 2 * kDay;
         e.chain[0].revocation_reason = "keyCompromise";
       },
       Cause::LeafRevoked, "is revoked (since 2026-", 1},
      {"no answer now, the log's last answer revoked",
       [](Evidence& e) {
         noAnswer(e.chain[0]);
         e.chain[0].error_stage = "transport";
         e.chain[0].log = {logged("good"), logged("revoked")};
         e.chain[0].log.back().revocation_time = "2026-11-28T00:00:00Z";
       },
       Cause::LeafRevoked, "as the proxy last answered at 2026-11-29T08:00:00.000Z", 1},
      {"intermediate answered revoked",
       [](Evidence& e) {
         Link& ica = e.chain[1];
         ica.error_stage = ica.error_code = ica.error_detail = "";
         ica.responder_url = "http://ocsp.quovadisglobal.com/";
         ica.http_status = 200;
         ica.cert_status = "revoked";
         ica.validated = true;
         ica.revoked_at = kNow - kDay;
         ica.revocation_reason = "cACompromise";
       },
       Cause::IntermediateRevoked,
       "The intermediate CA \"CN=QuoVadis Issuing CA G4,O=QuoVadis\" is revoked (since", 1},
      {"/status lists the intermediate revoked",
       [](Evidence& e) {
         e.status->watched = {{"quovadis-g4", kIca, "revoked", "2026-11-20T00:00:00Z", "ocsp x",
                               ""}};
       },
       Cause::IntermediateRevoked, "found by the proxy's watch quovadis-g4", 1},
      {"the proxy flags the leaf's answer issuer_revoked",
       [](Evidence& e) { e.chain[0].flags = {"issuer_revoked"}; }, Cause::IntermediateRevoked,
       "flags its answers issuer_revoked", 1},
      {"the proxy flags the answer distrusted",
       [](Evidence& e) {
         answered(e.chain[0], 200, "unauthorized");
         e.chain[0].flags = {"distrusted"};
       },
       Cause::IssuerDistrusted, "The proxy distrusts the issuer \"CN=QuoVadis Issuing CA G4", 3},
      {"leaf past notAfter", [](Evidence& e) { e.chain[0].not_after = kNow - 60; },
       Cause::CertExpired, "The certificate \"CN=leaf.example,O=Hospital\" expired at", 3},
      {"intermediate past notAfter", [](Evidence& e) { e.chain[1].not_after = kNow - 60; },
       Cause::CertExpired, "The intermediate CA \"CN=QuoVadis Issuing CA G4", 3},
      {"leaf before notBefore", [](Evidence& e) { e.chain[0].not_before = kNow + 3600; },
       Cause::CertNotYetValid, "the client's clock is wrong", 3},
      {"the proxy refuses the host (403)",
       [](Evidence& e) {
         answered(e.chain[0], 403, "");
         e.chain[0].error_detail = "HTTP 403 from the proxy: refused: not on the allow-list";
       },
       Cause::HostRefused, "refused to forward the question to ocsp.quovadisglobal.com", 3},
      {"unauthorized without a distrust flag",
       [](Evidence& e) { answered(e.chain[0], 200, "unauthorized"); }, Cause::UnknownIssuer,
       "No upstream of the proxy serves the issuer", 3},
      {"no HTTP answer from the proxy",
       [](Evidence& e) {
         noAnswer(e.chain[0]);
         e.chain[0].error_stage = "transport";
         e.chain[0].error_detail = "Failed to connect to 127.0.0.1 port 8080";
       },
       Cause::ProxyUnreachable, "The proxy at http://127.0.0.1:8080 gave no answer", 3},
      {"tryLater from the proxy",
       [](Evidence& e) { answered(e.chain[0], 200, "trylater"); }, Cause::CaUnreachable,
       "The CA's responder ocsp.quovadisglobal.com cannot be reached", 3},
      {"no answer asking the CA directly",
       [](Evidence& e) {
         noAnswer(e.chain[0]);
         e.chain[0].proxy_url.clear();
         e.chain[0].error_stage = "transport";
       },
       Cause::CaUnreachable, "cannot be reached", 3},
      {"an open circuit and an answer that did not validate",
       [](Evidence& e) {
         answered(e.chain[0], 200, "successful");
         e.status->circuits = {{"ocsp.quovadisglobal.com", "open", 3}};
       },
       Cause::CaUnreachable, "cannot be reached", 3},
      {"an answer that did not validate",
       [](Evidence& e) {
         answered(e.chain[0], 200, "successful");
         e.chain[0].error_code = "expired";
         e.chain[0].error_detail = "nextUpdate has passed";
       },
       Cause::NoValidAnswer, "No valid answer for \"CN=leaf.example,O=Hospital\": expired", 3},
      {"the CA answers unknown", [](Evidence& e) { e.chain[0].cert_status = "unknown"; },
       Cause::StatusUnknown, "does not know the certificate", 2},
      {"the leaf names no OCSP URL",
       [](Evidence& e) {
         noAnswer(e.chain[0]);
         e.chain[0].responder_url.clear();
         e.chain[0].error_code = "no_ocsp_url";
       },
       Cause::NoOcspUrl, "names no OCSP responder", 3},
      {"the leaf's issuer was not found",
       [](Evidence& e) {
         noAnswer(e.chain[0]);
         e.chain[0].responder_url.clear();
         e.chain[0].issuer_note = "not in --cert or --chain";
         e.chain.resize(1);
       },
       Cause::Undetermined, "The evidence names no cause", 3},
      {"the certificate is a root",
       [](Evidence& e) {
         e.chain.erase(e.chain.begin(), e.chain.begin() + 2);
         e.chain[0].not_before = kNow - kDay;
       },
       Cause::Undetermined, "is self-signed (a root)", 3},
  };
  for (const Row& row : rows) {
    INFO(std::string(row.name));
    Evidence e = fineChain();
    row.change(e);
    Verdict v = decide(e, "");
    CHECK(causeName(v.cause) == std::string(causeName(row.cause)));
    CHECK(v.sentence.find(row.sentence_part) != std::string::npos);
    CHECK(v.sentence.back() == '.');
    CHECK(v.sentence.find('\n') == std::string::npos);
    CHECK(v.exit_code == row.exit_code);
    CHECK_FALSE(v.client.has_value());
  }
}

struct CodeRow {
  const char* code;
  std::function<void(Evidence&)> change;
  bool agrees;
  const char* client_part;
};

TEST_CASE("each client error code says how it maps and whether the evidence agrees") {
  auto intermediate_revoked = [](Evidence& e) { e.chain[0].flags = {"issuer_revoked"}; };
  auto leaf_revoked = [](Evidence& e) { e.chain[0].cert_status = "revoked"; };
  auto expired = [](Evidence& e) { e.chain[0].not_after = kNow - 1; };
  auto try_later = [](Evidence& e) { answered(e.chain[0], 200, "trylater"); };
  auto refused = [](Evidence& e) { answered(e.chain[0], 403, ""); };
  auto unknown = [](Evidence& e) { e.chain[0].cert_status = "unknown"; };
  auto fine = [](Evidence&) {};
  const std::vector<CodeRow> rows = {
      {"1095", intermediate_revoked, true, "PVM 1095 \"certificate expired\": PVM reports"},
      {"1095", expired, true, "the evidence agrees (cert_expired)"},
      {"PVM:1095", leaf_revoked, false, "the cause here is leaf_revoked"},
      {"1095", fine, false, "nothing is wrong now"},
      {"0x80092010", leaf_revoked, true, "CRYPT_E_REVOKED (0x80092010)"},
      {"CRYPT_E_REVOKED", intermediate_revoked, true, "one above it in the chain is revoked"},
      {"-2146885616", try_later, false, "the cause here is ca_unreachable"},
      {"0x80092013", try_later, true, "CRYPT_E_REVOCATION_OFFLINE (0x80092013)"},
      {"crypt_e_revocation_offline", refused, true, "the evidence agrees (host_refused)"},
      {"80092013", leaf_revoked, false, "does not agree"},
      {"-2146885613", try_later, true, "the evidence agrees"},
      {"0x80092012", unknown, true, "CRYPT_E_NO_REVOCATION_CHECK (0x80092012)"},
      {"CRYPT_E_NO_REVOCATION_CHECK", try_later, false, "the cause here is ca_unreachable"},
      {"-2146885614", unknown, true, "the evidence agrees (status_unknown)"},
  };
  for (const CodeRow& row : rows) {
    INFO(std::string(row.code));
    Evidence e = fineChain();
    row.change(e);
    Verdict v = decide(e, row.code);
    REQUIRE(v.client.has_value());
    REQUIRE(v.agrees.has_value());
    CHECK(*v.agrees == row.agrees);
    CHECK(v.client->find(row.client_part) != std::string::npos);
  }
}

TEST_CASE("a code explain does not know is said so, and the cause stands") {
  Verdict v = decide(fineChain(), "0x800B0101");
  CHECK(v.cause == Cause::Good);
  REQUIRE(v.client.has_value());
  CHECK(v.client->starts_with("0x800B0101 is not a client error explain knows"));
  CHECK_FALSE(v.agrees.has_value());
  CHECK_FALSE(lookupClientError("1096").has_value());
  CHECK(knownClientErrors().find("PVM 1095") != std::string::npos);
}

std::string joined(const Verdict& v) {
  std::string out;
  for (const auto& l : v.evidence) out += l + "\n";
  return out;
}

bool hasLine(const Verdict& v, const std::string& line) {
  for (const auto& l : v.evidence) {
    if (l == line) return true;
  }
  return false;
}

TEST_CASE("the evidence lines name each certificate, its answer, the log and /status") {
  Evidence e = fineChain();
  e.chain[0].flags = {"issuer_revoked"};
  e.status->circuits = {{"ocsp.quovadisglobal.com", "closed", 0}, {"other.example", "open", 3}};
  e.log_path = "/var/log/ocsp-proxy/revocations.jsonl";
  e.chain[0].log = {logged("good")};
  e.chain[0].log.back().issuer_revoked = true;
  e.status->watched = {{"qv-g4", kIca, "good", "", "ocsp http://ocsp.quovadisglobal.com/", ""},
                       {"elsewhere", "CN=Other CA", "revoked", "2026-11-01T00:00:00Z", "", ""}};
  Verdict v = decide(e, "");
  INFO(joined(v));
  CHECK(v.evidence[0] == "leaf CN=leaf.example,O=Hospital, serial 0A1B, valid " +
                             rfc3339(kNow - 10 * kDay) + " to " + rfc3339(kNow + 300 * kDay));
  CHECK(v.evidence[1].starts_with("leaf OCSP http://ocsp.quovadisglobal.com/ via proxy "
                                  "http://127.0.0.1:8080: HTTP 200, successful, good (validated), "
                                  "next update "));
  CHECK(v.evidence[1].ends_with(", flags issuer_revoked"));
  CHECK(hasLine(v, "log /var/log/ocsp-proxy/revocations.jsonl: 1 answer for the leaf's serial; "
                   "last 2026-11-29T08:00:00.000Z good issuer_revoked from "
                   "ocsp.quovadisglobal.com"));
  CHECK(hasLine(v, "/status http://127.0.0.1:9090/status: circuit closed for "
                   "ocsp.quovadisglobal.com (0 consecutive failures)"));
  CHECK(hasLine(v, "intermediate not asked: CN=QuoVadis Issuing CA G4,O=QuoVadis names no http "
                   "OCSP URL"));
  CHECK(hasLine(v, "/status: watched intermediate qv-g4 (CN=QuoVadis Issuing CA G4,O=QuoVadis) "
                   "good, via ocsp http://ocsp.quovadisglobal.com/"));
  // what is not about this chain is left out, and does not decide
  for (const auto& line : v.evidence) {
    CHECK(line.find("other.example") == std::string::npos);
    CHECK(line.find("Other CA") == std::string::npos);
  }
  CHECK(v.sentence.find("flags its answers issuer_revoked") != std::string::npos);
}

TEST_CASE("a /status or log that could not be read is a line of evidence") {
  Evidence e = fineChain();
  e.status->error = "Failed to connect to 127.0.0.1 port 9090: Connection refused";
  e.log_path = "/nowhere.jsonl";
  e.log_error = "cannot open it";
  Verdict v = decide(e, "");
  INFO(joined(v));
  CHECK(v.cause == Cause::Good);
  CHECK(hasLine(v, "no /status at http://127.0.0.1:9090/status: Failed to connect to 127.0.0.1 "
                   "port 9090: Connection refused"));
  CHECK(hasLine(v, "no revocation log at /nowhere.jsonl: cannot open it"));
  e.log_path.clear();
  CHECK(hasLine(decide(e, ""), "no revocation log read (--log FILE)"));
}

TEST_CASE("/status: circuits and watched intermediates are read, the rest skipped") {
  const char* doc = R"({"version":"0.1.0","uptime_s":5,"ready":true,
    "config":{"path":"/etc/x.yaml","generation":1,"last_reload_error":null},
    "upstreams":[{"name":"qv","revocation_source":"ocsp","crls":[{"issuer":"x","url":"y"}],
      "fqdns":[{"fqdn":"ocsp.quovadisglobal.com","circuit":"open","consecutive_failures":4},
               {"fqdn":"ocsp2.quovadisglobal.com","circuit":"closed","consecutive_failures":0}]}],
    "watched_intermediates":[{"name":"qv-g4","subject":"CN=Quo\"Vadis\" G4 \u00e9 \ud83d\ude00",
      "state":"revoked","revocation_time":"2026-11-20T00:00:00Z","via":"ocsp http://r/",
      "detail":"","checked_at":null,"not_after":"2030-01-01T00:00:00Z"}],
    "cache":{"ocsp":{"entries":1.5e3,"bytes":-0}}})";
  ProxyState s = parseProxyStatus(doc, "http://a/status");
  CHECK(s.error == "");
  REQUIRE(s.circuits.size() == 2);
  CHECK(s.circuits[0].fqdn == "ocsp.quovadisglobal.com");
  CHECK(s.circuits[0].state == "open");
  CHECK(s.circuits[0].consecutive_failures == 4);
  REQUIRE(s.watched.size() == 1);
  CHECK(s.watched[0].subject == "CN=Quo\"Vadis\" G4 \xc3\xa9 \xf0\x9f\x98\x80");
  CHECK(s.watched[0].state == "revoked");
  CHECK(s.watched[0].revocation_time == "2026-11-20T00:00:00Z");
}

TEST_CASE("/status that is not a JSON object says where it breaks") {
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"<html>", "not a JSON object: unexpected character at byte 1"},
      {R"({"upstreams":[})", "not a JSON object: unexpected character at byte 15"},
      {R"({"a":"\x"})", "not a JSON object: bad escape at byte 9"},
      {R"({"a":1} x)", "not a JSON object: text after the document at byte 9"},
      {R"({"a":"\udc00"})", "not a JSON object: bad surrogate pair at byte 13"},
      {"[1,2]", "not a JSON object: another JSON value"},
      {"", "not a JSON object: truncated document at byte 1"},
      {std::string(100, '['), "not a JSON object: nesting too deep at byte 65"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.first);
    ProxyState s = parseProxyStatus(row.first, "u");
    CHECK(s.error == row.second);
    CHECK(s.circuits.empty());
  }
}

}  // namespace
}  // namespace ocsp::explain
