#pragma once
// Refusal of a request loop (docs/ARCHITECTURE.md §1, §11).
//
// Every upstream fetch carries `Via: 1.1 ocsp-proxy-<token>` (upstream/via_token.h). When
// the site's DNS points a CA's name at this proxy and the proxy resolves that name through
// the same DNS (no `resolve:` entry), the fetch reaches the front again. Serving it would send
// the same fetch out again, and again; the front refuses it instead, in every mode (forward,
// transparent, responder), so the fetch fails at once and the usual failover, tryLater or 502
// gives the client a defined answer quickly rather than a timeout.
//   508 Loop Detected, text body naming the fix, Cache-Control: no-store;
//   ocsp_proxy_forward_refused_total{reason="loop"};
//   event=request_loop host=<Host> at ERROR, within a global budget of lines (core/log.h).
// Only this process's own token is a loop: another ocsp-proxy in a chain is legitimate.
#include "core/metrics.h"
#include "http/http_exchange.h"

namespace ocsp {

// Whether a Via header of the request names this process.
bool isOwnRequest(const HttpExchange& ex);

// If `ex` is our own request, answers it as above and returns true; `metrics` may be null.
bool refuseRequestLoop(HttpExchange& ex, Metrics* metrics);

}  // namespace ocsp
