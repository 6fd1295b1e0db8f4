#include "proxy/server.h"

#include <event2/buffer.h>
#include <event2/thread.h>
#include <signal.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "cache/memory_cache.h"
#include "core/clock.h"
#include "core/handles.h"
#include "core/log.h"
#include "http/accept_backoff.h"
#include "proxy/admin.h"
#include "proxy/component_options.h"
#include "proxy/listen_socket.h"
#include "http/client_limits.h"
#include "proxy/revocation_log.h"
#include "proxy/worker.h"
#include "upstream/allow_list.h"
#include "upstream/crl_service.h"
#include "pki/issuer_completion.h"
#include "upstream/issuer_index.h"
#include "upstream/issuer_watch.h"
#include "upstream/known_serials_feed.h"
#include "upstream/learned_issuer_store.h"
#include "upstream/learned_issuer_sync.h"
#include "upstream/snapshot_restore.h"

namespace ocsp {

namespace {

constexpr ev_ssize_t kAdminMaxHeaderBytes = 8 * 1024;
constexpr ev_ssize_t kAdminMaxBodyBytes = 4 * 1024;
// The cache snapshot's last write at shutdown gives up past this (the previous file stays):
// well inside systemd's default TimeoutStopSec (90 s) after the drain.
constexpr int64_t kSnapshotShutdownBudgetMs = 20'000;

// state_dir, if set and usable; else one warning and no state kept across restarts.
std::optional<StateDir> openStateDir(const std::string& path) {
  if (path.empty()) return std::nullopt;  // state_dir: none
  auto dir = StateDir::open(path);
  if (!dir) {
    logEvent(LogLevel::Warn, "state_dir_unavailable",
             {{"path", path},
              {"detail", dir.error().detail},
              {"action", "running without state kept across restarts"}});
    return std::nullopt;
  }
  return std::move(*dir);
}

// What lives as long as the process, across reloads: caches, circuit state, metrics, the
// revocation log, the client limits, the serials known to be issued and the listening sockets.
struct Persistent {
  explicit Persistent(const conf::Config& config)
      : cache(memoryCacheBytes(config)),
        crl_store(crlStoreBytes(config)),
        ca_issuers_store(caIssuersStoreBytes(config)),
        state_dir(openStateDir(config.state_dir)),
        learned_store(state_dir),
        snapshot(state_dir, snapshotStoreOptions(config),
                 SnapshotSources{&cache, &crl_store, &ca_issuers_store}, SystemClock::instance(),
                 &metrics) {}
  MemoryCache cache;
  CrlStore crl_store;
  CrlStore ca_issuers_store;
  FqdnHealth health;
  NonceEcho nonce_echo{SystemClock::instance()};
  Metrics metrics;
  ConnectionGate connections;
  RateLimiter rate;
  std::unique_ptr<RevocationLog> revocation_log;
  RecentRevocations recent_revocations;  // for the status page, with or without the log
  std::optional<StateDir> state_dir;  // restart-only
  LearnedIssuerStore learned_store;
  SnapshotStore snapshot;  // after the caches it reads: its thread stops first
  KnownSerials known_serials;  // a reload adds to it (upstream/known_serials_feed.h)
  // One SO_REUSEPORT socket per worker. Each generation's workers get duplicates, so that
  // the old workers can close theirs while draining without the socket (and the connections
  // waiting in its queue) going away.
  std::vector<int> listen_fds;

  ~Persistent() {
    for (int fd : listen_fds) close(fd);
  }
};

// Everything built from one config. A reload builds a new generation next to the running
// one, starts it, and drains the old one (its workers stop accepting, finish what is in
// flight, and exit).
struct Generation {
  std::shared_ptr<const conf::Config> config;
  IssuerIndex index;
  AllowList allow;
  IssuerWatch watch;
  InflightTable inflight;  // coalescing is per generation: old and new may each ask once
  DiscoveryMemo discovery_memo;
  X509StorePtr trust_store;
  std::unique_ptr<RedisStatus> redis_status;
  std::unique_ptr<CrlService> crl;
  std::unique_ptr<CrlService> ca_issuers;  // the CRL service of kind CaIssuers
  CrlBridgeState crl_bridge;  // which CRL holds each issuer's, for the bridge and /status
  std::vector<std::unique_ptr<Worker>> workers;
  std::unique_ptr<WatchChecker> checker;
  std::unique_ptr<LearnedIssuerSync> sync;  // with redis: only

  explicit Generation(std::shared_ptr<const conf::Config> c)
      : config(std::move(c)), index(*config), allow(*config), watch(issuerWatchOptions(*config)) {}

  ~Generation() {
    for (auto& w : workers) w->join();  // stop() or drain() was asked before
    // Before the workers' mailboxes go: they may still post to them.
    if (crl) crl->stop();
    if (ca_issuers) ca_issuers->stop();
    checker.reset();       // its timer lives on worker 0's base
    sync.reset();          // so does its Redis connection
    workers.clear();
  }

  void start() {
    for (auto& w : workers) w->start();
    crl->start();
    ca_issuers->start();
  }
  bool finished() const {
    for (const auto& w : workers) {
      if (w->running()) return false;
    }
    return true;
  }
};

// Builds (does not start) the generation for `config`. `previous` hands over the issuers
// learned through AIA and the watched intermediates' last state.
Result<std::unique_ptr<Generation>> buildGeneration(std::shared_ptr<const conf::Config> config,
                                                    Persistent& p, const Generation* previous) {
  auto gen = std::make_unique<Generation>(config);
  const int n_workers = static_cast<int>(p.listen_fds.size());
  if (auto loaded = loadTrustStore(config->forward.trust_store)) {
    gen->trust_store = std::move(*loaded);
  } else {
    // Not fatal: only AIA completion, discovery and root-signed CRLs need it.
    logEvent(LogLevel::Warn, "trust_store_unavailable", {{"detail", loaded.error().detail}});
  }
  // Learned issuers are verified again against this config (its upstreams, trust store and
  // distrust list) before any is used: carried over from the running generation, else read
  // from the state file.
  const std::vector<std::string> names = discoveryOptions(*config).upstream_names;
  const int64_t now = SystemClock::instance().now();
  conf::logPastEnforcement(config->distrust, now);
  if (previous != nullptr) {
    restoreLearned(gen->index, storedFrom(previous->index.learned()), names,
                   gen->trust_store.get(), now, std::nullopt);
    gen->watch.adopt(previous->watch);
  } else {
    restoreLearned(gen->index, p.learned_store.load(), names, gen->trust_store.get(), now,
                   LearnedFrom::State);
  }
  auto known = loadKnownSerials(*config, gen->index, gen->trust_store.get(),
                                config->crl_bridge ? config->crl_bridge->known_serials
                                                   : std::vector<std::string>{},
                                p.known_serials);
  if (!known) return known.error();
  Generation* g = gen.get();
  gen->index.onLearned([&p, g](const LearnedIssuer& learned) {
    p.learned_store.save(g->index);
    if (g->sync) g->sync->push();
    addUnderIssuer(p.known_serials, learned.route->issuer.get(), g->index.allIssuers(),
                   g->trust_store.get());
  });
  if (config->redis) {
    // One connection per worker, then one for the CRL service and one for the caIssuers
    // service (the last two slots).
    gen->redis_status = std::make_unique<RedisStatus>(n_workers + 2, redisTarget(*config->redis));
  }
  gen->crl = std::make_unique<CrlService>(crlServiceOptions(*config), gen->index,
                                          gen->trust_store.get(), p.crl_store,
                                          SystemClock::instance(), gen->redis_status.get(),
                                          n_workers, &p.metrics);
  CrlService::Options ca_issuers_options = caIssuersServiceOptions(*config);
  ca_issuers_options.known_serials = &p.known_serials;
  gen->ca_issuers = std::make_unique<CrlService>(
      std::move(ca_issuers_options), gen->index, gen->trust_store.get(), p.ca_issuers_store,
      SystemClock::instance(), gen->redis_status.get(), n_workers + 1, &p.metrics);
  SharedState shared{p.cache,
                     gen->index,
                     gen->discovery_memo,
                     gen->allow,
                     gen->trust_store.get(),
                     gen->crl.get(),
                     p.revocation_log.get(),
                     &gen->watch,
                     gen->inflight,
                     p.health,
                     p.nonce_echo,
                     SystemClock::instance(),
                     gen->redis_status.get(),
                     &p.metrics,
                     &p.connections,
                     &p.rate,
                     gen->ca_issuers.get(),
                     &p.known_serials,
                     &gen->crl_bridge,
                     &p.recent_revocations};
  const WorkerOptions worker_options = workerOptions(*config);
  for (int i = 0; i < n_workers; ++i) {
    int fd = fcntl(p.listen_fds[i], F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
      return makeError(ErrorCategory::Internal, "listen",
                       std::string("cannot duplicate the listening socket: ") + std::strerror(errno));
    }
    try {
      gen->workers.push_back(std::make_unique<Worker>(i, worker_options, shared, fd));
    } catch (const std::exception& e) {
      return makeError(ErrorCategory::Internal, "worker", e.what());
    }
  }
  // Watched intermediates are checked on worker 0's loop, through its own chain.
  Worker& first = *gen->workers.front();
  gen->checker = std::make_unique<WatchChecker>(gen->watch, gen->allow, first.routedChain(),
                                                gen->crl.get(), first.mailbox(), first.base(),
                                                SystemClock::instance());
  if (config->redis) {
    gen->sync = std::make_unique<LearnedIssuerSync>(*config->redis, gen->index, names,
                                                    gen->trust_store.get(), first.mailbox(),
                                                    first.base(), SystemClock::instance());
  }
  return gen;
}

struct MainLoop {
  EventBasePtr base;
  Persistent* persistent = nullptr;
  AdminView* view = nullptr;
  std::unique_ptr<Generation> current;
  std::vector<std::unique_ptr<Generation>> retiring;  // draining after a reload
  EventPtr reaper;  // joins finished generations; ends the loop once stopping and all done
  bool stopping = false;

  std::vector<std::string> notReady() const {
    std::vector<std::string> problems;
    if (stopping) problems.push_back("shutting down");
    for (size_t i = 0; i < current->workers.size(); ++i) {
      if (!current->workers[i]->running()) {
        problems.push_back("worker " + std::to_string(i) + " not running");
      }
    }
    return problems;
  }

  void showInAdmin(const Generation& g) {
    view->options = adminOptions(*g.config);
    view->redis_status = g.redis_status.get();
    view->watch = &g.watch;
    view->index = &g.index;
    view->crl_bridge = &g.crl_bridge;
  }

  void reload();
  void drainAll(bool at_once);
};

void MainLoop::reload() {
  const conf::Config& running = *current->config;
  auto fail = [this, &running](const std::string& detail) {
    logEvent(LogLevel::Error, "config_reload_failed",
             {{"path", running.path}, {"detail", detail}, {"action", "kept the running config"}});
    persistent->metrics.counter(Metric::ConfigReloads, {"failed"}).inc();
    view->last_reload_error = detail;
  };
  auto loaded = conf::loadConfig(running.path);
  if (!loaded) return fail(loaded.error().detail);
  auto fresh = std::make_shared<conf::Config>(**loaded);
  // A reload cannot move listeners, resize the pool or the caches, or move the revocation
  // log while clients are connected: the keys marked restart-only in the schema keep their
  // running values, and the operator is told to restart for them.
  std::vector<std::string> kept = conf::keepRestartOnlyValues(*fresh, running);
  for (const std::string& field : kept) {
    logEvent(LogLevel::Warn, "config_restart_required",
             {{"field", field}, {"detail", "changed in the file; the running value is kept "
                                           "until the proxy is restarted"}});
  }
  auto gen = buildGeneration(fresh, *persistent, current.get());
  if (!gen) return fail(gen.error().detail);
  // The new workers accept from now on; the old ones close their descriptors and finish.
  (*gen)->start();
  for (auto& w : current->workers) w->drain(running.limits.drain_timeout_ms);
  retiring.push_back(std::move(current));
  current = std::move(*gen);
  setLogLevel(current->config->logging.level);
  showInAdmin(*current);
  view->generation += 1;
  view->loaded_at = SystemClock::instance().now();
  view->last_reload_error.clear();
  persistent->metrics.counter(Metric::ConfigReloads, {"ok"}).inc();
  logEvent(LogLevel::Info, "config_reloaded",
           {{"path", current->config->path},
            {"generation", std::to_string(view->generation)},
            {"upstreams", std::to_string(current->config->upstreams.size())},
            {"issuers", std::to_string(current->index.issuerCount())},
            {"learned_issuers", std::to_string(current->index.learnedCount())},
            {"watched", std::to_string(current->watch.size())}});
}

void MainLoop::drainAll(bool at_once) {
  stopping = true;
  // With the workers' descriptors, the last ones of the listening sockets: new connections
  // are refused from now on instead of queueing for a process that is leaving.
  for (int fd : persistent->listen_fds) close(fd);
  persistent->listen_fds.clear();
  for (auto& w : current->workers) {
    at_once ? w->stop() : w->drain(current->config->limits.drain_timeout_ms);
  }
  if (!at_once) return;  // the retiring generations drain already
  for (auto& g : retiring) {
    for (auto& w : g->workers) w->stop();
  }
}

void onReap(evutil_socket_t, short, void* arg) {
  auto* loop = static_cast<MainLoop*>(arg);
  for (auto it = loop->retiring.begin(); it != loop->retiring.end();) {
    if (!(*it)->finished()) {
      ++it;
      continue;
    }
    int generation_workers = static_cast<int>((*it)->workers.size());
    it = loop->retiring.erase(it);  // joins and frees it
    logEvent(LogLevel::Debug, "generation_retired", {{"workers", std::to_string(generation_workers)}});
  }
  if (loop->stopping && loop->retiring.empty() && loop->current->finished()) {
    event_base_loopexit(loop->base.get(), nullptr);
  }
}

void onSignal(evutil_socket_t sig, short, void* arg) {
  auto* loop = static_cast<MainLoop*>(arg);
  if (sig == SIGHUP || sig == SIGUSR1) {
    // logrotate moved the revocation log away: write to a new file at the same path.
    if (RevocationLog* log = loop->persistent->revocation_log.get()) {
      Status reopened = log->reopen();
      logEvent(reopened ? LogLevel::Info : LogLevel::Error, "revocation_log_reopened",
               {{"path", log->path()}, {"result", reopened ? "ok" : reopened.error().detail}});
    }
    // SIGUSR1 only reopens (what logrotate sends); SIGHUP also reloads the config.
    if (sig == SIGHUP && !loop->stopping) loop->reload();
    return;
  }
  const char* name = sig == SIGTERM ? "TERM" : "INT";
  if (loop->stopping) {
    // A second signal: the operator does not want to wait for the drain.
    logEvent(LogLevel::Warn, "shutting_down_now", {{"signal", name}});
    loop->drainAll(true);
    return;
  }
  logEvent(LogLevel::Info, "shutting_down",
           {{"signal", name},
            {"drain_timeout_ms", std::to_string(loop->current->config->limits.drain_timeout_ms)}});
  loop->drainAll(false);
}

}  // namespace

int runServer(std::shared_ptr<const conf::Config> config) {
  evthread_use_pthreads();  // workers are stopped from the main thread
  signal(SIGPIPE, SIG_IGN);
  raiseOpenFileLimit(config->limits.max_connections);

  unsigned n_workers = config->workers != 0 ? config->workers : std::thread::hardware_concurrency();
  if (n_workers == 0) n_workers = 1;

  Persistent persistent(*config);
  // One SO_REUSEPORT socket per worker on the same address. With port 0 the first socket
  // picks the port and the others join it.
  conf::ListenAddress ocsp_addr = config->listen_ocsp;
  for (unsigned i = 0; i < n_workers; ++i) {
    auto fd = listenTcp(ocsp_addr, true);
    if (!fd) {
      logEvent(LogLevel::Error, "listen_failed", {{"listener", "ocsp"}, {"detail", fd.error().detail}});
      return 1;
    }
    if (i == 0) ocsp_addr.port = boundPort(*fd);
    persistent.listen_fds.push_back(*fd);
  }
  if (!config->revocation_log.empty()) {
    RevocationLog::Options options = revocationLogOptions(*config);
    options.dropped_buffer_full =
        &persistent.metrics.counter(Metric::RevocationLogDropped, {"buffer_full"});
    options.dropped_write_failed =
        &persistent.metrics.counter(Metric::RevocationLogDropped, {"write_failed"});
    auto opened = RevocationLog::open(config->revocation_log, options);
    if (!opened) {
      logEvent(LogLevel::Error, "revocation_log_failed", {{"detail", opened.error().detail}});
      return 1;
    }
    persistent.revocation_log = std::move(*opened);
  }
  auto admin_fd = listenTcp(config->listen_admin, false);
  if (!admin_fd) {
    logEvent(LogLevel::Error, "listen_failed", {{"listener", "admin"}, {"detail", admin_fd.error().detail}});
    return 1;
  }

  MainLoop loop;
  loop.base.reset(event_base_new());
  loop.persistent = &persistent;
  auto built = buildGeneration(config, persistent, nullptr);
  if (!built) {
    logEvent(LogLevel::Error, "start_failed", {{"detail", built.error().detail}});
    close(*admin_fd);
    return 1;
  }
  loop.current = std::move(*built);
  const int64_t started_at = SystemClock::instance().now();
  // What the last run held, validated again against this config, before any worker serves.
  SnapshotRestoreOptions restore = snapshotRestoreOptions(*config);
  restore.crl_rules = loop.current->crl->parseRules();
  restore.ca_issuers_rules = loop.current->ca_issuers->parseRules();
  loadSnapshot(persistent.snapshot, loop.current->index,
               {persistent.cache, persistent.crl_store, &persistent.ca_issuers_store}, restore,
               started_at, &persistent.metrics);
  AdminView admin_view{adminOptions(*config),
                       [&loop] { return loop.notReady(); },
                       nullptr,
                       persistent.cache,
                       persistent.crl_store,
                       persistent.health,
                       nullptr,
                       nullptr,
                       persistent.metrics,
                       SystemClock::instance(),
                       started_at,
                       1,
                       started_at,
                       "",
                       &persistent.ca_issuers_store,
                       &persistent.snapshot,
                       &persistent.known_serials,
                       nullptr,
                       &persistent.recent_revocations};
  loop.view = &admin_view;
  loop.showInAdmin(*loop.current);
  addStatusCollectors(admin_view);
  EvhttpPtr admin(evhttp_new(loop.base.get()));
  evhttp_set_gencb(admin.get(), &onAdminRequest, &admin_view);
  evhttp_set_timeout(admin.get(), 10);
  // Admin endpoints are GETs: a request head or body beyond these is refused (413, or the
  // connection closed) instead of being buffered in memory.
  evhttp_set_max_headers_size(admin.get(), kAdminMaxHeaderBytes);
  evhttp_set_max_body_size(admin.get(), kAdminMaxBodyBytes);
  // Our own listener, so that accept() failing for want of descriptors pauses it instead of
  // spinning the main loop (http/accept_backoff.h); evhttp frees it with itself.
  evconnlistener* admin_listener = evconnlistener_new(
      loop.base.get(), nullptr, nullptr, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1,
      *admin_fd);
  if (admin_listener == nullptr || evhttp_bind_listener(admin.get(), admin_listener) == nullptr) {
    logEvent(LogLevel::Error, "listen_failed", {{"listener", "admin"}, {"detail", "evhttp"}});
    return 1;
  }
  AcceptBackoff admin_backoff(loop.base.get(), admin_listener, "admin",
                              &persistent.metrics.counter(Metric::LimitRejections, {"open_files"}));

  loop.current->start();
  persistent.snapshot.start();

  EventPtr sigterm(evsignal_new(loop.base.get(), SIGTERM, &onSignal, &loop));
  EventPtr sigint(evsignal_new(loop.base.get(), SIGINT, &onSignal, &loop));
  EventPtr sighup(evsignal_new(loop.base.get(), SIGHUP, &onSignal, &loop));
  EventPtr sigusr1(evsignal_new(loop.base.get(), SIGUSR1, &onSignal, &loop));
  for (event* ev : {sigterm.get(), sigint.get(), sighup.get(), sigusr1.get()}) {
    event_add(ev, nullptr);
  }
  loop.reaper.reset(event_new(loop.base.get(), -1, EV_PERSIST, &onReap, &loop));
  timeval reap_every{0, 50'000};
  event_add(loop.reaper.get(), &reap_every);

  const Generation& gen = *loop.current;
  logEvent(LogLevel::Info, "listening",
           {{"listener", "ocsp"}, {"address", boundAddress(persistent.listen_fds[0])}});
  logEvent(LogLevel::Info, "listening", {{"listener", "admin"}, {"address", boundAddress(*admin_fd)}});
  logEvent(LogLevel::Info, "started",
           {{"version", OCSP_PROXY_VERSION},
            {"workers", std::to_string(n_workers)},
            {"upstreams", std::to_string(config->upstreams.size())},
            {"issuers", std::to_string(gen.index.issuerCount())},
            {"watched", std::to_string(gen.watch.size())},
            {"distrusted_keys", std::to_string(config->distrust.size())},
            {"revocation_log", config->revocation_log.empty() ? "off" : config->revocation_log},
            {"cache_bytes", std::to_string(config->cache.memory_bytes)}});
  for (const IssuerWatch::Expiry& e : gen.watch.expiries(SystemClock::instance().now())) {
    if (e.expiring) {
      logEvent(LogLevel::Warn, "issuer_expiring",
               {{"name", e.name}, {"kind", e.kind}, {"not_after", rfc3339(e.not_after)}});
    }
  }

  event_base_dispatch(loop.base.get());

  loop.retiring.clear();
  loop.current.reset();
  // The workers are gone: what they left in the caches is written once more.
  persistent.snapshot.writeFinal(kSnapshotShutdownBudgetMs);
  // Its writer thread writes what is pending; a stalled output cannot hold up the exit.
  if (persistent.revocation_log) persistent.revocation_log->close();
  logEvent(LogLevel::Info, "stopped");
  return 0;
}

}  // namespace ocsp
