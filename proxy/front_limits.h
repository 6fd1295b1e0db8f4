#pragma once
// The front's limits (docs/ARCHITECTURE.md §11): the refusals for what the connection layer
// found (http/http_exchange.h LimitBreach: connections, header count and bytes, chunked
// trailers, request deadline, eviction, open files, body size) and the per-address rate,
// each answered with its HTTP status and a text naming the limits.* key, logged
// (event=limit_rejected, within a global budget of lines: a client can trigger it at will)
// and counted in ocsp_proxy_limit_rejections_total{limit}. The table of statuses is in
// proxy/http_front.h. One instance per worker front; not thread-safe.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/metrics.h"
#include "http/client_limits.h"
#include "http/http_exchange.h"

namespace ocsp {

// What the limits read of the config (derived in proxy/component_options.cc): the keys a
// refusal names, and the rate it enforces (rate_per_client 0: none).
struct FrontLimitOptions {
  size_t max_request_bytes = 0;
  size_t max_header_bytes = 0;
  int64_t request_timeout_ms = 0;
  int64_t max_connections = 0;
  int64_t max_headers = 0;
  int64_t rate_per_client = 0;
  int64_t rate_burst = 0;
};

class FrontLimits {
 public:
  static constexpr int kLimits = 9;

  // `rate` and `metrics` may be null (no rate limit; not counted) and must outlive this.
  FrontLimits(FrontLimitOptions options, RateLimiter* rate, Metrics* metrics);

  // The breach the connection layer found, then the rate: false if `ex` was answered with a
  // refusal.
  bool admit(HttpExchange& ex);
  // A request listing more CertIDs than limits.max_cert_ids_per_request: logged and counted
  // here, answered by the caller (OCSP malformedRequest).
  void countCertIds(const HttpExchange& ex, const std::string& detail);

 private:
  void reject(HttpExchange& ex, int limit, int code, const char* reason_phrase,
              const std::string& detail);
  void note(const HttpExchange& ex, int limit, const std::string& detail);

  const FrontLimitOptions options_;
  RateLimiter* rate_;
  // connections, headers, header_bytes, body, rate, cert_ids, request_timeout, evicted,
  // open_files; resolved once, null when not counted.
  Counter* counters_[kLimits] = {};
};

}  // namespace ocsp
