#include "tools/explain_verdict.h"

#include <array>
#include <cctype>
#include <utility>

#include "core/log.h"
#include "core/url.h"
#include "tools/check.h"

namespace ocsp::explain {
namespace {

struct KnownError {
  std::array<std::string_view, 4> spellings;  // lower case
  std::string_view name, meaning;
  std::vector<Cause> causes;
};

// What each client reports, and for which causes (docs/operations.md "explain").
const std::vector<KnownError>& knownErrors() {
  static const std::vector<KnownError> table = {
      {{"1095", "pvm:1095", "pvm 1095", ""},
       "PVM 1095 \"certificate expired\"",
       "PVM reports an expired certificate as 1095, and also a revoked intermediate",
       {Cause::CertExpired, Cause::IntermediateRevoked}},
      {{"crypt_e_revoked", "0x80092010", "80092010", "-2146885616"},
       "CRYPT_E_REVOKED (0x80092010)",
       "Windows reports it when the certificate or one above it in the chain is revoked",
       {Cause::LeafRevoked, Cause::IntermediateRevoked}},
      {{"crypt_e_no_revocation_check", "0x80092012", "80092012", "-2146885614"},
       "CRYPT_E_NO_REVOCATION_CHECK (0x80092012)",
       "Windows reports it when no revocation source could give a usable status: no OCSP "
       "URL, an unknown status, or an unauthorized answer with no CRL to fall back on",
       {Cause::NoOcspUrl, Cause::StatusUnknown, Cause::UnknownIssuer, Cause::IssuerDistrusted}},
      {{"crypt_e_revocation_offline", "0x80092013", "80092013", "-2146885613"},
       "CRYPT_E_REVOCATION_OFFLINE (0x80092013)",
       "Windows reports it when the revocation server gave no usable answer: unreachable, "
       "refused, tryLater, unauthorized or an answer that did not validate",
       {Cause::CaUnreachable, Cause::ProxyUnreachable, Cause::HostRefused, Cause::NoValidAnswer,
        Cause::UnknownIssuer, Cause::IssuerDistrusted}},
  };
  return table;
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

std::string timeText(const std::optional<int64_t>& t) { return t ? rfc3339(*t) : "?"; }

std::string hostOf(const std::string& url) {
  auto parsed = parseHttpUrl(url);
  return parsed ? parsed->host : "";
}

bool hasFlag(const Link& l, std::string_view flag) {
  for (const auto& f : l.flags) {
    if (f == flag) return true;
  }
  return false;
}

const char* role(const Evidence& e, size_t i) {
  return i == 0 ? "leaf" : e.chain[i].self_signed ? "root" : "intermediate";
}

// "since T, keyCompromise"
std::string revocationText(const std::string& time, const std::string& reason) {
  std::string out = "since " + (time.empty() ? std::string("?") : time);
  return reason.empty() ? out : out + ", " + reason;
}

// A CA of the chain: the issuer of one of its certificates, or one of them above the leaf.
bool caOfChain(const Evidence& e, const std::string& subject) {
  for (const auto& l : e.chain) {
    if (l.issuer == subject || (&l != &e.chain.front() && l.subject == subject)) return true;
  }
  return false;
}

const ProxyState::Watched* revokedWatched(const Evidence& e) {
  if (!e.status) return nullptr;
  for (const auto& w : e.status->watched) {
    if (w.state == "revoked" && caOfChain(e, w.subject)) return &w;
  }
  return nullptr;
}

const ProxyState::Circuit* circuitFor(const Evidence& e, const std::string& url) {
  if (!e.status || url.empty()) return nullptr;
  std::string host = hostOf(url);
  for (const auto& c : e.status->circuits) {
    if (c.fqdn == host) return &c;
  }
  return nullptr;
}

// -- evidence lines --------------------------------------------------------------------------

std::string answerLine(const Evidence& e, size_t i) {
  const Link& l = e.chain[i];
  std::string who = std::string(role(e, i)) + " ";
  if (l.responder_url.empty()) {
    return who + "not asked: " + (l.error_detail.empty() ? l.issuer_note : l.error_detail);
  }
  std::string out = who + "OCSP " + l.responder_url +
                    (l.proxy_url.empty() ? " (direct)" : " via proxy " + l.proxy_url) + ": ";
  if (l.http_status) out += "HTTP " + std::to_string(*l.http_status);
  if (!l.response_status.empty()) out += ", " + l.response_status;
  if (!l.cert_status.empty()) {
    out += ", " + l.cert_status + (l.validated ? " (validated)" : " (not validated)");
  }
  if (l.cert_status == "revoked") {
    out += " " + revocationText(l.revoked_at ? rfc3339(*l.revoked_at) : "", l.revocation_reason);
  }
  if (l.validated && l.next_update) out += ", next update " + rfc3339(*l.next_update);
  if (!l.flags.empty()) {
    out += ", flags";
    for (const auto& f : l.flags) out += " " + f;
  }
  if (!l.error_code.empty()) out += "; " + l.error_stage + " failed: " + l.error_detail;
  return out;
}

std::string logLine(const Evidence& e, size_t i) {
  const Link& l = e.chain[i];
  std::string out = "log " + e.log_path + ": " + std::to_string(l.log.size()) + " answer" +
                    (l.log.size() == 1 ? "" : "s") + " for the " + role(e, i) + "'s serial";
  if (l.log.empty()) return out;
  const LogLine& last = l.log.back();
  out += "; last " + last.time + " " + last.status;
  if (last.status == "revoked") {
    out += " " + revocationText(last.revocation_time, last.revocation_reason);
  }
  if (last.status == "error" || last.validation != "ok") out += " (" + last.validation + ")";
  if (last.stale) out += " stale";
  if (last.issuer_revoked) out += " issuer_revoked";
  out += last.upstream_fqdn.empty() ? "" : " from " + last.upstream_fqdn;
  return out;
}

std::vector<std::string> evidenceLines(const Evidence& e) {
  std::vector<std::string> out;
  for (size_t i = 0; i < e.chain.size(); ++i) {
    const Link& l = e.chain[i];
    out.push_back(std::string(role(e, i)) + " " + l.subject + ", serial " + l.serial +
                  ", valid " + timeText(l.not_before) + " to " + timeText(l.not_after));
    if (!l.self_signed) out.push_back(answerLine(e, i));
    if (!l.issuer_note.empty() && !l.responder_url.empty()) {
      out.push_back(std::string(role(e, i)) + " issuer: " + l.issuer_note);
    }
    if (!e.log_path.empty() && e.log_error.empty() && !l.self_signed) {
      out.push_back(logLine(e, i));
    }
    if (const auto* c = circuitFor(e, l.responder_url)) {
      out.push_back("/status " + e.status->url + ": circuit " + c->state + " for " + c->fqdn +
                    " (" + std::to_string(c->consecutive_failures) + " consecutive failures)");
    }
  }
  if (e.status && !e.status->error.empty()) {
    out.push_back("no /status at " + e.status->url + ": " + e.status->error);
  }
  if (e.status) {
    for (const auto& w : e.status->watched) {
      if (!caOfChain(e, w.subject)) continue;  // watched, but not above this certificate
      out.push_back("/status: watched intermediate " + w.name + " (" + w.subject + ") " +
                    w.state + (w.state == "revoked" ? " " + revocationText(w.revocation_time, "")
                                                    : "") +
                    (w.via.empty() ? "" : ", via " + w.via) +
                    (w.detail.empty() ? "" : ", " + w.detail));
    }
  }
  if (!e.log_path.empty() && !e.log_error.empty()) {
    out.push_back("no revocation log at " + e.log_path + ": " + e.log_error);
  } else if (e.log_path.empty()) {
    out.push_back("no revocation log read (--log FILE)");
  } else if (e.log_bad_lines > 0) {
    out.push_back("log " + e.log_path + ": " + std::to_string(e.log_bad_lines) +
                  " malformed lines skipped of " + std::to_string(e.log_lines));
  }
  return out;
}

// -- the cause -------------------------------------------------------------------------------

struct Found {
  Cause cause = Cause::Undetermined;
  std::string sentence;
};

std::optional<Found> revoked(const Evidence& e) {
  const Link& leaf = e.chain.front();
  bool leaf_answered = leaf.http_status.has_value();
  if (leaf.validated && leaf.cert_status == "revoked") {
    return Found{Cause::LeafRevoked,
                 "The certificate " + quoted(leaf.subject) + " is revoked (" +
                     revocationText(timeText(leaf.revoked_at), leaf.revocation_reason) +
                     "): the CA withdrew it and it must be replaced."};
  }
  if (!leaf_answered && !leaf.log.empty() && leaf.log.back().status == "revoked") {
    const LogLine& last = leaf.log.back();
    return Found{Cause::LeafRevoked,
                 "The certificate " + quoted(leaf.subject) + " is revoked (" +
                     revocationText(last.revocation_time, last.revocation_reason) +
                     ", as the proxy last answered at " + last.time +
                     "): the CA withdrew it and it must be replaced."};
  }
  for (size_t i = 1; i < e.chain.size(); ++i) {
    const Link& l = e.chain[i];
    if (l.validated && l.cert_status == "revoked") {
      return Found{Cause::IntermediateRevoked,
                   "The intermediate CA " + quoted(l.subject) + " is revoked (" +
                       revocationText(timeText(l.revoked_at), l.revocation_reason) +
                       "): every certificate it issued is refused, whatever its own status."};
    }
  }
  if (const auto* w = revokedWatched(e)) {
    return Found{Cause::IntermediateRevoked,
                 "The intermediate CA " + quoted(w->subject) + " is revoked (" +
                     revocationText(w->revocation_time, "") +
                     ", found by the proxy's watch " + w->name +
                     "): every certificate it issued is refused, whatever its own status."};
  }
  bool flagged = hasFlag(leaf, "issuer_revoked") ||
                 (!leaf_answered && !leaf.log.empty() && leaf.log.back().issuer_revoked);
  if (flagged) {
    return Found{Cause::IntermediateRevoked,
                 "The intermediate CA " + quoted(leaf.issuer) +
                     " is revoked (the proxy flags its answers issuer_revoked): every "
                     "certificate it issued is refused, whatever its own status."};
  }
  return std::nullopt;
}

std::optional<Found> validity(const Evidence& e) {
  for (size_t i = 0; i < e.chain.size(); ++i) {
    const Link& l = e.chain[i];
    std::string what = i == 0 ? "The certificate " : std::string("The ") + role(e, i) + " CA ";
    if (l.not_after && *l.not_after <= e.now) {
      return Found{Cause::CertExpired, what + quoted(l.subject) + " expired at " +
                                           rfc3339(*l.not_after) + "."};
    }
    if (l.not_before && *l.not_before > e.now) {
      return Found{Cause::CertNotYetValid,
                   what + quoted(l.subject) + " is not valid before " + rfc3339(*l.not_before) +
                       ": it is too new, or the client's clock is wrong."};
    }
  }
  return std::nullopt;
}

Found decideCause(const Evidence& e) {
  if (e.chain.empty()) return {Cause::Undetermined, "No certificate was read."};
  if (auto found = revoked(e)) return *found;
  for (const auto& l : e.chain) {
    if (hasFlag(l, "distrusted")) {
      return {Cause::IssuerDistrusted,
              "The proxy distrusts the issuer " + quoted(l.issuer) +
                  " (its distrust: list): it answers unauthorized for every certificate under it."};
    }
  }
  if (auto found = validity(e)) return *found;
  for (const auto& l : e.chain) {
    if (l.http_status && *l.http_status == 403 && !l.proxy_url.empty()) {
      return {Cause::HostRefused, "The proxy refused to forward the question to " +
                                      hostOf(l.responder_url) +
                                      ": that host and port are not on its allow-list (" +
                                      l.error_detail + ")."};
    }
  }
  for (const auto& l : e.chain) {
    if (l.response_status == "unauthorized") {
      return {Cause::UnknownIssuer,
              "No upstream of the " + std::string(l.proxy_url.empty() ? "responder" : "proxy") +
                  " serves the issuer " + quoted(l.issuer) +
                  ": it answers unauthorized (the CA belongs in upstreams[].issuers)."};
    }
  }
  for (const auto& l : e.chain) {
    if (l.error_stage == "transport" && !l.proxy_url.empty()) {
      return {Cause::ProxyUnreachable,
              "The proxy at " + l.proxy_url + " gave no answer: " + l.error_detail + "."};
    }
  }
  for (const auto& l : e.chain) {
    const auto* circuit = circuitFor(e, l.responder_url);
    bool open = circuit && circuit->state != "closed";
    if (!l.validated && (l.response_status == "trylater" || l.error_stage == "transport" || open)) {
      return {Cause::CaUnreachable,
              "The CA's responder " + hostOf(l.responder_url) +
                  " cannot be reached and the proxy holds no valid answer for " +
                  quoted(l.subject) + ": clients get tryLater or no answer at all."};
    }
  }
  for (const auto& l : e.chain) {
    if (l.error_stage == "validation" || (l.http_status && !l.validated)) {
      return {Cause::NoValidAnswer, "No valid answer for " + quoted(l.subject) + ": " +
                                        (l.error_code.empty() ? l.response_status : l.error_code) +
                                        (l.error_detail.empty() ? "" : " (" + l.error_detail + ")") +
                                        "."};
    }
  }
  for (const auto& l : e.chain) {
    if (l.validated && l.cert_status == "unknown") {
      return {Cause::StatusUnknown,
              "The CA's responder does not know the certificate " + quoted(l.subject) +
                  " (status unknown): another CA issued it, or this one has not published it."};
    }
  }
  const Link& leaf = e.chain.front();
  if (leaf.error_code == "no_ocsp_url") {
    return {Cause::NoOcspUrl, "The certificate " + quoted(leaf.subject) +
                                  " names no OCSP responder, so no client can check it."};
  }
  if (leaf.self_signed) {
    return {Cause::Undetermined, "The certificate " + quoted(leaf.subject) +
                                     " is self-signed (a root): no CA answers for it, so only "
                                     "its trust and validity matter."};
  }
  if (leaf.validated && leaf.cert_status == "good") {
    return {Cause::Good, "Nothing is wrong: the CA answers good for " + quoted(leaf.subject) +
                             (leaf.next_update ? " (valid until " + rfc3339(*leaf.next_update) + ")"
                                               : std::string()) +
                             " and no certificate of its chain is revoked or expired."};
  }
  return {Cause::Undetermined,
          "The evidence names no cause: " +
              (leaf.error_detail.empty() ? std::string("no answer for the certificate")
                                         : leaf.error_detail) +
              "."};
}

int exitCodeFor(Cause c) {
  switch (c) {
    case Cause::Good:
      return check::kExitGood;
    case Cause::LeafRevoked:
    case Cause::IntermediateRevoked:
      return check::kExitRevoked;
    case Cause::StatusUnknown:
      return check::kExitUnknown;
    default:
      return check::kExitError;
  }
}

}  // namespace

const char* causeName(Cause c) {
  static constexpr std::array<const char*, 14> kNames = {
      "leaf_revoked",      "intermediate_revoked", "issuer_distrusted", "cert_expired",
      "cert_not_yet_valid", "host_refused",        "unknown_issuer",    "proxy_unreachable",
      "ca_unreachable",    "no_valid_answer",      "status_unknown",    "no_ocsp_url",
      "good",              "undetermined"};
  return kNames[static_cast<size_t>(c)];
}

std::optional<ClientError> lookupClientError(std::string_view code) {
  std::string lower;
  for (char c : code) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& known : knownErrors()) {
    for (std::string_view spelling : known.spellings) {
      if (!spelling.empty() && spelling == lower) {
        return ClientError{std::string(code), std::string(known.name),
                           std::string(known.meaning), known.causes};
      }
    }
  }
  return std::nullopt;
}

std::string knownClientErrors() {
  std::string out;
  for (const auto& known : knownErrors()) out += std::string(known.name) + "\n";
  return out;
}

Verdict decide(const Evidence& e, std::string_view client_error) {
  Verdict v;
  Found found = decideCause(e);
  v.cause = found.cause;
  v.sentence = std::move(found.sentence);
  v.exit_code = exitCodeFor(v.cause);
  v.evidence = evidenceLines(e);
  if (client_error.empty()) return v;
  auto known = lookupClientError(client_error);
  if (!known) {
    v.client = std::string(client_error) +
               " is not a client error explain knows (ocsp-proxy explain --help lists them); "
               "the cause above stands on the evidence alone.";
    return v;
  }
  bool agrees = false;
  for (Cause c : known->causes) agrees |= c == v.cause;
  v.agrees = agrees;
  std::string verdict = agrees ? "the evidence agrees (" + std::string(causeName(v.cause)) + ")"
                        : v.cause == Cause::Good
                            ? "the evidence does not agree: nothing is wrong now (was the "
                              "error earlier, or about another certificate?)"
                            : "the evidence does not agree: the cause here is " +
                                  std::string(causeName(v.cause));
  v.client = known->name + ": " + known->meaning + "; " + verdict + ".";
  return v;
}

}  // namespace ocsp::explain
