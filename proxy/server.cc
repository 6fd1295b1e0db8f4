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
#include "proxy/admin.h"
#include "proxy/revocation_log.h"
#include "proxy/worker.h"
#include "upstream/allow_list.h"
#include "upstream/crl_service.h"
#include "upstream/issuer_completion.h"
#include "upstream/issuer_index.h"
#include "upstream/issuer_watch.h"

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
  std::vector<std::unique_ptr<Worker>> workers;
  RevocationLog* revocation_log = nullptr;
  bool stopping = false;

  void stopAll() {
    stopping = true;
    for (auto& w : workers) w->stop();
    event_base_loopexit(base.get(), nullptr);
  }

  std::vector<std::string> notReady() const {
    std::vector<std::string> problems;
    if (stopping) problems.push_back("shutting down");
    for (size_t i = 0; i < workers.size(); ++i) {
      if (!workers[i]->running()) problems.push_back("worker " + std::to_string(i) + " not running");
    }
    return problems;
  }
};

void onSignal(evutil_socket_t sig, short, void* arg) {
  auto* loop = static_cast<MainLoop*>(arg);
  if (sig == SIGHUP) {
    // logrotate moved the revocation log away: write to a new file at the same path.
    if (loop->revocation_log != nullptr) {
      Status reopened = loop->revocation_log->reopen();
      logEvent(reopened ? LogLevel::Info : LogLevel::Error, "revocation_log_reopened",
               {{"path", loop->revocation_log->path()},
                {"result", reopened ? "ok" : reopened.error().detail}});
    }
    logEvent(LogLevel::Info, "sighup", {{"config", "not reloaded: restart to apply a new config"}});
    return;
  }
  logEvent(LogLevel::Info, "shutting_down", {{"signal", sig == SIGTERM ? "TERM" : "INT"}});
  loop->stopAll();
}

void onFlushTimer(evutil_socket_t, short, void* log) {
  static_cast<RevocationLog*>(log)->flush();
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
  std::unique_ptr<RevocationLog> revocation_log;
  if (!config->revocation_log.empty()) {
    auto opened = RevocationLog::open(config->revocation_log);
    if (!opened) {
      logEvent(LogLevel::Error, "revocation_log_failed", {{"detail", opened.error().detail}});
      for (int f : fds) close(f);
      return 1;
    }
    revocation_log = std::move(*opened);
  }
  IssuerWatch watch(config);
  Metrics metrics;
  SharedState shared{cache,
                     index,
                     allow,
                     trust_store.get(),
                     &crl,
                     revocation_log.get(),
                     &watch,
                     inflight,
                     health,
                     SystemClock::instance(),
                     redis_status.get(),
                     &metrics};
  MainLoop loop;
  loop.base.reset(event_base_new());
  loop.revocation_log = revocation_log.get();

  auto admin_fd = listenTcp(config->listen_admin, false);
  if (!admin_fd) {
    logEvent(LogLevel::Error, "listen_failed", {{"listener", "admin"}, {"detail", admin_fd.error().detail}});
    for (int f : fds) close(f);
    return 1;
  }
  AdminView admin_view{config,          [&loop] { return loop.notReady(); },
                       redis_status.get(), cache,
                       crl_store,       health,
                       watch,           index,
                       metrics,         SystemClock::instance(),
                       SystemClock::instance().now()};
  addStatusCollectors(admin_view);
  EvhttpPtr admin(evhttp_new(loop.base.get()));
  evhttp_set_gencb(admin.get(), &onAdminRequest, &admin_view);
  evhttp_set_timeout(admin.get(), 10);
  evhttp_accept_socket_with_handle(admin.get(), *admin_fd);

  for (unsigned i = 0; i < n_workers; ++i) {
    loop.workers.push_back(std::make_unique<Worker>(static_cast<int>(i), config, shared, fds[i]));
  }
  // Watched intermediates are checked on worker 0's loop, through its own chain.
  Worker& first = *loop.workers.front();
  auto checker = std::make_unique<WatchChecker>(config, watch, allow, first.routedChain(), &crl,
                                                first.mailbox(), first.base(),
                                                SystemClock::instance());
  for (auto& w : loop.workers) w->start();
  crl.start();

  EventPtr sigterm(evsignal_new(loop.base.get(), SIGTERM, &onSignal, &loop));
  EventPtr sigint(evsignal_new(loop.base.get(), SIGINT, &onSignal, &loop));
  EventPtr sighup(evsignal_new(loop.base.get(), SIGHUP, &onSignal, &loop));
  for (event* ev : {sigterm.get(), sigint.get(), sighup.get()}) event_add(ev, nullptr);
  EventPtr flush_timer;
  if (revocation_log) {
    flush_timer.reset(event_new(loop.base.get(), -1, EV_PERSIST, &onFlushTimer, revocation_log.get()));
    timeval second{1, 0};
    event_add(flush_timer.get(), &second);
  }

  std::string ocsp_bound = boundAddress(fds[0]);
  std::string admin_bound = boundAddress(*admin_fd);
  logEvent(LogLevel::Info, "listening", {{"listener", "ocsp"}, {"address", ocsp_bound}});
  logEvent(LogLevel::Info, "listening", {{"listener", "admin"}, {"address", admin_bound}});
  logEvent(LogLevel::Info, "started",
           {{"version", OCSP_PROXY_VERSION},
            {"workers", std::to_string(n_workers)},
            {"upstreams", std::to_string(config->upstreams.size())},
            {"issuers", std::to_string(index.issuerCount())},
            {"watched", std::to_string(watch.size())},
            {"distrusted_keys", std::to_string(config->distrust.size())},
            {"revocation_log", config->revocation_log.empty() ? "off" : config->revocation_log},
            {"cache_bytes", std::to_string(config->cache.memory_bytes)}});
  for (const IssuerWatch::Expiry& e : watch.expiries(SystemClock::instance().now())) {
    if (e.expiring) {
      logEvent(LogLevel::Warn, "issuer_expiring",
               {{"name", e.name}, {"kind", e.kind}, {"not_after", rfc3339(e.not_after)}});
    }
  }

  event_base_dispatch(loop.base.get());

  for (auto& w : loop.workers) w->join();
  crl.stop();  // before the workers' mailboxes go: it may still post replies to them
  checker.reset();  // its timer lives on worker 0's base
  loop.workers.clear();
  logEvent(LogLevel::Info, "stopped");
  return 0;
}

}  // namespace ocsp
