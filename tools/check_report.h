#pragma once
// The report of one `ocsp-proxy check` (check.h): what was learned at each step, the exit code
// it implies, and its two renderings, a readable one and one JSON object. Filled in step by
// step; a step that fails leaves the later fields empty, and empty fields are not shown (text)
// or are null (JSON).
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "core/ocsp_entry.h"
#include "core/result.h"
#include "pki/validator.h"

namespace ocsp::check {

struct Report {
  std::string cert_subject, cert_serial;
  std::string issuer_subject, issuer_source, issuer_origin;
  std::optional<int64_t> issuer_not_after;
  std::optional<bool> issuer_trusted;
  std::string issuer_trust_detail;
  std::string responder_url;
  std::string route;      // "proxy" or "direct"
  std::string proxy_url;  // route "proxy" only
  std::string hash;       // of the CertID: "sha1" or "sha256"
  std::optional<long> http_status;
  // What the answer says, read before validation (so a failed validation still shows it).
  std::string response_status;
  std::optional<CertStatus> cert_status;
  std::optional<int64_t> revoked_at;
  std::string revocation_reason;
  std::optional<int64_t> this_update, next_update, produced_at;
  std::string signer;
  std::optional<int64_t> elapsed_ms;
  // Validation: the verdict, and only a validated status sets the exit code.
  std::optional<ValidatedResponse> validated;
  std::optional<Error> validation_error;
  std::vector<std::string> flags;
  std::string error_stage;
  std::optional<Error> error;
};

// Adds `flag` unless it is there already.
void addFlag(Report& r, std::string flag);

// kExitGood/Revoked/Unknown from the validated status; kExitError without one.
int exitCodeFor(const Report& r);

// One "label: value" line per known field.
void printText(const Report& r, FILE* out);
// One JSON object on one line, with `exit_code` as a member.
void printJson(const Report& r, int exit_code, FILE* out);

}  // namespace ocsp::check
