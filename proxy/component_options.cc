#include "proxy/component_options.h"

namespace ocsp {

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

}  // namespace ocsp
