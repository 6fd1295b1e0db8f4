#pragma once
// The admin listener (docs/ARCHITECTURE.md §13; loopback by default): what the network team and the
// orchestrator look at.
//   GET /         the status page: HTML for a browser, no scripts (proxy/status_page.h)
//   GET /healthz  200 "ok" while the process runs (liveness)
//   GET /readyz   200 "ready" when the config is loaded and every worker runs, plus a
//                 "degraded: ..." line per degraded part (Redis); 503 with the reasons if not
//   GET /status   JSON: version, uptime, config (path, generation, last reload error), upstreams with each FQDN's circuit state, revocation_source and the CRL found for each issuer (crls), watched
//                 intermediates, issuer expiry, cache and CRL sizes, Redis, learned issuers (a
//                 count, and each with subject, upstream, learned_at, source), the cache
//                 snapshot (its path, last write and the load at start), the serials
//                 known to be issued (entries, refused: upstream/known_serials.h), the
//                 distrust entries (each with its mode, enforce_from, the stage it is in now
//                 for clients in no group, and its client groups with their dates and stages),
//                 the recent revoked answers, and until when the cached answers of each
//                 upstream hold (valid_until, bridge_crls). The page and this document render
//                 one gathered structure (proxy/status_model.h).
//   GET /metrics  Prometheus text exposition (core/metrics.h)
// Runs on the main loop. Everything referenced must outlive it.
#include <event2/http.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cache/crl_store.h"
#include "conf/config_distrust.h"
#include "cache/memory_cache.h"
#include "cache/redis_status.h"
#include "cache/snapshot_store.h"
#include "proxy/recent_revocations.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "upstream/fqdn_health.h"
#include "upstream/crl_bridge_state.h"
#include "upstream/issuer_index.h"
#include "upstream/issuer_watch.h"
#include "upstream/known_serials.h"

namespace ocsp {

// What the admin listener shows of the config (derived in proxy/component_options.cc).
struct AdminOptions {
  struct Upstream {
    std::string name;
    std::vector<std::string> fqdns;
    std::string revocation_source;  // ocsp | crl | ocsp-then-crl
  };
  std::string config_path;          // the file the running config came from
  std::vector<Upstream> upstreams;  // upstreams[].name and fqdns: /status and circuit gauges
  size_t crl_memory_bytes = 0;      // crl.memory_bytes, the CRL cache's bound in /status
  size_t ca_issuers_memory_bytes = 0;  // forward.aia_memory_bytes, the caIssuers cache's bound
  struct Distrust {
    std::string name;  // distrust[].name
    size_t keys = 0;   // how many keys the entry distrusts
    conf::DistrustSchedule schedule;
  };
  std::vector<Distrust> distrust;  // one per distrust entry, in config order
  // crl.urls (with upstreams[].crls), as the CRL store keys them (HttpUrl::text()): the CRLs
  // whose nextUpdate is exported.
  std::vector<std::string> crl_urls;
};

// The main loop updates the config-derived members (options, redis_status, watch, index, the
// reload fields) when a reload swaps the config; all of it is read on the main loop only.
struct AdminView {
  AdminOptions options;
  // Reasons the proxy is not ready (empty = ready).
  std::function<std::vector<std::string>()> not_ready;
  const RedisStatus* redis_status;  // null without Redis
  const MemoryCache& cache;
  const CrlStore& crl_store;
  const FqdnHealth& health;
  const IssuerWatch* watch;
  const IssuerIndex* index;
  Metrics& metrics;
  const Clock& clock;
  int64_t started_at;
  int generation = 1;           // 1 at start, +1 per successful reload
  int64_t loaded_at = 0;        // when the running config was loaded
  std::string last_reload_error;  // "" if the last reload succeeded (or none was tried)
  const CrlStore* ca_issuers_store = nullptr;  // caIssuers documents served; null: none
  const SnapshotStore* snapshot = nullptr;     // the cache snapshot; null: none
  const KnownSerials* known_serials = nullptr;  // the serials known to be issued; null: none
  // Which CRL the bridge found for each issuer (the running generation's); null: none.
  const CrlBridgeState* crl_bridge = nullptr;
  const RecentRevocations* recent_revocations = nullptr;  // null: none kept
};

// evhttp generic callback; `view` is an AdminView.
void onAdminRequest(evhttp_request* req, void* view);

// The /status document (tests and the report read it).
std::string statusJson(const AdminView& view);
struct StatusModel;
// The same from what was gathered (proxy/status_model.h).
std::string statusJson(const StatusModel& model);

// Sets the scrape-time gauges (cache sizes and bounds, evictions, Redis, circuits,
// intermediates, expiry, the nextUpdate of each crl.urls CRL).
void addStatusCollectors(const AdminView& view);

}  // namespace ocsp
