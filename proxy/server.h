#pragma once
// The process: owns the main event loop (signals, admin listener), the listening sockets,
// the shared cache and the workers (docs/ARCHITECTURE.md §5; STYLE.md "one file owns the event
// loop"). What a config builds (issuer index, allow-list, watch, CRL service, workers) is one
// generation; caches, circuit states, metrics, the revocation log and the sockets outlive it.
//   SIGHUP: reopen the revocation log; load the config file again and, if valid, start a new
//           generation on the same sockets and drain the old one; if not, keep running.
//   SIGUSR1: reopen the revocation log only (logrotate).
//   SIGTERM/SIGINT: close the listening sockets, drain the workers (limits.drain_timeout),
//           return 0; a second signal stops them at once.
// Admin listener (loopback by default): GET /healthz -> 200 "ok" while the process runs;
// GET /readyz -> 200 "ready" when every worker runs, else 503 naming what is not ready.
// Its requests are bounded: a head over 8 KiB or a body over 4 KiB is refused by evhttp
// (413, or the connection closed) before it is buffered; accept() out of descriptors pauses
// it briefly instead of spinning (http/accept_backoff.h).
// Its sockets and the open-file limit: proxy/listen_socket.h.
#include <memory>
#include <string>
#include <vector>

#include "conf/config.h"
#include "core/result.h"

namespace ocsp {

// Runs the proxy until SIGTERM/SIGINT. Returns the process exit code.
int runServer(std::shared_ptr<const conf::Config> config);

}  // namespace ocsp
