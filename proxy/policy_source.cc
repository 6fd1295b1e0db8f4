#include "proxy/policy_source.h"

#include "core/log.h"

namespace ocsp {

namespace {
void logUnknownIssuer(const OcspQuery& query, const CertIdInfo& id, const char* action) {
  logEvent(LogLevel::Warn, "unknown_issuer",
           {{"client", query.client},
            {"mode", query.forward_upstream ? "forward" : "responder"},
            {"hash", OBJ_nid2sn(id.hash_nid)},
            {"issuer_key_hash", toHex(id.issuer_key_hash)},
            {"serial", toHex(id.serial)},
            {"action", action}});
}
}  // namespace

std::shared_ptr<const Route> PolicySource::forwardRoute(const OcspQuery& query,
                                                        std::shared_ptr<const Route> found) const {
  size_t upstream = *query.forward_upstream;
  if (found && found->upstream_index == upstream && found->first_fqdn == query.forward_fqdn) {
    return found;
  }
  auto route = found ? std::make_shared<Route>(*found) : std::make_shared<Route>();
  route->upstream_index = upstream;
  route->upstream_name = config_->upstreams.at(upstream).name;
  route->first_fqdn = query.forward_fqdn;
  if (!found) route->issuer_name = "(unknown issuer)";
  return route;
}

void PolicySource::lookup(std::shared_ptr<const OcspQuery> query, Reply done) {
  const bool forward = query->forward_upstream.has_value();
  std::shared_ptr<const Route> route;
  const CertIdInfo* unknown = nullptr;  // forward mode: the first CertID of an unknown issuer
  for (const auto& id : query->cert_ids) {
    auto found = index_.find(id);
    bool mixed = false;
    if (!found) {
      if (!forward) {
        logUnknownIssuer(*query, id, "unauthorized");
        done(makeError(ErrorCategory::Unauthorized, "unknown_issuer",
                       "no configured issuer matches issuerKeyHash " + toHex(id.issuer_key_hash)));
        return;
      }
      if (route) {
        mixed = true;
      } else if (unknown == nullptr) {
        unknown = &id;
        logUnknownIssuer(*query, id, "complete");
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
      logEvent(LogLevel::Warn, "mixed_issuers", {{"client", query->client}});
      done(makeError(ErrorCategory::Unauthorized, "mixed_issuers",
                     "request mixes certificates of different issuers"));
      return;
    }
  }
  // Routed before the checks below, so that a refusal is logged with its issuer.
  query->route = forward ? forwardRoute(*query, route) : route;
  if (route && !route->distrusted_as.empty()) {
    logEvent(LogLevel::Warn, "distrusted_issuer",
             {{"client", query->client}, {"issuer", route->issuer_name},
              {"distrust", route->distrusted_as}});
    done(makeError(ErrorCategory::Unauthorized, "distrusted_issuer",
                   route->issuer_name + " is distrusted (" + route->distrusted_as + ")"));
    return;
  }
  if (route && watch_ != nullptr &&
      config_->watch.on_revoked_issuer == conf::RevokedIssuerPolicy::Refuse) {
    std::string revoked = watch_->revokedName(route->issuer.get());
    if (!revoked.empty()) {
      logEvent(LogLevel::Warn, "revoked_issuer_refused",
               {{"client", query->client}, {"issuer", route->issuer_name}, {"watch", revoked}});
      done(makeError(ErrorCategory::Unauthorized, "issuer_revoked",
                     route->issuer_name + " is revoked (watched as " + revoked + ")"));
      return;
    }
  }
  query->passthrough =
      config_->nonce == conf::NoncePolicy::Passthrough && query->nonce.has_value();
  next_.lookup(std::move(query), std::move(done));
}

}  // namespace ocsp
