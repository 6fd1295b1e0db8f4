#include "proxy/request_loop.h"

#include <string>

#include "core/log.h"
#include "upstream/via_token.h"

namespace ocsp {

namespace {

// A loop repeats as fast as the fetches go: a global budget of lines.
LogRateLimit g_request_loop_log;

}  // namespace

bool isOwnRequest(const HttpExchange& ex) {
  for (const HttpHeader& h : ex.head().headers) {
    if (httpNameEquals(h.name, "Via") && viaLists(h.value, viaReceivedBy())) return true;
  }
  return false;
}

bool refuseRequestLoop(HttpExchange& ex, Metrics* metrics) {
  if (!isOwnRequest(ex)) return false;
  const HttpHeader* host = ex.header("Host");
  const std::string host_name(host != nullptr ? host->value : ex.target());
  logEventLimited(g_request_loop_log, LogLevel::Error, "request_loop",
                  {{"client", std::string(ex.peer())}, {"host", host_name},
                   {"via", viaReceivedBy()},
                   {"detail", "the proxy's own upstream request reached it again"}});
  if (metrics != nullptr) metrics->counter(Metric::ForwardRefused, {"loop"}).inc();
  ex.addHeader("Content-Type", "text/plain; charset=utf-8");
  ex.addHeader("Cache-Control", "no-store");
  ex.reply(508, "Loop Detected",
           "loop detected: this request was sent by this proxy itself (its Via header names "
           "this process) to " +
               host_name +
               ", a name that resolves to the proxy. Give the CA hosts `resolve:` entries "
               "(upstreams, crl, aia configuration), or let the proxy use a DNS resolver that "
               "does not point the CA names at it.\n");
  return true;
}

}  // namespace ocsp
