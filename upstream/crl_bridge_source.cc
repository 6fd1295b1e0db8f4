#include "upstream/crl_bridge_source.h"

#include <algorithm>

#include "core/log.h"
#include "core/url.h"
#include "pki/crl_status.h"
#include "pki/ocsp_builder.h"
#include "pki/validator.h"
#include "upstream/answer_entry.h"

namespace ocsp {

namespace {

// A failure of the CA itself (every FQDN failed, or no answer validated): what ocsp-then-crl
// falls back on. Refusals of the CA and failures blamed on the request have other codes.
bool failedAsCa(const Error& err) { return err.code == "upstream_failed"; }

}  // namespace

struct CrlBridgeSource::Pending {
  Lookup lookup;
  Reply done;
  const Options::Upstream* upstream = nullptr;
  std::string issuer_key;               // issuerKeySha1 of the route's issuer
  std::vector<std::string> candidates;  // CRL URLs still to try, in order
  size_t next = 0;
  bool remembered = false;              // candidates holds only the remembered URL
  std::string last_problem;             // why the last candidate did not do
  const OcspQuery& query() const { return *lookup.query; }
};

CrlBridgeSource::CrlBridgeSource(Options options, Deps deps, Source& next)
    : options_(std::move(options)), d_(deps), next_(next) {}

void CrlBridgeSource::lookup(Lookup lookup, Reply done) {
  const Route& route = *lookup.route;
  const Options::Upstream* up = route.upstream_index < options_.upstreams.size()
                                    ? &options_.upstreams[route.upstream_index]
                                    : nullptr;
  if (up == nullptr || up->source == conf::RevocationSource::Ocsp || !route.issuer ||
      !options_.credentials) {
    next_.lookup(std::move(lookup), std::move(done));
    return;
  }
  auto p = std::make_shared<Pending>();
  p->upstream = up;
  p->done = std::move(done);
  if (up->source == conf::RevocationSource::Crl) {
    p->lookup = std::move(lookup);
    answerFromCrl(std::move(p));
    return;
  }
  // ocsp-then-crl: the CA first.
  next_.lookup(std::move(lookup), [this, p](const Lookup& answered, Result<Answer> result) {
    const std::string& name = p->upstream->name;
    if (result.ok()) {
      if (d_.state.change("fallback", name, false)) {
        logEvent(LogLevel::Info, "crl_fallback_ended",
                 {{"upstream", name}, {"detail", "the OCSP responders answer again"}});
      }
      p->done(answered, std::move(result));
      return;
    }
    if (!failedAsCa(result.error()) || cacheHoldsCaAnswer(answered)) {
      p->done(answered, std::move(result));
      return;
    }
    if (d_.state.change("fallback", name, true)) {
      logEvent(LogLevel::Warn, "crl_fallback",
               {{"upstream", name},
                {"reason", result.error().detail},
                {"detail", "answering from the CRL until the OCSP responders answer again"}});
    }
    p->lookup = answered;
    answerFromCrl(std::move(p));
  });
}

bool CrlBridgeSource::cacheHoldsCaAnswer(const Lookup& lookup) const {
  if (d_.cache == nullptr) return false;
  auto held = d_.cache->get(lookup.query->key, d_.clock.now());
  return held && held->upstream_fqdn != kCrlBridgeOrigin;
}

void CrlBridgeSource::answerFromCrl(std::shared_ptr<Pending> p) {
  if (d_.crl == nullptr) {
    unavailable(*p, "the CRL service is not running");
    return;
  }
  p->issuer_key = issuerKeySha1(p->lookup.route->issuer.get());
  if (auto url = d_.state.crlFor(p->issuer_key)) {
    p->candidates.push_back(*url);
    p->remembered = true;
  } else {
    p->candidates = p->upstream->crls;
  }
  tryCandidate(std::move(p));
}

void CrlBridgeSource::tryCandidate(std::shared_ptr<Pending> p) {
  if (p->next >= p->candidates.size()) {
    unavailable(*p, p->last_problem.empty() ? "no CRL of the upstream is signed by the issuer"
                                            : p->last_problem);
    return;
  }
  const std::string text = p->candidates[p->next++];
  auto url = parseHttpUrl(text);
  if (!url) {  // checked by the config loader
    p->last_problem = text + ": " + url.error().detail;
    tryCandidate(std::move(p));
    return;
  }
  d_.crl->lookupWithDelta(
      *url, p->query().client, d_.mailbox,
      [this, p, text](Result<CrlService::WithDelta> got) mutable {
        if (!got.ok()) {
          p->last_problem = text + ": " + got.error().code;
          // A remembered CRL that cannot be had now is that issuer's CRL still: the others
          // would not do, and fetching them all costs every download.
          if (p->remembered) {
            unavailable(*p, p->last_problem);
            return;
          }
          tryCandidate(std::move(p));
          return;
        }
        const ParsedCrl& crl = got->base->crl;
        if (!crl.signature_checked || crl.signer_key_sha1 != p->issuer_key) {
          p->last_problem = text + ": not signed by " + p->lookup.route->issuer_name;
          if (p->remembered) {  // the CA moved its CRL: search the list again
            d_.state.forget(p->issuer_key);
            p->remembered = false;
            p->candidates = p->upstream->crls;
            p->next = 0;
          }
          tryCandidate(std::move(p));
          return;
        }
        if (!p->remembered) {
          d_.state.remember(p->issuer_key, {p->upstream->name, p->lookup.route->issuer_name, text});
        }
        if (got->delta_error && d_.state.first(text + " " + got->delta_error->code)) {
          logEvent(LogLevel::Warn, "crl_delta_unused",
                   {{"url", text},
                    {"reason", got->delta_error->code},
                    {"detail", got->delta_error->detail},
                    {"action", "answering from the base CRL alone"}});
        }
        answer(*p, crl, got->delta ? &got->delta->crl : nullptr);
      });
}

void CrlBridgeSource::answer(const Pending& p, const ParsedCrl& base, const ParsedCrl* delta) {
  const int64_t now = d_.clock.now();
  const OcspQuery& q = p.query();
  const ParsedCrl& times = delta != nullptr ? *delta : base;
  int64_t next_update = times.next_update;
  if (delta != nullptr && base.next_update != 0) {
    next_update = next_update == 0 ? base.next_update : std::min(next_update, base.next_update);
  }
  if (next_update == 0) next_update = std::max(now, times.this_update) +
                                      options_.freshness.no_next_update_ttl_s;
  if (now >= next_update) {  // the store drops such CRLs; a CRL at its very end is no better
    unavailable(p, "the CRL is past its nextUpdate");
    return;
  }
  const bool full_scope = !base.partial_scope && (delta == nullptr || !delta->partial_scope);
  OcspBuildInput in;
  in.produced_at = now;
  in.this_update = times.this_update;
  in.next_update = next_update;
  in.signer = options_.credentials.get();
  for (const CertIdInfo& id : q.cert_ids) {
    BuiltSingle single;
    single.cert_id = &id;
    const CrlListing listing = crlListing(base, delta, id.serial);
    if (listing.revoked) {
      single.status = CertStatus::Revoked;
      single.revocation = Revocation{listing.revocation.time, listing.revocation.reason};
    } else if (full_scope && ((d_.known != nullptr && d_.known->contains(p.issuer_key, id.serial)) ||
                              options_.unlisted == conf::UnlistedPolicy::Good)) {
      single.status = CertStatus::Good;
    } else {
      single.status = CertStatus::Unknown;
    }
    in.singles.push_back(single);
  }
  auto der = buildOcspResponse(in);
  if (!der.ok()) {
    unavailable(p, der.error().detail);
    return;
  }
  // The same checks as any upstream answer (and Redis's re-validation) apply, so what the
  // caches hold is what they would accept from elsewhere.
  ValidationInput check;
  check.der = *der;
  check.cert_ids = &q.cert_ids;
  check.issuer = p.lookup.route->issuer.get();
  check.local_responder = options_.credentials->cert.get();
  check.now = now;
  check.clock_skew_s = options_.clock_skew_s;
  auto validated = validateResponse(check);
  if (!validated.ok()) {
    unavailable(p, "the answer built from the CRL does not validate: " + validated.error().code);
    return;
  }
  if (d_.state.change("unavailable", p.upstream->name, false)) {
    logEvent(LogLevel::Info, "crl_bridge_recovered", {{"upstream", p.upstream->name}});
  }
  AnswerOrigin origin;
  origin.fetched_at = now;
  origin.fqdn = kCrlBridgeOrigin;
  auto entry = sealValidatedAnswer(*der, *validated, origin, options_.freshness);
  countAnswer(certStatusName(entry->status));
  p.done(p.lookup, Answer{std::move(entry), AnswerSource::Upstream});
}

void CrlBridgeSource::unavailable(const Pending& p, const std::string& why) {
  countAnswer("unavailable");
  if (d_.state.change("unavailable", p.upstream->name, true)) {
    logEvent(LogLevel::Warn, "crl_bridge_unavailable",
             {{"upstream", p.upstream->name},
              {"issuer", p.lookup.route->issuer_name},
              {"reason", why},
              {"action", "tryLater unless a cached answer may still be served"}});
  }
  p.done(p.lookup, makeError(ErrorCategory::UpstreamUnavailable, "crl_unavailable",
                             "no valid CRL for " + p.lookup.route->issuer_name + ": " + why));
}

void CrlBridgeSource::countAnswer(const char* status) {
  if (d_.metrics != nullptr) d_.metrics->counter(Metric::CrlBridgeAnswers, {status}).inc();
}

}  // namespace ocsp
