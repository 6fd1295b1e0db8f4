#pragma once
// What `ocsp-proxy explain` (explain.h) concludes from what it gathered: the one cause that
// explains a client's revocation error, in one sentence, the evidence lines behind it, and how
// a client's error code maps onto the causes. Pure: no I/O, no clock (the time is an input),
// so every cause and every code is a row of a unit-test table.
//
// Causes, in the order they are decided (the first that the evidence shows wins: a revoked
// certificate explains a failure whatever else is wrong, a refusal before a missing answer):
//   leaf_revoked          the leaf's validated answer says revoked
//   intermediate_revoked  an intermediate's validated answer says revoked, the proxy flags the
//                         leaf's answer issuer_revoked, or /status lists a watched
//                         intermediate of the chain as revoked
//   issuer_distrusted     the proxy flags an answer distrusted (distrust: in its config)
//   cert_expired          a certificate of the chain is past its notAfter
//   cert_not_yet_valid    a certificate of the chain is before its notBefore
//   host_refused          the proxy refused the forward-proxy request (HTTP 403: the host or
//                         port is not on its allow-list)
//   unknown_issuer        the answer is unauthorized: no upstream serves this issuer
//   proxy_unreachable     no HTTP answer from the proxy itself
//   ca_unreachable        tryLater, a transport failure asking directly, an open circuit for
//                         the responder's host, or only error lines in the revocation log
//   no_valid_answer       an answer came but did not validate (nextUpdate passed, bad
//                         signature, ...)
//   status_unknown        the CA answers unknown: it does not know the serial
//   no_ocsp_url           a certificate names no OCSP responder, so nothing could be asked
//   good                  every certificate asked about is good
//   undetermined          none of the above (say what is missing)
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ocsp::explain {

enum class Cause {
  LeafRevoked,
  IntermediateRevoked,
  IssuerDistrusted,
  CertExpired,
  CertNotYetValid,
  HostRefused,
  UnknownIssuer,
  ProxyUnreachable,
  CaUnreachable,
  NoValidAnswer,
  StatusUnknown,
  NoOcspUrl,
  Good,
  Undetermined,
};
// "leaf_revoked", ... (the JSON `cause`).
const char* causeName(Cause c);

// One revocation-log line about a certificate of the chain.
struct LogLine {
  std::string time;    // RFC 3339
  std::string status;  // good | revoked | unknown | error
  std::string validation;
  std::string upstream_fqdn;
  std::string revocation_time, revocation_reason;  // "" unless revoked
  bool issuer_revoked = false;
  bool stale = false;
};

// What was learned about one certificate of the chain (leaf first).
struct Link {
  std::string subject, serial;  // serial upper-case hex
  std::string issuer;           // the issuer's name, from the certificate
  std::optional<int64_t> not_before, not_after;
  bool self_signed = false;  // a root: not asked about
  std::string issuer_note;   // why its issuer is missing ("" when found)
  // The question, when one was asked.
  std::string responder_url;  // "" when there is none (then `error_*` says why)
  std::string proxy_url;      // "" when asked directly
  std::optional<long> http_status;
  std::string response_status;  // "successful", "trylater", "unauthorized", ... (OpenSSL's)
  std::string cert_status;      // "good", "revoked", "unknown"; "" without a SingleResponse
  bool validated = false;
  std::optional<int64_t> revoked_at, next_update;
  std::string revocation_reason;
  std::vector<std::string> flags;  // the proxy's X-OCSP-Proxy-Flags
  std::string error_stage, error_code, error_detail;  // no validated answer: why
  // The revocation log's lines for this certificate (oldest first).
  std::vector<LogLine> log;
};

// The admin listener's /status, as far as it concerns the chain.
struct ProxyState {
  std::string url;    // where /status was asked
  std::string error;  // "" if it was read; else why not ("connection refused", ...)
  struct Circuit {
    std::string fqdn, state;  // closed | open | half_open
    int64_t consecutive_failures = 0;
  };
  std::vector<Circuit> circuits;
  struct Watched {
    std::string name, subject, state;  // unchecked | good | revoked | unknown
    std::string revocation_time, via, detail;
  };
  std::vector<Watched> watched;
};

struct Evidence {
  int64_t now = 0;           // seconds since the epoch
  std::vector<Link> chain;   // leaf first; the last may be a root
  bool via_proxy = false;
  std::optional<ProxyState> status;  // nullopt: not asked
  std::string log_path;              // "" when no log was given
  std::string log_error;             // "" if read
  int64_t log_lines = 0, log_bad_lines = 0;
};

// How a client's error code maps onto the causes.
struct ClientError {
  std::string code;     // as given
  std::string name;     // "PVM 1095 \"certificate expired\"", "CRYPT_E_REVOKED (0x80092010)"
  std::string meaning;  // what the client reports it for
  std::vector<Cause> causes;  // the causes it is reported for
};
// Known codes: PVM 1095; CRYPT_E_REVOCATION_OFFLINE, CRYPT_E_REVOKED,
// CRYPT_E_NO_REVOCATION_CHECK by name, as 0x8009201x, 8009201x or the signed decimal HRESULT.
// Case does not matter. nullopt for a code not in the table.
std::optional<ClientError> lookupClientError(std::string_view code);
// The codes of the table, one per line, for --help.
std::string knownClientErrors();

struct Verdict {
  Cause cause = Cause::Undetermined;
  std::string sentence;               // one sentence, ends with '.'
  std::optional<std::string> client;  // with --error: how the code maps, and if it agrees
  std::optional<bool> agrees;         // with a known --error code
  std::vector<std::string> evidence;  // one line each, without a newline
  int exit_code = 0;                  // check.h's conventions
};

// `client_error` is the --error value, "" for none.
Verdict decide(const Evidence& e, std::string_view client_error);

}  // namespace ocsp::explain
