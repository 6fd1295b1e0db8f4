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
// Open files: at start the soft RLIMIT_NOFILE is raised to the hard limit and both are logged
// (event=open_file_limit, a warning if below limits.max_connections); client connections use
// descriptors up to 7/8 of it (http/http_server.h), the rest stay for everything else.
#include <memory>
#include <string>
#include <vector>

#include "conf/config.h"
#include "core/result.h"

namespace ocsp {

// Creates a non-blocking listening TCP socket. With `reuse_port`, several sockets may bind
// the same address (SO_REUSEPORT) and the kernel spreads connections among them.
Result<int> listenTcp(const conf::ListenAddress& addr, bool reuse_port);
// "ip:port" the socket is bound to.
std::string boundAddress(int fd);

// Runs the proxy until SIGTERM/SIGINT. Returns the process exit code.
int runServer(std::shared_ptr<const conf::Config> config);

}  // namespace ocsp
