#include "proxy/policy_source.h"

#include "core/log.h"

namespace ocsp {

namespace {

// Client-triggered warnings: a global budget of lines each (core/log.h).
LogRateLimit g_unknown_issuer_log;
LogRateLimit g_mixed_issuers_log;
LogRateLimit g_distrusted_issuer_log;
LogRateLimit g_distrust_pending_log;
LogRateLimit g_revoked_issuer_log;

// One line per request, naming its first CertID of an unknown issuer and how many of its
// CertIDs have one.
void logUnknownIssuer(const OcspQuery& query, const CertIdInfo& id, size_t unknown,
                      const char* action) {
  logEventLimited(g_unknown_issuer_log, LogLevel::Warn, "unknown_issuer",
                  {{"client", query.client},
                   {"mode", modeName(query.mode)},
                   {"hash", OBJ_nid2sn(id.hash_nid)},
                   {"issuer_key_hash", toHex(id.issuer_key_hash)},
                   {"serial", toHex(id.serial)},
                   {"unknown_cert_ids", std::to_string(unknown)},
                   {"cert_ids", std::to_string(query.cert_ids.size())},
                   {"action", action}});
}

}  // namespace

PolicySource::PolicySource(const IssuerIndex& index, Options options, const IssuerWatch* watch,
                           Source& next, const NonceEcho* nonce_echo, const Clock& clock,
                           Metrics* metrics)
    : index_(index),
      options_(std::move(options)),
      watch_(watch),
      next_(next),
      nonce_echo_(nonce_echo),
      clock_(clock) {
  if (metrics == nullptr) return;
  for (const auto& entry : options_.distrust) {
    auto& counters = distrust_counts_[entry.first];
    for (int i = 0; i < conf::kDistrustStages; ++i) {
      const char* stage = conf::distrustStageName(static_cast<conf::DistrustStage>(i));
      counters[static_cast<size_t>(i)] =
          &metrics->counter(Metric::DistrustRequests, {entry.first, stage});
    }
  }
}

conf::DistrustStage PolicySource::distrustStage(const OcspQuery& query,
                                                const Route& route) const {
  const conf::DistrustDecision decision = conf::decideDistrust(
      options_.distrust, route.distrusted_as, query.client_address, clock_.now());
  const conf::DistrustStage stage = decision.stage;
  if (auto counters = distrust_counts_.find(route.distrusted_as);
      counters != distrust_counts_.end()) {
    counters->second[static_cast<size_t>(stage)]->inc();
  }
  if (stage != conf::DistrustStage::Enforce) {
    logEventLimited(g_distrust_pending_log,
                    stage == conf::DistrustStage::Warn ? LogLevel::Error : LogLevel::Warn,
                    "distrust_pending",
                    {{"client", query.client}, {"issuer", route.issuer_name},
                     {"distrust", route.distrusted_as},
                     {"stage", conf::distrustStageName(stage)},
                     {"enforce_from",
                      decision.enforce_from ? rfc3339(*decision.enforce_from) : "never"}});
  }
  return stage;
}

std::shared_ptr<const Route> PolicySource::forwardRoute(const OcspQuery& query,
                                                        std::shared_ptr<const Route> found) const {
  size_t upstream = *query.forward_upstream;
  if (found && found->upstream_index == upstream && found->first_fqdn == query.forward_fqdn) {
    return found;
  }
  auto route = found ? std::make_shared<Route>(*found) : std::make_shared<Route>();
  route->upstream_index = upstream;
  route->upstream_name = options_.upstream_names.at(upstream);
  route->first_fqdn = query.forward_fqdn;
  if (!found) route->issuer_name = "(unknown issuer)";
  return route;
}

std::shared_ptr<const Route> PolicySource::discoveryRoute() {
  static const auto route = [] {
    auto r = std::make_shared<Route>();
    r->upstream_name = "(discovery)";
    r->issuer_name = "(unknown issuer)";
    r->discover = true;
    return std::shared_ptr<const Route>(std::move(r));
  }();
  return route;
}

void PolicySource::lookup(Lookup lookup, Reply done) {
  const OcspQuery* query = lookup.query.get();
  const bool forward = query->forward_upstream.has_value();
  const bool discover =
      options_.unknown_issuer == conf::ResponderUnknownIssuerPolicy::Discover;
  std::shared_ptr<const Route> route;
  // Forward mode and discovery: the first CertID of an unknown issuer.
  const CertIdInfo* unknown = nullptr;
  for (const auto& id : query->cert_ids) {
    auto found = index_.find(id);
    bool mixed = false;
    if (!found) {
      if (!forward && !discover) {
        size_t unknown = 0;
        for (const auto& other : query->cert_ids) unknown += index_.find(other) ? 0 : 1;
        logUnknownIssuer(*query, id, unknown, "unauthorized");
        done(lookup, makeError(ErrorCategory::Unauthorized, "unknown_issuer",
                               "no configured issuer matches issuerKeyHash " +
                                   toHex(id.issuer_key_hash)));
        return;
      }
      if (route) {
        mixed = true;
      } else if (unknown == nullptr) {
        unknown = &id;
      } else {
        mixed = unknown->issuer_key_hash != id.issuer_key_hash ||
                unknown->issuer_name_hash != id.issuer_name_hash ||
                unknown->hash_nid != id.hash_nid;
      }
    } else {
      mixed = unknown != nullptr || (route && route->issuer != found->issuer);
      if (!route) route = std::move(found);
    }
    if (mixed) {
      logEventLimited(g_mixed_issuers_log, LogLevel::Warn, "mixed_issuers",
                      {{"client", query->client}});
      done(lookup, makeError(ErrorCategory::Unauthorized, "mixed_issuers",
                             "request mixes certificates of different issuers"));
      return;
    }
  }
  // Every CertID has the unknown issuer (else they were mixed).
  if (unknown != nullptr) {
    logUnknownIssuer(*query, *unknown, query->cert_ids.size(), forward ? "complete" : "discover");
  }
  // Routed before the checks below, so that a refusal is logged with its issuer and flagged
  // like an answer.
  lookup.route = forward ? forwardRoute(*query, route) : unknown != nullptr ? discoveryRoute() : route;
  const std::string revoked =
      watch_ != nullptr ? watch_->revokedName(lookup.route->issuer.get()) : std::string();
  lookup.issuer_revoked = !revoked.empty();
  if (route && !route->distrusted_as.empty()) {
    const conf::DistrustStage stage = distrustStage(*query, *route);
    if (stage == conf::DistrustStage::Enforce) {
      logEventLimited(g_distrusted_issuer_log, LogLevel::Warn, "distrusted_issuer",
                      {{"client", query->client}, {"issuer", route->issuer_name},
                       {"distrust", route->distrusted_as}});
      done(lookup, makeError(ErrorCategory::Unauthorized, "distrusted_issuer",
                             route->issuer_name + " is distrusted (" + route->distrusted_as +
                                 ")"));
      return;
    }
    lookup.distrust_pending = stage == conf::DistrustStage::Warn;
  }
  if (!revoked.empty() && options_.on_revoked_issuer == conf::RevokedIssuerPolicy::Refuse) {
    logEventLimited(g_revoked_issuer_log, LogLevel::Warn, "revoked_issuer_refused",
                    {{"client", query->client}, {"issuer", route->issuer_name},
                     {"watch", revoked}});
    done(lookup, makeError(ErrorCategory::Unauthorized, "issuer_revoked",
                           route->issuer_name + " is revoked (watched as " + revoked + ")"));
    return;
  }
  lookup.passthrough = options_.nonce == conf::NoncePolicy::Passthrough &&
                       query->nonce.has_value() &&
                       (nonce_echo_ == nullptr || !nonce_echo_->ignores(lookup.route->upstream_name));
  next_.lookup(std::move(lookup), std::move(done));
}

}  // namespace ocsp
