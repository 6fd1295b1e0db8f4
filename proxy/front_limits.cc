#include "proxy/front_limits.h"

#include "core/clock.h"
#include "core/log.h"

namespace ocsp {

namespace {

// ocsp_proxy_limit_rejections_total{limit}, in FrontLimits::counters_ order.
enum LimitIndex : int {
  kConnections,
  kHeaders,
  kHeaderBytes,
  kBody,
  kRate,
  kCertIds,
  kRequestTimeout,
  kEvicted,
  kOpenFiles,
};
constexpr const char* kNames[] = {"connections",     "headers", "header_bytes",
                                  "body",            "rate",    "cert_ids",
                                  "request_timeout", "evicted", "open_files"};
static_assert(sizeof(kNames) / sizeof(kNames[0]) == FrontLimits::kLimits);


// Any client can trigger it at will: a global budget of lines (core/log.h).
LogRateLimit g_limit_rejected_log;

}  // namespace

FrontLimits::FrontLimits(FrontLimitOptions options, RateLimiter* rate, Metrics* metrics)
    : options_(options), rate_(rate) {
  if (metrics == nullptr) return;
  for (int i = 0; i < kLimits; ++i) {
    counters_[i] = &metrics->counter(Metric::LimitRejections, {kNames[i]});
  }
}

void FrontLimits::note(const HttpExchange& ex, int limit, const std::string& detail) {
  logEventLimited(g_limit_rejected_log, LogLevel::Warn, "limit_rejected",
                  {{"client", std::string(ex.peer())}, {"limit", kNames[limit]},
                   {"detail", detail}});
  if (counters_[limit] != nullptr) counters_[limit]->inc();
}

void FrontLimits::countCertIds(const HttpExchange& ex, const std::string& detail) {
  note(ex, kCertIds, detail);
}

void FrontLimits::reject(HttpExchange& ex, int limit, int code, const char* reason_phrase,
                         const std::string& detail) {
  note(ex, limit, detail);
  ex.addHeader("Content-Type", "text/plain; charset=utf-8");
  ex.addHeader("Cache-Control", "no-store");
  ex.reply(code, reason_phrase, detail + "\n");
}

bool FrontLimits::admit(HttpExchange& ex) {
  const FrontLimitOptions& lim = options_;
  auto amount = [&ex] { return std::to_string(ex.breachAmount()); };
  switch (ex.breach()) {
    case LimitBreach::None: break;
    case LimitBreach::Connections:
      ex.addHeader("Retry-After", "1");
      reject(ex, kConnections, 503, "Service Unavailable",
                    "too many connections (limits.max_connections is " +
                        std::to_string(lim.max_connections) + ")");
      return false;
    case LimitBreach::Headers:
      reject(ex, kHeaders, 431, "Request Header Fields Too Large",
                    amount() + " header fields (limits.max_headers is " +
                        std::to_string(lim.max_headers) + ")");
      return false;
    case LimitBreach::HeaderBytes:
      reject(ex, kHeaderBytes, 431, "Request Header Fields Too Large",
                    "header block of " + amount() + " bytes or more (limits.max_header_bytes is " +
                        std::to_string(lim.max_header_bytes) + ")");
      return false;
    case LimitBreach::TrailerFields:
      reject(ex, kHeaders, 431, "Request Header Fields Too Large",
                    amount() + " header and chunked trailer fields (limits.max_headers is " +
                        std::to_string(lim.max_headers) + ")");
      return false;
    case LimitBreach::TrailerBytes:
      reject(ex, kHeaderBytes, 431, "Request Header Fields Too Large",
                    "header block and chunked trailers of " + amount() +
                        " bytes or more (limits.max_header_bytes is " +
                        std::to_string(lim.max_header_bytes) + ")");
      return false;
    case LimitBreach::RequestTimeout:
      reject(ex, kRequestTimeout, 408, "Request Timeout",
                    "request not complete within limits.request_timeout (" +
                        std::to_string(lim.request_timeout_ms) + " ms); " + amount() +
                        " bytes received");
      return false;
    case LimitBreach::Evicted:
      reject(ex, kEvicted, 408, "Request Timeout",
                    "closed to make room for a new connection (limits.max_connections is " +
                        std::to_string(lim.max_connections) +
                        ", or the open-file limit was reached): no complete request for " +
                        amount() + " ms");
      return false;
    case LimitBreach::OpenFiles:
      ex.addHeader("Retry-After", "1");
      reject(ex, kOpenFiles, 503, "Service Unavailable",
                    "too many connections for the process's open-file limit (ulimit -n)");
      return false;
    case LimitBreach::Body:
      reject(ex, kBody, 413, "Payload Too Large",
                    amount() + "-byte body or more (limits.max_request_bytes is " +
                        std::to_string(lim.max_request_bytes) + ")");
      return false;
  }
  if (rate_ != nullptr && lim.rate_per_client > 0 &&
      !rate_->allow(std::string(ex.peerAddress()), lim.rate_per_client, lim.rate_burst,
                      monotonicMs())) {
    // The connection stays: the client may try again after Retry-After.
    ex.addHeader("Retry-After", "1");
    reject(ex, kRate, 429, "Too Many Requests",
                  "more than " + std::to_string(lim.rate_per_client) +
                      " requests per second from this address (limits.rate_per_client)");
    return false;
  }
  return true;
}

}  // namespace ocsp
