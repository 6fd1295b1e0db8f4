#pragma once
// Last pipeline stage (docs/ARCHITECTURE.md §2, §7, §14): asks the query's upstream and validates
// the answer. Rules:
//   - the upstream's FQDNs are tried in order, skipping those whose circuit is open
//     (FqdnHealth); if every circuit is open the lookup fails at once; a connect error,
//     timeout, non-200 status
//     (5xx included), oversize or unparsable body, or an answer that fails validation moves
//     on to the next FQDN (each logged as event=upstream_attempt_failed or
//     event=upstream_validation_failed with the reason);
//   - an upstream that answers unauthorized/malformedRequest/sigRequired has spoken for the
//     CA: that status is returned as is, without trying further FQDNs, and never cached;
//   - only failures of the CA count against an FQDN's circuit (FqdnHealth): connect errors,
//     timeouts, non-200, oversize or unparsable bodies, bad signatures, expired answers. An
//     answer that fails only because of what the client asked (another nonce than its own, its
//     CertIDs not all answered: nonce_mismatch, certid_mismatch) ends the attempt with that
//     error, without trying further FQDNs, and counts as the FQDN having answered; else any
//     client could open the circuit for everyone;
//   - nothing that failed validation is returned as an answer: if every FQDN failed, the
//     result is an error (UpstreamUnavailable, or ValidationFailed if an upstream answered
//     but no answer validated), logged once as event=upstream_failed;
//   - an unknown issuer (Route::issuer null): an answer that fails the checks that need no
//     issuer (an error status, garbage, expired, ...) is handled like any such answer, with
//     no completion tried; otherwise the AiaCompleter completes the issuer from the answer;
//     failing that, forward.unknown_issuer refuse -> unauthorized
//     (event=unknown_issuer_refused), pass -> the answer is checked for everything but its
//     signature and returned not cacheable (event=unvalidated_answer). A discovery attempt
//     (Route::discover, upstream/issuer_discovery.h) is always refused then: discovery
//     returns only answers that validated against a completed issuer;
//   - nonce policy ignore: the upstream gets a request rebuilt from the CertIDs, without
//     nonce, so its answer can be shared; passthrough (Lookup::passthrough): the client's DER
//     as sent. An answer that echoes the nonce is this client's: marked not cacheable. An
//     answer without a nonce (the CA ignored it: RFC 6960 §4.4.1 allows that) is an ordinary
//     answer, cacheable. An answer with another nonce is refused (nonce_mismatch, blame
//     request). The two valid cases are reported to NonceEcho (upstream/nonce_echo.h).
// One instance per worker (it owns no sockets; the Fetcher does).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "conf/config.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "core/source.h"
#include "upstream/aia_completer.h"
#include "upstream/fetcher.h"
#include "upstream/fqdn_health.h"
#include "upstream/nonce_echo.h"

namespace ocsp {

class UpstreamSource final : public Source {
 public:
  // What this stage reads of the config (derived in proxy/component_options.cc).
  struct Options {
    std::vector<conf::Upstream> upstreams;        // upstreams, indexed by Route::upstream_index
    std::map<std::string, std::string> resolve;   // resolve: FQDN -> IP literal
    int64_t timeout_ms = 0;                       // limits.upstream_timeout, per attempt
    size_t max_response_bytes = 0;                // limits.max_upstream_response_bytes
    conf::UnknownIssuerPolicy unknown_issuer = conf::UnknownIssuerPolicy::Pass;  // forward.*
    int64_t clock_skew_s = 0;                     // cache.clock_skew
    FreshnessPolicy freshness;                    // cache.max_age, no_next_update_ttl, refresh_percent
    // distrust[].name -> schedule: an issuer completed through AIA that is distrusted is
    // refused once its entry enforces for the client; before, served (and logged, counted).
    conf::DistrustSchedules distrust;
  };

  // `fetcher`, `health`, `clock`, `completer` and `nonce_echo` must outlive this object;
  // `completer` may be null (unknown issuers then go straight to forward.unknown_issuer),
  // `nonce_echo` too (nothing is learned about nonces).
  UpstreamSource(Options options, Fetcher& fetcher, FqdnHealth& health, const Clock& clock,
                 AiaCompleter* completer, Metrics* metrics = nullptr,
                 NonceEcho* nonce_echo = nullptr);

  void lookup(Lookup lookup, Reply done) override;

 private:
  struct Attempt;
  void tryNext(std::shared_ptr<Attempt> attempt);
  void send(std::shared_ptr<Attempt> attempt);
  void onFetched(std::shared_ptr<Attempt> attempt, FetchResult result);
  void validateAndAnswer(std::shared_ptr<Attempt> attempt, FetchResult result, X509* issuer,
                         bool unvalidated);
  // The distrust stage of `query`'s client for a route completed through AIA whose issuer is
  // distrusted (logged and counted like PolicySource's decision). The answer to this first
  // request is not flagged distrust-pending (the Lookup was routed before); later requests
  // find the learned issuer in the index and PolicySource decides.
  conf::DistrustStage distrustStage(const OcspQuery& query, const Route& route) const;
  // Whether `der` passes every check that needs no issuer (an unknown issuer's answer).
  bool passesWithoutIssuer(const Attempt& attempt, const std::string& der) const;

  const Options options_;
  Fetcher& fetcher_;
  AiaCompleter* completer_;
  Metrics* metrics_;  // null: not counted
  NonceEcho* nonce_echo_;  // null: not learned
  FqdnHealth& health_;
  const Clock& clock_;
};

}  // namespace ocsp
