#pragma once
// Prometheus metrics. One table, OCSP_PROXY_METRICS below, declares every metric exactly once
// (name, type, label names, buckets, help); the `Metric` enum, the registry's type checks and
// the /metrics exposition are all generated from it (twemproxy nc_stats.h, Envoy
// ALL_REDIS_PROXY_STATS). Adding a metric is one row; nothing else lists metrics.
//
// Cost model: resolving a label set (`counter()`, `gauge()`, `histogram()`) takes a mutex
// and may allocate, so callers resolve once (at start-up, per upstream, per config) and keep
// the reference. Every update after that is one relaxed atomic on a cache-line-aligned
// object: no lock, no allocation, callable from any thread. A reference stays valid for the
// registry's lifetime: series are never removed (collectedEachScrape only leaves some out of
// the exposition).
//
// Label values are stored as given and must come from a bounded vocabulary (the values in
// the help text, or names from the config such as upstream FQDNs), never from a client.
// Two labels need the reason spelled out:
//   - ocsp_proxy_answers_total{upstream}: the name of the upstream the policy routed the
//     query to (upstreams[].name; issuers learned through AIA or discovery route to one of
//     those too), or "" for a query no upstream was routed to. Never the issuer's subject or
//     a serial: those come from the client's request and the CAs, without bound.
//   - ocsp_proxy_crl_next_update_timestamp_seconds{url}: a URL of crl.urls (with phase 2's
//     upstreams[].crls), so as many series as the config names. CRLs that clients fetched
//     through the forward proxy are not exported: their URLs are chosen by the clients.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/metric_series.h"

namespace ocsp {

enum class MetricType : uint8_t { Counter, Gauge, Histogram };

inline constexpr size_t kMaxMetricLabels = 3;

// Upper bounds (`le`) of the upstream latency histogram, in seconds.
inline constexpr double kUpstreamLatencyBucketsSeconds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                            0.5,   1,    2.5,   5,    10};

// X(enum id, type, name, (label names...), buckets, help). Exposition follows this order.
// Counter names end in _total; gauges are int64 (see Gauge).
#define OCSP_PROXY_METRICS(X)                                                                     \
  X(Requests, Counter, "ocsp_proxy_requests_total", ("mode", "result"), {},                       \
    "OCSP requests answered, by mode (responder|forward|transparent) and result (good|revoked|"   \
    "unknown|malformed_request|unauthorized|try_later|internal_error|not_modified).")             \
  X(Answers, Counter, "ocsp_proxy_answers_total", ("upstream", "status"), {},                      \
    "CertIDs answered, one per CertID of a request, by the upstream the query was routed to "    \
    "(\"\" when none: unknown or mixed issuers) and status (good|revoked|unknown|error: no "       \
    "answer, e.g. tryLater or unauthorized).")                                                     \
  X(CacheHits, Counter, "ocsp_proxy_cache_hits_total", ("layer"), {},                             \
    "Lookups answered from a cache, by layer (memory|redis|stale).")                              \
  X(CacheMisses, Counter, "ocsp_proxy_cache_misses_total", (), {}, "Lookups that went upstream.") \
  X(Coalesced, Counter, "ocsp_proxy_coalesced_total", (), {},                                     \
    "Requests that waited for another request's upstream fetch instead of starting one.")         \
  X(UpstreamRequests, Counter, "ocsp_proxy_upstream_requests_total", ("upstream", "fqdn"), {},    \
    "HTTP requests sent to an upstream responder FQDN.")                                          \
  X(UpstreamErrors, Counter, "ocsp_proxy_upstream_errors_total", ("upstream", "fqdn", "reason"),  \
    {}, "Failed upstream requests, by reason (transport|http_status|too_large|validation).")      \
  X(UpstreamLatency, Histogram, "ocsp_proxy_upstream_latency_seconds", ("fqdn"),                  \
    kUpstreamLatencyBucketsSeconds, "Time from sending an upstream request to its last byte.")    \
  X(ValidationFailures, Counter, "ocsp_proxy_validation_failures_total", ("reason"), {},          \
    "Upstream responses rejected by validation, by reason; none is cached or served as fresh.")   \
  X(IssuerDiscovery, Counter, "ocsp_proxy_issuer_discovery_total", ("outcome"), {},              \
    "Local-responder requests for an unknown issuer that discovery handled, by outcome (learned|" \
    "unauthorized|failed|remembered: answered from the memo of a recent failure|busy).")             \
  X(ForwardRefused, Counter, "ocsp_proxy_forward_refused_total", ("reason"), {},                  \
    "Forward-proxy requests refused, by reason (loop: a request of our own, any mode).")         \
  X(CrlRequests, Counter, "ocsp_proxy_crl_requests_total", ("result"), {},                        \
    "CRL downloads answered, by result (hit|miss|not_modified|error).")                           \
  X(CrlFetches, Counter, "ocsp_proxy_crl_fetches_total", ("result"), {},                          \
    "CRL fetches from upstream, by result (ok|invalid|failed).")                                  \
  X(CrlBridgeAnswers, Counter, "ocsp_proxy_crl_bridge_answers_total", ("status"), {},            \
    "OCSP answers the CRL bridge built, by status (good|revoked|unknown), or unavailable.")      \
  X(CaIssuersRequests, Counter, "ocsp_proxy_ca_issuers_requests_total", ("result"), {},           \
    "caIssuers certificate downloads answered to forward-proxy clients, by result "               \
    "(served|not_modified|error).")                                                               \
  X(CaIssuersFetches, Counter, "ocsp_proxy_ca_issuers_fetches_total", ("result"), {},             \
    "caIssuers downloads from the CAs for clients, by result (ok|invalid|failed).")               \
  X(RedisConnections, Gauge, "ocsp_proxy_redis_connections", ("state"), {},                       \
    "Redis connections, by state (up|down).")                                                     \
  X(RedisEvents, Counter, "ocsp_proxy_redis_events_total", ("event"), {},                        \
    "Redis stage events over all workers (hit|miss|bypassed|timeout|error|invalid_entry|write|"   \
    "write_error|older_refused|stale_served|disconnect|master_change).")                         \
  X(CacheEntries, Gauge, "ocsp_proxy_cache_entries", ("cache"), {},                               \
    "Entries in the in-process cache (ocsp|crl|ca_issuers).")                                     \
  X(CacheBytes, Gauge, "ocsp_proxy_cache_bytes", ("cache"), {},                                   \
    "Bytes held by the in-process cache (ocsp|crl|ca_issuers|request_memo: the decoded "          \
    "requests of all workers).")                                                                  \
  X(CacheLimitBytes, Gauge, "ocsp_proxy_cache_limit_bytes", ("cache"), {},                        \
    "The configured bound of ocsp_proxy_cache_bytes (ocsp: cache.memory_bytes|crl: "              \
    "crl.memory_bytes|ca_issuers: forward.aia_memory_bytes).")                                    \
  X(CacheEvictions, Counter, "ocsp_proxy_cache_evictions_total", ("cache"), {},                   \
    "Entries of the in-process cache (ocsp|crl|ca_issuers) pushed out by its bound while still "  \
    "valid (before nextUpdate): they are fetched again when asked for. Expired entries pushed "   \
    "out are not counted.")                                                                       \
  X(CrlNextUpdate, Gauge, "ocsp_proxy_crl_next_update_timestamp_seconds", ("url"), {},            \
    "nextUpdate of the CRL held for each crl.urls entry (seconds since the epoch; 0: none held, " \
    "not fetched yet or dropped past its nextUpdate; no series for a CRL without nextUpdate).")   \
  X(CircuitOpen, Gauge, "ocsp_proxy_circuit_open", ("fqdn"), {},                                  \
    "1 while an upstream FQDN is skipped after repeated failures, else 0.")                       \
  X(IntermediateRevoked, Gauge, "ocsp_proxy_intermediate_revoked", ("name"), {},                  \
    "1 if a watched intermediate CA certificate is revoked, else 0.")                             \
  X(IssuerExpirySeconds, Gauge, "ocsp_proxy_issuer_expiry_seconds", ("name"), {},                 \
    "Seconds until an issuer certificate's notAfter (negative once expired).")                    \
  X(IssuerExpiring, Gauge, "ocsp_proxy_issuer_expiring", ("name"), {},                            \
    "1 if an issuer certificate expires within watch.expiry_warning, else 0.")                    \
  X(DistrustRequests, Counter, "ocsp_proxy_distrust_requests_total", ("name", "stage"), {},      \
    "Requests for certificates of a distrusted key, by distrust entry and the stage they met "   \
    "(log: served, logged|warn: served with distrust-pending|enforce: refused).")                \
  X(LimitRejections, Counter, "ocsp_proxy_limit_rejections_total", ("limit"), {},                 \
    "Requests or connections rejected by a configured limit, by limit.")                          \
  X(RevocationLogDropped, Counter, "ocsp_proxy_revocation_log_dropped_total", ("reason"), {},   \
    "Revocation-log lines not written, by reason (buffer_full: the output did not keep up; "    \
    "write_failed: the write failed, e.g. ENOSPC).")                                              \
  X(ConfigReloads, Counter, "ocsp_proxy_config_reloads_total", ("result"), {},                    \
    "Config reloads on SIGHUP: ok, or failed (the running config was kept).")                    \
  X(SnapshotWrites, Counter, "ocsp_proxy_snapshot_writes_total", ("result"), {},                 \
    "Cache snapshot writes to state_dir, by result (written|unchanged: same records, not "        \
    "rewritten|failed|abandoned: stopping, or past the shutdown budget).")                        \
  X(SnapshotLastWrite, Gauge, "ocsp_proxy_snapshot_last_write_timestamp_seconds", (), {},         \
    "When the cache snapshot was last written (seconds since the epoch; 0: not yet).")            \
  X(SnapshotRecords, Counter, "ocsp_proxy_snapshot_records_total", ("kind", "result"), {},        \
    "Records of the cache snapshot read at start, by kind (answer|crl|ca_issuers) and result "    \
    "(loaded|expired|issuer_gone|distrusted|invalid).")                                           \
  X(HeapBytes, Gauge, "ocsp_proxy_heap_bytes", ("state"), {},                                     \
    "The C heap (glibc malloc, all arenas): in_use by the proxy, or free but still held "         \
    "(fragmentation; the resident size counts the touched part of it).")                          \
  X(EntryArenaBytes, Gauge, "ocsp_proxy_entry_arena_bytes", ("state"), {},                        \
    "Memory of the cached answers' arena: spans (32 KiB each, blocks up to 4 KiB) or large "     \
    "(bigger blocks, and all of them under ASan). Against ocsp_proxy_cache_bytes: its slack.")  \
  X(SharedCertsValues, Gauge, "ocsp_proxy_shared_certs_values", (), {},                         \
    "Distinct responder certificate lists the cached answers share (at most 4,096): each "      \
    "held once however many answers end with it.")                                              \
  X(SharedCertsBytes, Gauge, "ocsp_proxy_shared_certs_bytes", (), {},                           \
    "Bytes of those shared certificate lists (at most 8 MiB).")                                   \
  X(KnownSerials, Gauge, "ocsp_proxy_known_serials", (), {},                                     \
    "Serials known to be issued (upstream/known_serials.h): what the CRL bridge may answer "     \
    "good for.")                                                                                  \
  X(ResidentBytes, Gauge, "process_resident_memory_bytes", (), {},                                \
    "Resident memory size in bytes.")                                                             \
  X(BuildInfo, Gauge, "ocsp_proxy_build_info", ("version"), {},                                   \
    "Always 1; the version label names the running build.")

enum class Metric : uint8_t {
#define OCSP_METRIC_ENUM(id, type, name, labels, buckets, help) id,
  OCSP_PROXY_METRICS(OCSP_METRIC_ENUM)
#undef OCSP_METRIC_ENUM
};

// The label names of one metric, in the order callers pass their values.
struct MetricLabelNames {
  std::array<std::string_view, kMaxMetricLabels> names;  // the first `count` are used
  size_t count;
};

template <class... Names>
constexpr MetricLabelNames metricLabelNames(Names... names) {
  static_assert(sizeof...(Names) <= kMaxMetricLabels, "raise kMaxMetricLabels");
  return {{std::string_view(names)...}, sizeof...(Names)};
}

struct MetricDef {
  std::string_view name;
  MetricType type;
  MetricLabelNames labels;
  std::span<const double> buckets;  // histograms: upper bounds, strictly increasing, no +Inf
  std::string_view help;

  constexpr size_t labelCount() const { return labels.count; }
  constexpr std::string_view labelName(size_t i) const { return labels.names[i]; }
};

// `labels` is a parenthesised list, so `metricLabelNames labels` is a call.
inline constexpr MetricDef kMetrics[] = {
#define OCSP_METRIC_DEF(id, type, name, labels, buckets, help) \
  {name, MetricType::type, metricLabelNames labels, buckets, help},
    OCSP_PROXY_METRICS(OCSP_METRIC_DEF)
#undef OCSP_METRIC_DEF
};
inline constexpr size_t kMetricCount = std::size(kMetrics);

constexpr const MetricDef& metricDef(Metric m) { return kMetrics[static_cast<size_t>(m)]; }
std::string_view metricTypeName(MetricType type);

// Text-format escaping: HELP text escapes \\ and newline; label values also escape ".
std::string escapeHelpText(std::string_view text);
std::string escapeLabelValue(std::string_view value);

// The registry: every series of every metric in the table. Thread-safe. The server owns one
// and passes references; there is no process-wide instance.
class Metrics {
 public:
  using LabelValues = std::initializer_list<std::string_view>;
  using Collector = std::function<void(Metrics&)>;

  // Creates the series of every label-less metric (so they show as 0) and sets
  // ocsp_proxy_build_info{version=OCSP_PROXY_VERSION} to 1.
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The series of `m` with these label values, in the table's label order, created at 0 on
  // first use. The reference is valid as long as the registry. A metric of another type or
  // the wrong number of values is a programming error: message on stderr, then abort().
  Counter& counter(Metric m, LabelValues label_values = {});
  Gauge& gauge(Metric m, LabelValues label_values = {});
  Histogram& histogram(Metric m, LabelValues label_values = {});

  // Called at the start of every exposition(), on the thread that calls it, one exposition at
  // a time, in the order added; it sets gauges that are computed rather than maintained
  // (cache sizes, seconds to expiry). It may resolve series and add collectors (those run
  // from the next exposition on); it must not call exposition().
  void addCollector(Collector collector);

  // The gauge `m` is set by collectors only, with label values from the running config
  // (upstream FQDNs, watched intermediates): an exposition leaves out every series of it
  // that no collector resolved (gauge()) during that exposition, so that a value a reload
  // removed stops being reported instead of staying at its last value.
  void collectedEachScrape(Metric m);

  // Prometheus text format 0.0.4: every metric in table order with # HELP and # TYPE, then
  // its series sorted by label values. Runs the collectors first.
  std::string exposition();

 private:
  struct Family;
  Family& family(Metric m, MetricType type, size_t label_value_count);

  std::mutex series_mutex_;  // guards the maps in families_ (not the values: they are atomic)
  std::unique_ptr<Family[]> families_;
  std::mutex collectors_mutex_;
  std::vector<Collector> collectors_;
  std::mutex scrape_mutex_;  // one exposition at a time
  uint64_t scrape_number_ = 0;                 // under series_mutex_
  std::array<bool, kMetricCount> collected_{};  // collectedEachScrape; under series_mutex_
};

}  // namespace ocsp
