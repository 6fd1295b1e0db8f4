#include "proxy/status_model.h"

#include <map>
#include <string_view>
#include <unordered_map>

#include "core/clock.h"

namespace ocsp {

namespace {

std::vector<StatusModel::Upstream> upstreamsOf(const AdminView& v) {
  std::vector<StatusModel::Upstream> out;
  const auto circuits = v.health.snapshot(monotonicMs());
  const std::vector<CrlBridgeState::IssuerCrl> found =
      v.crl_bridge != nullptr ? v.crl_bridge->issuerCrls()
                              : std::vector<CrlBridgeState::IssuerCrl>{};
  for (const AdminOptions::Upstream& up : v.options.upstreams) {
    StatusModel::Upstream u{up.name, up.revocation_source, {}, {}};
    for (const CrlBridgeState::IssuerCrl& crl : found) {
      if (crl.upstream == up.name) u.crls.push_back(crl);
    }
    for (const std::string& fqdn : up.fqdns) {
      // A closed circuit is not in the snapshot.
      StatusModel::Circuit c{fqdn, "closed", 0};
      for (const auto& open : circuits) {
        if (open.fqdn == fqdn) {
          c.state = open.state;
          c.consecutive_failures = open.consecutive_failures;
        }
      }
      u.fqdns.push_back(std::move(c));
    }
    out.push_back(std::move(u));
  }
  return out;
}

std::vector<StatusModel::BridgeCrl> bridgeCrlsOf(const StatusModel& m) {
  std::vector<StatusModel::BridgeCrl> out;
  for (const StatusModel::Upstream& up : m.upstreams) {
    for (const CrlBridgeState::IssuerCrl& found : up.crls) {
      StatusModel::BridgeCrl b{found.upstream, found.issuer, found.url, 0, false};
      for (const auto& e : m.crls) {
        if (e->url == found.url) {
          b.held = true;
          b.next_update = e->crl.next_update;
        }
      }
      out.push_back(std::move(b));
    }
  }
  return out;
}

}  // namespace

std::vector<StatusModel::Holdout> cacheHoldouts(const MemoryCache& cache,
                                                const std::vector<AdminOptions::Upstream>& ups,
                                                int64_t now) {
  std::vector<StatusModel::Holdout> out;
  std::unordered_map<std::string_view, size_t> slot_of;  // origin or FQDN -> index in `out`
  for (const AdminOptions::Upstream& up : ups) {
    out.push_back({up.name, 0, 0, 0});
    for (const std::string& fqdn : up.fqdns) slot_of.emplace(fqdn, out.size() - 1);
  }
  // Answers from FQDNs no upstream lists (a previous config's, or another instance's through
  // a restored snapshot), one group each, in name order after the configured ones.
  std::map<std::string, StatusModel::Holdout> others;
  cache.forEach([&](const CacheKey&, const std::shared_ptr<const OcspEntry>& e) {
    if (e->hard_expiry <= now) return;
    const std::string_view origin = e->upstream_fqdn.view();
    StatusModel::Holdout* h = nullptr;
    if (auto it = slot_of.find(origin); it != slot_of.end()) {
      h = &out[it->second];
    } else {
      StatusModel::Holdout& other = others[std::string(origin)];
      other.origin = origin;
      h = &other;
    }
    h->earliest = h->answers == 0 ? e->hard_expiry : std::min(h->earliest, e->hard_expiry);
    h->latest = h->answers == 0 ? e->hard_expiry : std::max(h->latest, e->hard_expiry);
    ++h->answers;
  });
  for (auto& [origin, h] : others) out.push_back(std::move(h));
  return out;
}

StatusModel collectStatus(const AdminView& v) {
  StatusModel m;
  m.now = v.clock.now();
  m.version = OCSP_PROXY_VERSION;
  m.started_at = v.started_at;
  m.not_ready = v.not_ready();
  m.config_path = v.options.config_path;
  m.distrust = v.options.distrust;
  m.generation = v.generation;
  m.loaded_at = v.loaded_at;
  m.last_reload_error = v.last_reload_error;
  m.upstreams = upstreamsOf(v);
  m.watched = v.watch->snapshot();
  m.expiry = v.watch->expiries(m.now);

  m.ocsp = v.cache.stats();
  m.ocsp_max_bytes = v.cache.maxBytes();
  m.validation_memo = sharedValidationMemo().stats();
  m.crl = v.crl_store.stats();
  m.crl_max_bytes = v.options.crl_memory_bytes;
  m.crls = v.crl_store.snapshot();
  if (v.ca_issuers_store != nullptr) {
    m.ca_issuers = StatusModel::CaIssuers{v.ca_issuers_store->stats(),
                                          v.options.ca_issuers_memory_bytes,
                                          v.ca_issuers_store->snapshot()};
  }
  if (v.snapshot != nullptr) {
    m.snapshot = StatusModel::Snapshot{v.snapshot->enabled(), v.snapshot->path(),
                                       v.snapshot->lastWrite(), v.snapshot->lastLoad()};
  }
  if (v.redis_status != nullptr) m.redis = v.redis_status->describe();
  if (v.known_serials != nullptr) {
    m.known_serials = StatusModel::KnownSerialsCount{v.known_serials->size(),
                                                     v.known_serials->refused()};
  }
  m.learned_count = v.index->learnedCount();
  for (const LearnedIssuer& l : v.index->learned()) {
    m.learned.push_back({l.route->issuer_name, l.route->upstream_name, l.learned_at,
                         learnedFromName(l.from)});
  }
  if (v.recent_revocations != nullptr) {
    m.recent_revocations = v.recent_revocations->recent();
    m.revoked_answers = v.recent_revocations->total();
  }
  m.holdouts = cacheHoldouts(v.cache, v.options.upstreams, m.now);
  m.bridge_crls = bridgeCrlsOf(m);
  return m;
}

}  // namespace ocsp
