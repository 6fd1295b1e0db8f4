#include "proxy/listen_socket.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "core/handles.h"
#include "core/log.h"

namespace ocsp {

Result<int> listenTcp(const conf::ListenAddress& addr, bool reuse_port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(addr.port);
  int rc = getaddrinfo(addr.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    return makeError(ErrorCategory::Config, "listen", addr.host + ": " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, FreeWith<freeaddrinfo>> owned(res);
  int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return makeError(ErrorCategory::Config, "listen", std::strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
    std::string why = std::strerror(errno);
    close(fd);
    return makeError(ErrorCategory::Config, "listen",
                     "cannot listen on " + addr.host + ":" + port + ": " + why);
  }
  return fd;
}

std::string boundAddress(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    port = ntohs(a->sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  auto* a = reinterpret_cast<sockaddr_in*>(&ss);
  inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
  port = ntohs(a->sin_port);
  return std::string(host) + ":" + std::to_string(port);
}

// Every client connection is a descriptor: the soft open-file limit (often 1024) is raised to
// the hard one, and the change logged, so that limits.max_connections is not cut short by a
// default nobody chose.
void raiseOpenFileLimit(int64_t max_connections) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  const rlim_t before = rl.rlim_cur;
  if (rl.rlim_cur != rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) rl.rlim_cur = before;
  }
  auto text = [](rlim_t v) { return v == RLIM_INFINITY ? std::string("unlimited") : std::to_string(v); };
  const bool short_of_connections =
      rl.rlim_cur != RLIM_INFINITY && static_cast<int64_t>(rl.rlim_cur) < max_connections;
  logEvent(short_of_connections ? LogLevel::Warn : LogLevel::Info, "open_file_limit",
           {{"soft_before", text(before)},
            {"soft", text(rl.rlim_cur)},
            {"hard", text(rl.rlim_max)},
            {"detail", short_of_connections
                           ? "below limits.max_connections: past about 7/8 of it, new "
                             "connections get 503 (raise LimitNOFILE= / ulimit -n)"
                           : "client connections use up to 7/8 of it"}});
}

uint16_t boundPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                  : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

}  // namespace ocsp
