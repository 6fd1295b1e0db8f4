#pragma once
// The CRL -> OCSP bridge (docs/ARCHITECTURE.md §2, §8): answers OCSP for the issuers of an
// upstream whose revocation_source is crl (or ocsp-then-crl, when its responders fail) from a
// validated CRL, signed with the proxy's own responder key (crl_bridge.key,
// pki/responder_credentials.h). It sits between DiscoverySource and UpstreamSource; every
// lookup for an upstream whose source is ocsp, and every lookup whose route has no issuer
// (discovery, an unknown issuer in forward mode), goes to the next stage untouched. Rules:
//   - the CRL: among the upstream's crls, then crl.urls, the one whose signature was checked
//     with the key of the route's issuer (ParsedCrl::signer_key_sha1 equal to
//     issuerKeySha1(issuer)), through the CRL service (upstream/crl_service.h: cached, kept
//     warm, shared with the forward proxy; the reply comes on the worker's Mailbox). Which URL
//     held it is remembered (CrlBridgeState), so a later miss fetches that one CRL only; a
//     remembered URL that no longer holds that issuer's CRL is forgotten and the list is
//     searched again;
//   - its delta: when the CRL names one the service follows (Freshest CRL, RFC 5280 §5.2.6;
//     CrlService::lookupWithDelta) and it fits (pki/crl_status.h checkDeltaFor), the two are
//     merged (crlListing). A delta that cannot be fetched or used leaves the base alone
//     (event=crl_delta_unused, once per CRL URL and reason);
//   - per CertID: `revoked` (time, reason) when the merged CRL lists the serial; `good` only
//     when the serial is known to have been issued (upstream/known_serials.h) and the CRL
//     covers every certificate of the issuer (not partial_scope: a serial missing from a
//     user-certificates-only CRL proves nothing); else `unknown`. crl_bridge.unlisted: good
//     answers `good` for every serial a full-scope CRL does not list (a forged certificate
//     too: opt-in, warned at each load);
//   - thisUpdate: the CRL's (the delta's when merged); nextUpdate: the CRL's (the earlier of
//     the two when merged: the answer claims no longer than either list); a CRL without
//     nextUpdate gives now + cache.no_next_update_ttl. producedAt: now. No nonce (RFC 5019
//     §2.2.1: the answer is shared);
//   - never from a CRL past its nextUpdate (the CRL store drops those). No usable CRL, or
//     one that cannot be fetched: UpstreamUnavailable "crl_unavailable" (the client gets
//     tryLater unless a cache above holds an answer it may still serve), logged once per
//     upstream state change (event=crl_bridge_unavailable, then crl_bridge_recovered);
//   - the answer is signed (pki/ocsp_builder.h), validated like any upstream answer with the
//     responder certificate as local_responder, and sealed as a cacheable validated entry
//     with upstream_fqdn kCrlBridgeOrigin (upstream/answer_entry.h), so the caches above store
//     it, serve it with RFC 5019 headers and refresh it like an upstream's; the revocation
//     log says source=crl for it, and upstream_fqdn=crl-bridge wherever it is served from;
//   - ocsp-then-crl: the upstream is asked first. Only a failure of the CA (code
//     upstream_failed: every FQDN failed, or no answer validated) falls back, never a
//     refusal the CA made (unauthorized, malformedRequest, sigRequired) nor a failure
//     blamed on the request (nonce_mismatch, certid_mismatch); and not while the in-process
//     cache holds an answer of the CA for the key before its hard expiry (the caches above
//     serve it stale: a signed answer of the CA wins over one built from its CRL). A
//     fallback is logged once per upstream state change (event=crl_fallback with the reason;
//     event=crl_fallback_ended when the CA answers again);
//   - ocsp_proxy_crl_bridge_answers_total{status}: good | revoked | unknown (the status of
//     the first CertID of each answer built) | unavailable.
// One instance per worker; lookup() and the replies run on the worker's thread.
#include <memory>
#include <string>
#include <vector>

#include "cache/memory_cache.h"
#include "conf/config.h"
#include "core/clock.h"
#include "core/mailbox.h"
#include "core/metrics.h"
#include "core/source.h"
#include "pki/responder_credentials.h"
#include "upstream/crl_bridge_state.h"
#include "upstream/crl_service.h"
#include "upstream/known_serials.h"

namespace ocsp {

class CrlBridgeSource final : public Source {
 public:
  // What this stage reads of the config (derived in proxy/component_options.cc).
  struct Options {
    struct Upstream {
      std::string name;
      conf::RevocationSource source = conf::RevocationSource::Ocsp;
      std::vector<std::string> crls;  // upstreams[].crls, then the rest of crl.urls
    };
    std::vector<Upstream> upstreams;  // indexed by Route::upstream_index
    std::shared_ptr<const ResponderCredentials> credentials;  // null: no crl_bridge section
    conf::UnlistedPolicy unlisted = conf::UnlistedPolicy::Unknown;
    int64_t clock_skew_s = 0;    // cache.clock_skew
    FreshnessPolicy freshness;   // cache.max_age, no_next_update_ttl, refresh_percent
  };

  // Everything referenced must outlive this object. `crl` null: no CRL answers
  // (crl_unavailable); `known` null: no serial is known; `cache` null: no cached answer
  // holds a fallback back; `metrics` null: not counted.
  struct Deps {
    CrlService* crl = nullptr;
    Mailbox& mailbox;
    const KnownSerials* known = nullptr;
    CrlBridgeState& state;
    MemoryCache* cache = nullptr;
    const Clock& clock;
    Metrics* metrics = nullptr;
  };

  CrlBridgeSource(Options options, Deps deps, Source& next);

  void lookup(Lookup lookup, Reply done) override;

 private:
  struct Pending;
  void answerFromCrl(std::shared_ptr<Pending> p);
  void tryCandidate(std::shared_ptr<Pending> p);
  void answer(const Pending& p, const ParsedCrl& base, const ParsedCrl* delta);
  void unavailable(const Pending& p, const std::string& why);
  void countAnswer(const char* status);
  // Whether the in-process cache holds an answer of the CA for `lookup` it may still serve.
  bool cacheHoldsCaAnswer(const Lookup& lookup) const;

  const Options options_;
  Deps d_;
  Source& next_;
};

}  // namespace ocsp
