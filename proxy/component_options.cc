#include "proxy/component_options.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "pki/responder_credentials.h"
#include "upstream/allow_list.h"
#include "upstream/known_serials_feed.h"

namespace ocsp {

namespace {

std::vector<std::string> upstreamNames(const conf::Config& config) {
  std::vector<std::string> names;
  for (const conf::Upstream& up : config.upstreams) names.push_back(up.name);
  return names;
}

}  // namespace

FreshnessPolicy freshnessOptions(const conf::Config& config) {
  FreshnessPolicy p;
  p.max_age_s = config.cache.max_age_s;
  p.no_next_update_ttl_s = config.cache.no_next_update_ttl_s;
  p.refresh_fraction = config.cache.refresh_percent / 100.0;
  return p;
}

HttpServerLimits httpServerLimits(const conf::Config& config) {
  const conf::Limits& lim = config.limits;
  HttpServerLimits s;
  s.max_header_bytes = lim.max_header_bytes;
  s.max_headers = static_cast<size_t>(lim.max_headers);
  s.max_request_bytes = lim.max_request_bytes;
  s.client_timeout_ms = lim.client_timeout_ms;
  s.request_timeout_ms = lim.request_timeout_ms;
  s.max_connections = lim.max_connections;
  return s;
}

UpstreamSource::Options upstreamOptions(const conf::Config& config) {
  UpstreamSource::Options o;
  o.upstreams = config.upstreams;
  o.resolve = config.resolve;
  o.timeout_ms = config.limits.upstream_timeout_ms;
  o.max_response_bytes = config.limits.max_upstream_response_bytes;
  o.unknown_issuer = config.forward.unknown_issuer;
  o.clock_skew_s = config.cache.clock_skew_s;
  o.freshness = freshnessOptions(config);
  o.distrust = conf::distrustSchedules(config.distrust);
  return o;
}

CrlBridgeSource::Options crlBridgeOptions(const conf::Config& config) {
  CrlBridgeSource::Options o;
  for (const conf::Upstream& up : config.upstreams) {
    CrlBridgeSource::Options::Upstream u{up.name, up.revocation_source, up.crls};
    // crl.urls holds every upstream's crls too (conf/config.h): the upstream's own first.
    for (const std::string& url : config.crl.urls) {
      if (std::find(u.crls.begin(), u.crls.end(), url) == u.crls.end()) u.crls.push_back(url);
    }
    o.upstreams.push_back(std::move(u));
  }
  if (config.crl_bridge) {
    o.credentials = config.crl_bridge->credentials;
    o.unlisted = config.crl_bridge->unlisted;
  }
  o.clock_skew_s = config.cache.clock_skew_s;
  o.freshness = freshnessOptions(config);
  return o;
}

AiaCompleter::Options aiaCompleterOptions(const conf::Config& config) {
  AiaCompleter::Options o;
  o.upstream_names = upstreamNames(config);
  o.resolve = config.resolve;
  o.fetch_timeout_ms = config.limits.upstream_timeout_ms;
  o.max_bytes = config.forward.aia_max_bytes;
  return o;
}

std::optional<RedisSource::Options> redisSourceOptions(const conf::Config& config) {
  if (!config.redis) return std::nullopt;
  RedisSource::Options o;
  o.server = *config.redis;
  o.freshness = freshnessOptions(config);
  o.clock_skew_s = config.cache.clock_skew_s;
  // The CRL bridge's answers in Redis are re-validated against the responder that signed them.
  if (config.crl_bridge && config.crl_bridge->credentials) {
    o.local_responder = config.crl_bridge->credentials->cert;
  }
  return o;
}

PolicySource::Options policyOptions(const conf::Config& config) {
  PolicySource::Options o;
  o.upstream_names = upstreamNames(config);
  o.on_revoked_issuer = config.watch.on_revoked_issuer;
  o.nonce = config.nonce;
  o.unknown_issuer = config.responder.unknown_issuer;
  o.distrust = conf::distrustSchedules(config.distrust);
  return o;
}

DiscoverySource::Options discoveryOptions(const conf::Config& config) {
  return DiscoverySource::Options{upstreamNames(config)};
}

FrontOptions frontOptions(const conf::Config& config) {
  const conf::Limits& lim = config.limits;
  FrontOptions o;
  o.limits.max_request_bytes = lim.max_request_bytes;
  o.limits.max_header_bytes = lim.max_header_bytes;
  o.limits.request_timeout_ms = lim.request_timeout_ms;
  o.limits.max_connections = lim.max_connections;
  o.limits.max_headers = lim.max_headers;
  o.limits.rate_per_client = lim.rate_per_client;
  o.limits.rate_burst = lim.rate_burst;
  o.max_cert_ids_per_request = static_cast<size_t>(lim.max_cert_ids_per_request);
  // Half for POST bodies, half for GET paths (conf/config.h).
  o.request_memo_bytes = config.cache.request_memo_bytes / 2;
  o.forward_enabled = config.forward.enabled;
  return o;
}

WorkerOptions workerOptions(const conf::Config& config) {
  WorkerOptions o;
  o.completer = aiaCompleterOptions(config);
  o.upstream = upstreamOptions(config);
  o.crl_bridge = crlBridgeOptions(config);
  o.discovery = discoveryOptions(config);
  o.redis = redisSourceOptions(config);
  o.policy = policyOptions(config);
  o.front = frontOptions(config);
  o.server = httpServerLimits(config);
  return o;
}

namespace {

// What the CRL and the caIssuers services share: a download of at most `max_bytes` per URL
// through the upstream timeout and resolve map, at most crl.max_concurrent_fetches at once,
// refreshed at cache.refresh_percent, with the Redis copy.
CrlService::Options downloadServiceOptions(const conf::Config& config, DocKind kind,
                                           size_t max_bytes) {
  CrlService::Options o;
  o.kind = kind;
  o.bounds.max_concurrent = static_cast<size_t>(config.crl.max_concurrent_fetches);
  o.bounds.max_bytes = max_bytes;
  o.fetch.max_bytes = max_bytes;
  o.fetch.timeout_ms = config.limits.upstream_timeout_ms;
  o.fetch.resolve = config.resolve;
  o.refresh_fraction = freshnessOptions(config).refresh_fraction;
  o.redis = config.redis;
  return o;
}

}  // namespace

CrlService::Options crlServiceOptions(const conf::Config& config) {
  CrlService::Options o = downloadServiceOptions(config, DocKind::Crl, config.crl.max_bytes);
  for (const std::string& text : config.crl.urls) {
    if (auto url = parseHttpUrl(text)) o.warm_urls.push_back(*url);  // checked by the loader
  }
  o.bounds.max_inflight_bytes = config.crl.max_inflight_bytes;
  for (const conf::IssuerCert& extra : config.crl.issuers) o.extra_issuers.push_back(extra.cert);
  o.clock_skew_s = config.cache.clock_skew_s;
  o.unknown_issuer = config.crl.unknown_issuer;
  // CRLs have no max_age: only the no-nextUpdate lifetime of the freshness policy applies.
  o.no_next_update_ttl_s = freshnessOptions(config).no_next_update_ttl_s;
  // A delta CRL is fetched under the rules a forward client's CRL URL meets.
  auto allow = std::make_shared<const AllowList>(config);
  o.delta_allowed = [allow](const HttpUrl& url) {
    auto target = allow->classify(url);
    return target.ok() && target->kind == TargetKind::Crl;
  };
  return o;
}

CrlService::Options caIssuersServiceOptions(const conf::Config& config) {
  CrlService::Options o =
      downloadServiceOptions(config, DocKind::CaIssuers, config.forward.aia_max_bytes);
  o.bounds.max_inflight_bytes = o.bounds.max_concurrent * o.bounds.max_bytes;
  o.ca_issuers_ttl_s = config.forward.aia_ttl_s;
  o.extra_issuers = configuredCas(config);
  return o;
}

IssuerWatch::Options issuerWatchOptions(const conf::Config& config) {
  IssuerWatch::Options o;
  o.intermediates = config.watch.intermediates;
  o.interval_s = config.watch.interval_s;
  o.expiry_warning_s = config.watch.expiry_warning_s;
  o.on_revoked_issuer = config.watch.on_revoked_issuer;
  for (const conf::Upstream& up : config.upstreams) {
    o.issuers.insert(o.issuers.end(), up.issuers.begin(), up.issuers.end());
  }
  o.upstream_names = upstreamNames(config);
  return o;
}

AdminOptions adminOptions(const conf::Config& config) {
  AdminOptions o;
  o.config_path = config.path;
  for (const conf::Upstream& up : config.upstreams) {
    o.upstreams.push_back({up.name, up.fqdns, conf::revocationSourceName(up.revocation_source)});
  }
  o.crl_memory_bytes = config.crl.memory_bytes;
  o.ca_issuers_memory_bytes = config.forward.aia_memory_bytes;
  for (const conf::Distrusted& d : config.distrust) {
    if (o.distrust.empty() || o.distrust.back().name != d.name) {
      o.distrust.push_back({d.name, 0, d.schedule});
    }
    ++o.distrust.back().keys;
  }
  for (const std::string& text : config.crl.urls) {
    if (auto url = parseHttpUrl(text)) o.crl_urls.push_back(url->text());  // checked by the loader
  }
  return o;
}

size_t memoryCacheBytes(const conf::Config& config) { return config.cache.memory_bytes; }

size_t crlStoreBytes(const conf::Config& config) { return config.crl.memory_bytes; }

size_t caIssuersStoreBytes(const conf::Config& config) { return config.forward.aia_memory_bytes; }

RevocationLog::Options revocationLogOptions(const conf::Config& config) {
  RevocationLog::Options o;
  o.max_pending_bytes = config.limits.revocation_log_buffer;
  return o;
}

SnapshotStore::Options snapshotStoreOptions(const conf::Config& config) {
  SnapshotStore::Options o;
  o.interval_s = config.cache.snapshot_interval_s;
  o.max_bytes = config.cache.snapshot_max_bytes;
  return o;
}

SnapshotRestoreOptions snapshotRestoreOptions(const conf::Config& config) {
  SnapshotRestoreOptions o;
  o.freshness = freshnessOptions(config);
  o.clock_skew_s = config.cache.clock_skew_s;
  // The CRL bridge's answers were signed by the proxy's own responder: accepted against it
  // (the config outlives the load).
  if (config.crl_bridge && config.crl_bridge->credentials) {
    o.local_responder = config.crl_bridge->credentials->cert.get();
  }
  return o;
}

}  // namespace ocsp
