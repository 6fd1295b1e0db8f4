#pragma once
// Revocation-log lines for the report's tests (test_report.cc, test_report_impact.cc): one
// struct with a default for every field, so that a test names only what it is about; and the
// command run in process (`run`).
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tools/report.h"

namespace ocsp::report::testing {

inline const char* const kDigiCert =
    "CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1,O=DigiCert Inc,C=US";

// One log line. String fields are put between quotes as they are, so a test can write escapes.
struct Entry {
  std::string time = "2026-11-23T10:00:00.000Z";
  std::string client = "10.0.0.5:51234";
  std::string mode = "responder";
  std::optional<std::string> upstream = "digicert";
  std::optional<std::string> upstream_fqdn = "ocsp.digicert.com";
  std::string issuer = kDigiCert;
  std::string issuer_key_hash = "aa11";
  std::string serial = "01";
  std::string status = "good";
  std::optional<std::string> revocation_time{};
  std::optional<std::string> revocation_reason{};
  std::optional<std::string> source = "memory";
  std::string validation = "ok";
  bool issuer_revoked = false;
  std::string extra{};  // raw members put before the closing brace, starting with ','

  std::string line() const {
    const auto q = [](const std::string& s) { return "\"" + s + "\""; };
    const auto qn = [&](const std::optional<std::string>& s) { return s ? q(*s) : "null"; };
    return "{\"time\":" + q(time) + ",\"client\":" + q(client) + ",\"mode\":" + q(mode) +
           ",\"upstream\":" + qn(upstream) + ",\"upstream_fqdn\":" + qn(upstream_fqdn) +
           ",\"issuer\":" + q(issuer) + ",\"issuer_key_hash\":" + q(issuer_key_hash) +
           ",\"hash\":\"sha1\",\"serial\":" + q(serial) + ",\"status\":" + q(status) +
           ",\"revocation_time\":" + qn(revocation_time) +
           ",\"revocation_reason\":" + qn(revocation_reason) + ",\"source\":" + qn(source) +
           ",\"validation\":" + q(validation) +
           ",\"issuer_revoked\":" + (issuer_revoked ? "true" : "false") + ",\"latency_ms\":12" +
           extra + "}";
  }
};

// `ocsp-proxy report ARGS...` run in process: its exit code, stdout and stderr.
struct Run {
  int code;
  std::string out, err;
};

inline Run run(std::vector<std::string> args) {
  args.insert(args.begin(), "report");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::ostringstream out, err;
  const int code = runReport(static_cast<int>(argv.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

}  // namespace ocsp::report::testing
