// AcceptBackoff: a listener out of descriptors pauses instead of spinning, and takes the
// waiting connections once descriptors are free again.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "http/accept_backoff.h"

namespace {

using ocsp::AcceptBackoff;

int listenLoopback(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(fd, 16) == 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

int connectLoopback(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  // Loopback: the handshake completes into the listen queue without an accept().
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

void runFor(event_base* base, int ms) {
  timeval tv{0, ms * 1000};
  event_base_loopexit(base, &tv);
  event_base_dispatch(base);
}

}  // namespace

TEST_CASE("accept() out of descriptors pauses the listener, counted, until descriptors are free") {
  event_base* base = event_base_new();
  uint16_t port = 0;
  int listen_fd = listenLoopback(&port);
  int accepted = 0;
  auto on_accept = [](evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* count) {
    ++*static_cast<int*>(count);
    close(fd);
  };
  evconnlistener* listener =
      evconnlistener_new(base, on_accept, &accepted, LEV_OPT_CLOSE_ON_FREE, -1, listen_fd);
  REQUIRE(listener != nullptr);
  ocsp::Metrics metrics;
  ocsp::Counter& paused = metrics.counter(ocsp::Metric::LimitRejections, {"open_files"});
  {
    AcceptBackoff backoff(base, listener, "test", &paused);
    std::vector<int> clients;
    for (int i = 0; i < 3; ++i) clients.push_back(connectLoopback(port));

    // Every descriptor left is taken: each accept() fails with EMFILE.
    rlimit saved{};
    getrlimit(RLIMIT_NOFILE, &saved);
    rlimit low = saved;
    low.rlim_cur = static_cast<rlim_t>(clients.back() + 16);
    REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
    std::vector<int> filler;
    for (int fd; (fd = dup(0)) >= 0;) filler.push_back(fd);

    runFor(base, 450);
    CHECK(accepted == 0);
    // One failure per 100 ms pause, not one per turn of the loop.
    CHECK(backoff.pauses() >= 2);
    CHECK(backoff.pauses() <= 6);
    CHECK(paused.value() == backoff.pauses());

    for (int fd : filler) close(fd);
    setrlimit(RLIMIT_NOFILE, &saved);
    runFor(base, 300);
    CHECK(accepted == 3);
    for (int fd : clients) close(fd);
  }
  evconnlistener_free(listener);
  event_base_free(base);
}
