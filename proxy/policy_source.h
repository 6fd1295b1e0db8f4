#pragma once
// First pipeline stage (docs/ARCHITECTURE.md §2): decides whether we may answer at all and where
// the query goes. It gets a Lookup holding only the query and passes the routed Lookup down
// (core/source.h): the route, nonce passthrough, and whether the route's issuer is a watched
// intermediate found revoked (Lookup::issuer_revoked, which the front turns into a flag on
// the answer). A refusal is answered at once, with the route when it was found. Rules:
//   - local-responder mode: every CertID must belong to a known issuer (configured, or
//     learned through AIA or discovery); otherwise, under responder.unknown_issuer: refuse,
//     OCSP unauthorized, logged as event=unknown_issuer action=unauthorized; under discover
//     the query goes down with a Route marked `discover` (null issuer, no upstream yet) for
//     upstream/issuer_discovery.h to find the upstream (event=unknown_issuer
//     action=discover);
//   - forward mode: the upstream is the one whose FQDN the URL named, tried first; an
//     unknown issuer is allowed through with a null Route::issuer, for UpstreamSource to
//     complete through AIA or to apply forward.unknown_issuer (logged there);
//   - all CertIDs of one request must have the same issuer: one responder answers one
//     request and its answer is validated against one issuer key; otherwise unauthorized;
//   - a distrusted issuer (distrust:, docs/ARCHITECTURE.md §9): the stage its entry is in for
//     this client at this moment (conf::distrustStageAt with the injected clock and the
//     query's client_address), counted in ocsp_proxy_distrust_requests_total{name,stage}:
//       enforce -> unauthorized, logged as event=distrusted_issuer (WARN);
//       warn -> served, Lookup::distrust_pending set (the front flags the answer),
//               event=distrust_pending at ERROR;
//       log -> served, event=distrust_pending at WARN;
//   - an issuer that is a watched intermediate found revoked, under
//     watch.on_revoked_issuer: refuse -> unauthorized, event=revoked_issuer_refused;
//   - nonce policy: with `passthrough`, a request carrying a nonce is passed through
//     (Lookup::passthrough: its nonce goes to the CA) unless NonceEcho learned that the
//     route's upstream ignores nonces: then it is an ordinary lookup, served from the cache.
// Logging: one line per request at most for its unknown issuers (the first such CertID, with
// unknown_cert_ids and cert_ids counts), and every warning here is one a client can trigger
// at will, so each event has a global budget of lines (core/log.h LogRateLimit: 10 a second,
// then suppressed=K).
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "conf/config.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "core/source.h"
#include "upstream/issuer_index.h"
#include "upstream/issuer_watch.h"
#include "upstream/nonce_echo.h"

namespace ocsp {

class PolicySource final : public Source {
 public:
  // What it reads of the config (derived in proxy/component_options.cc).
  struct Options {
    std::vector<std::string> upstream_names;  // upstreams[].name, by upstream index
    conf::RevokedIssuerPolicy on_revoked_issuer = conf::RevokedIssuerPolicy::Flag;  // watch.*
    conf::NoncePolicy nonce = conf::NoncePolicy::Ignore;                            // nonce
    conf::ResponderUnknownIssuerPolicy unknown_issuer =
        conf::ResponderUnknownIssuerPolicy::Refuse;  // responder.unknown_issuer
    // distrust[].name -> that entry's schedule (a route names its entry: Route::distrusted_as).
    // A route distrusted under a name not here is enforced.
    conf::DistrustSchedules distrust;
  };

  // `index`, `watch`, `next`, `nonce_echo`, `clock` and `metrics` must outlive this object;
  // `watch` may be null, `nonce_echo` too (every request with a nonce is then passed through
  // under passthrough), and `metrics` (nothing counted).
  PolicySource(const IssuerIndex& index, Options options, const IssuerWatch* watch, Source& next,
               const NonceEcho* nonce_echo = nullptr,
               const Clock& clock = SystemClock::instance(), Metrics* metrics = nullptr);

  void lookup(Lookup lookup, Reply done) override;

 private:
  std::shared_ptr<const Route> forwardRoute(const OcspQuery& query,
                                            std::shared_ptr<const Route> found) const;
  // The route of every discovery: no upstream yet, no issuer.
  static std::shared_ptr<const Route> discoveryRoute();
  // The distrust stage of this query's client for the route's entry, logged and counted.
  conf::DistrustStage distrustStage(const OcspQuery& query, const Route& route) const;

  const IssuerIndex& index_;
  const Options options_;
  const IssuerWatch* watch_;
  Source& next_;
  const NonceEcho* nonce_echo_;
  const Clock& clock_;
  // ocsp_proxy_distrust_requests_total by distrust[].name, one counter per stage; empty
  // without metrics.
  std::map<std::string, std::array<Counter*, conf::kDistrustStages>> distrust_counts_;
};

}  // namespace ocsp
