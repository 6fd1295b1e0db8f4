#include "proxy/server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/thread.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "cache/memory_cache.h"
#include "core/clock.h"
#include "core/handles.h"
#include "core/log.h"
#include "proxy/worker.h"
#include "upstream/allow_list.h"
#include "upstream/crl_service.h"
#include "upstream/issuer_completion.h"
#include "upstream/issuer_index.h"

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
  std::unique_ptr<addrinfo, FreeWith<addrinfo, freeaddrinfo>> owned(res);
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

namespace {

uint16_t boundPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                  : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

struct MainLoop {
  EventBasePtr base;
  const RedisStatus* redis_status = nullptr;
  std::vector<std::unique_ptr<Worker>> workers;
  bool stopping = false;

  void stopAll() {
    stopping = true;
    for (auto& w : workers) w->stop();
    event_base_loopexit(base.get(), nullptr);
  }
};

void onSignal(evutil_socket_t sig, short, void* arg) {
  auto* loop = static_cast<MainLoop*>(arg);
  if (sig == SIGHUP) {
    logEvent(LogLevel::Info, "sighup", {{"action", "none yet: restart to apply a new config"}});
    return;
  }
  logEvent(LogLevel::Info, "shutting_down", {{"signal", sig == SIGTERM ? "TERM" : "INT"}});
  loop->stopAll();
}

void reply(evhttp_request* req, int code, const char* reason, const std::string& body) {
  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
  evbuffer_add(evhttp_request_get_output_buffer(req), body.data(), body.size());
  evhttp_send_reply(req, code, reason, nullptr);
}

void onAdmin(evhttp_request* req, void* arg) {
  auto* loop = static_cast<MainLoop*>(arg);
  const char* path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
  std::string p = path != nullptr ? path : "";
  if (p == "/healthz") {
    reply(req, 200, "OK", "ok\n");
  } else if (p == "/readyz") {
    std::string problems;
    if (loop->stopping) problems += "shutting down\n";
    for (size_t i = 0; i < loop->workers.size(); ++i) {
      if (!loop->workers[i]->running()) problems += "worker " + std::to_string(i) + " not running\n";
    }
    if (problems.empty()) {
      // Degraded parts do not make us unready: requests are still answered (DESIGN.md §8).
      std::string body = "ready\n";
      if (loop->redis_status != nullptr && !loop->redis_status->allUp()) {
        body += "degraded: " + loop->redis_status->describe() + "\n";
      }
      reply(req, 200, "OK", body);
    } else {
      reply(req, 503, "Service Unavailable", problems);
    }
  } else {
    reply(req, 404, "Not Found", "not found: try /healthz or /readyz\n");
  }
}

}  // namespace

int runServer(std::shared_ptr<const conf::Config> config) {
  evthread_use_pthreads();  // workers are stopped from the main thread
  signal(SIGPIPE, SIG_IGN);

  unsigned n_workers = config->workers != 0 ? config->workers : std::thread::hardware_concurrency();
  if (n_workers == 0) n_workers = 1;

  // One SO_REUSEPORT socket per worker on the same address. With port 0 the first socket
  // picks the port and the others join it.
  conf::ListenAddress ocsp_addr = config->listen_ocsp;
  std::vector<int> fds;
  for (unsigned i = 0; i < n_workers; ++i) {
    auto fd = listenTcp(ocsp_addr, true);
    if (!fd) {
      logEvent(LogLevel::Error, "listen_failed", {{"listener", "ocsp"}, {"detail", fd.error().detail}});
      for (int f : fds) close(f);
      return 1;
    }
    if (i == 0) ocsp_addr.port = boundPort(*fd);
    fds.push_back(*fd);
  }

  MemoryCache cache(config->cache.memory_bytes);
  IssuerIndex index(*config);
  AllowList allow(*config);
  InflightTable inflight;
  FqdnHealth health;
  std::unique_ptr<RedisStatus> redis_status;
  if (config->redis) {
    // One connection per worker, and one for the CRL service (the last slot).
    redis_status = std::make_unique<RedisStatus>(static_cast<int>(n_workers) + 1,
                                                 redisTarget(*config->redis));
  }
  X509StorePtr trust_store;
  if (auto loaded = loadTrustStore(config->forward.trust_store)) {
    trust_store = std::move(*loaded);
  } else {
    // Not fatal: only AIA completion and root-signed CRLs need it.
    logEvent(LogLevel::Warn, "trust_store_unavailable", {{"detail", loaded.error().detail}});
  }
  CrlStore crl_store(config->crl.memory_bytes);
  CrlService crl(config, index, trust_store.get(), crl_store, SystemClock::instance(),
                 redis_status.get(), static_cast<int>(n_workers));
  SharedState shared{cache,  index, allow, trust_store.get(), &crl, inflight, health,
                     SystemClock::instance(), redis_status.get()};
  MainLoop loop;
  loop.base.reset(event_base_new());
  loop.redis_status = redis_status.get();

  auto admin_fd = listenTcp(config->listen_admin, false);
  if (!admin_fd) {
    logEvent(LogLevel::Error, "listen_failed", {{"listener", "admin"}, {"detail", admin_fd.error().detail}});
    for (int f : fds) close(f);
    return 1;
  }
  EvhttpPtr admin(evhttp_new(loop.base.get()));
  evhttp_set_gencb(admin.get(), &onAdmin, &loop);
  evhttp_set_timeout(admin.get(), 10);
  evhttp_accept_socket_with_handle(admin.get(), *admin_fd);

  for (unsigned i = 0; i < n_workers; ++i) {
    loop.workers.push_back(std::make_unique<Worker>(static_cast<int>(i), config, shared, fds[i]));
  }
  for (auto& w : loop.workers) w->start();
  crl.start();

  EventPtr sigterm(evsignal_new(loop.base.get(), SIGTERM, &onSignal, &loop));
  EventPtr sigint(evsignal_new(loop.base.get(), SIGINT, &onSignal, &loop));
  EventPtr sighup(evsignal_new(loop.base.get(), SIGHUP, &onSignal, &loop));
  for (event* ev : {sigterm.get(), sigint.get(), sighup.get()}) event_add(ev, nullptr);

  std::string ocsp_bound = boundAddress(fds[0]);
  std::string admin_bound = boundAddress(*admin_fd);
  logEvent(LogLevel::Info, "listening", {{"listener", "ocsp"}, {"address", ocsp_bound}});
  logEvent(LogLevel::Info, "listening", {{"listener", "admin"}, {"address", admin_bound}});
  logEvent(LogLevel::Info, "started",
           {{"version", OCSP_PROXY_VERSION},
            {"workers", std::to_string(n_workers)},
            {"upstreams", std::to_string(config->upstreams.size())},
            {"issuers", std::to_string(index.issuerCount())},
            {"cache_bytes", std::to_string(config->cache.memory_bytes)}});

  event_base_dispatch(loop.base.get());

  for (auto& w : loop.workers) w->join();
  crl.stop();  // before the workers' mailboxes go: it may still post replies to them
  loop.workers.clear();
  logEvent(LogLevel::Info, "stopped");
  return 0;
}

}  // namespace ocsp
