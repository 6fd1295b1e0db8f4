#pragma once
// The process's listening sockets and the descriptors they need (docs/ARCHITECTURE.md §5):
// creating and naming a listening socket, and the open-file limit. At start the soft
// RLIMIT_NOFILE is raised to the hard limit and both are logged (event=open_file_limit, a
// warning if below limits.max_connections); client connections use descriptors up to 7/8 of
// it (http/http_server.h), the rest stay for everything else. Called on the main thread.
#include <cstdint>
#include <string>

#include "conf/config.h"
#include "core/result.h"

namespace ocsp {

// Creates a non-blocking listening TCP socket. With `reuse_port`, several sockets may bind
// the same address (SO_REUSEPORT) and the kernel spreads connections among them.
Result<int> listenTcp(const conf::ListenAddress& addr, bool reuse_port);
// "ip:port" the socket is bound to.
std::string boundAddress(int fd);

// Raises the soft open-file limit to the hard one and logs both (event=open_file_limit).
void raiseOpenFileLimit(int64_t max_connections);
// The port the socket is bound to.
uint16_t boundPort(int fd);

}  // namespace ocsp
