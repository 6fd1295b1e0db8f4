#include "proxy/policy_source.h"

#include "core/log.h"

namespace ocsp {

void PolicySource::lookup(std::shared_ptr<const OcspQuery> query, Reply done) {
  std::shared_ptr<const Route> route;
  for (const auto& id : query->cert_ids) {
    auto found = index_.find(id);
    if (!found) {
      std::string key_hash = toHex(id.issuer_key_hash);
      std::string serial = toHex(id.serial);
      logEvent(LogLevel::Warn, "unknown_issuer",
               {{"client", query->client},
                {"hash", OBJ_nid2sn(id.hash_nid)},
                {"issuer_key_hash", key_hash},
                {"serial", serial}});
      done(makeError(ErrorCategory::Unauthorized, "unknown_issuer",
                     "no configured issuer matches issuerKeyHash " + key_hash));
      return;
    }
    if (route && route->issuer != found->issuer) {
      logEvent(LogLevel::Warn, "mixed_issuers",
               {{"client", query->client},
                {"first", route->issuer_name},
                {"second", found->issuer_name}});
      done(makeError(ErrorCategory::Unauthorized, "mixed_issuers",
                     "request mixes certificates of different issuers"));
      return;
    }
    if (!route) route = std::move(found);
  }
  query->route = std::move(route);
  query->passthrough = nonce_ == conf::NoncePolicy::Passthrough && query->nonce.has_value();
  next_.lookup(std::move(query), std::move(done));
}

}  // namespace ocsp
