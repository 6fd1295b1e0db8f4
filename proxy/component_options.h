#pragma once
// The one place where the Config becomes what each component uses (docs/ARCHITECTURE.md §12).
// Every component takes a small options struct declared in its own header, holding only the
// values it reads; the functions here derive them from a loaded Config, so where a key takes
// effect can be read in one file. Unit conversions happen here and nowhere else:
// cache.refresh_percent becomes a fraction, cache.request_memo_bytes is split between the two
// memos; durations are already milliseconds (or seconds where the field says _s) in the Config.
// A reload derives the new generation's options from the new Config the same way (after the
// restart-only keys got their running values back, conf/config.h); nothing here keeps state.
#include <cstddef>
#include <optional>

#include "conf/config.h"
#include "core/ocsp_entry.h"
#include "http/http_server.h"
#include "proxy/admin.h"
#include "proxy/revocation_log.h"
#include "proxy/worker.h"
#include "upstream/crl_service.h"
#include "upstream/issuer_watch.h"
#include "upstream/snapshot_restore.h"

namespace ocsp {

// cache.max_age, cache.no_next_update_ttl, cache.refresh_percent (a percentage in the file,
// a fraction here).
FreshnessPolicy freshnessOptions(const conf::Config& config);

// The limits.* keys the HTTP/1.1 layer enforces. The shared connection gate and the
// open-files counter are not config: the worker sets them.
HttpServerLimits httpServerLimits(const conf::Config& config);

UpstreamSource::Options upstreamOptions(const conf::Config& config);
// upstreams[].revocation_source and crls (then the rest of crl.urls), crl_bridge.*,
// cache.clock_skew and the freshness keys.
CrlBridgeSource::Options crlBridgeOptions(const conf::Config& config);
AiaCompleter::Options aiaCompleterOptions(const conf::Config& config);
DiscoverySource::Options discoveryOptions(const conf::Config& config);
// nullopt without a redis: section (no Redis stage).
std::optional<RedisSource::Options> redisSourceOptions(const conf::Config& config);
PolicySource::Options policyOptions(const conf::Config& config);
FrontOptions frontOptions(const conf::Config& config);
// All of the above for one worker; every worker of a generation gets the same.
WorkerOptions workerOptions(const conf::Config& config);

// crl.* (urls, bounds, max_bytes, issuers, unknown_issuer), limits.upstream_timeout,
// resolve, cache.clock_skew, cache.no_next_update_ttl, cache.refresh_percent, redis:; delta
// CRLs are followed on the hosts the allow-list allows for CRLs (crl.fqdns).
CrlService::Options crlServiceOptions(const conf::Config& config);
// The caIssuers service (the CRL service of kind CaIssuers): forward.aia_max_bytes,
// forward.aia_ttl; crl.max_concurrent_fetches bounds its downloads too (each reserving
// forward.aia_max_bytes); limits.upstream_timeout, resolve, cache.refresh_percent, redis:.
CrlService::Options caIssuersServiceOptions(const conf::Config& config);
IssuerWatch::Options issuerWatchOptions(const conf::Config& config);
AdminOptions adminOptions(const conf::Config& config);

// Restart-only keys, read once at start (the process-wide parts, proxy/server.cc).
size_t memoryCacheBytes(const conf::Config& config);  // cache.memory_bytes
size_t crlStoreBytes(const conf::Config& config);     // crl.memory_bytes
size_t caIssuersStoreBytes(const conf::Config& config);  // forward.aia_memory_bytes
// limits.revocation_log_buffer; the drop counters are not config: the caller sets them.
RevocationLog::Options revocationLogOptions(const conf::Config& config);
// cache.snapshot_interval, cache.snapshot_max_bytes.
SnapshotStore::Options snapshotStoreOptions(const conf::Config& config);
// The freshness keys and cache.clock_skew; the CRL services' parse rules and the local
// responder certificate are the caller's to set.
SnapshotRestoreOptions snapshotRestoreOptions(const conf::Config& config);

}  // namespace ocsp
