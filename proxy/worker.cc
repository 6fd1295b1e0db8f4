#include "proxy/worker.h"

#include <stdexcept>

#include "core/clock.h"
#include "core/log.h"

namespace ocsp {

namespace {
EventBasePtr newBase() {
  EventBasePtr base(event_base_new());
  if (!base) throw std::runtime_error("event_base_new failed");
  return base;
}
HttpServerLimits serverLimits(const conf::Limits& lim, ConnectionGate* gate, Metrics* metrics) {
  HttpServerLimits s;
  s.max_header_bytes = lim.max_header_bytes;
  s.max_headers = static_cast<size_t>(lim.max_headers);
  s.max_request_bytes = lim.max_request_bytes;
  s.client_timeout_ms = lim.client_timeout_ms;
  s.request_timeout_ms = lim.request_timeout_ms;
  s.max_connections = lim.max_connections;
  s.gate = gate;
  if (metrics != nullptr) s.accept_paused = &metrics->counter(Metric::LimitRejections, {"open_files"});
  return s;
}
}  // namespace

FreshnessPolicy freshnessFrom(const conf::Config& config) {
  FreshnessPolicy p;
  p.max_age_s = config.cache.max_age_s;
  p.no_next_update_ttl_s = config.cache.no_next_update_ttl_s;
  p.refresh_fraction = config.cache.refresh_percent / 100.0;
  return p;
}

Worker::Worker(int id, std::shared_ptr<const conf::Config> config, const SharedState& shared,
               int listen_fd)
    : id_(id),
      config_(config),
      base_(newBase()),
      mailbox_(base_.get()),
      fetcher_(base_.get()),
      completer_(config, shared.allow, shared.trust_store, shared.index, fetcher_, shared.clock),
      upstream_(config, fetcher_, shared.health, shared.clock, freshnessFrom(*config),
                &completer_, shared.metrics),
      coalescer_(shared.inflight, mailbox_, &shared.cache, shared.clock, upstream_),
      redis_(config->redis ? std::make_unique<RedisSource>(
                                 base_.get(), *config->redis, freshnessFrom(*config),
                                 config->cache.clock_skew_s, shared.clock, coalescer_,
                                 *shared.redis_status, id)
                           : nullptr),
      memory_(shared.cache, shared.clock, redis_ ? static_cast<Source&>(*redis_) : coalescer_),
      policy_(shared.index, config, shared.watch, memory_),
      front_(FrontDeps{policy_, shared.clock, config, shared.allow, shared.crl, mailbox_,
                       shared.revocation_log, shared.metrics, shared.connections, shared.rate}),
      server_(base_.get(), listen_fd, serverLimits(config->limits, shared.connections, shared.metrics), front_) {}

Worker::~Worker() { join(); }

void Worker::start() {
  running_.store(true);
  thread_ = std::thread([this] { run(); });
}

void Worker::run() {
  logEvent(LogLevel::Debug, "worker_started", {{"worker", std::to_string(id_)}});
  event_base_dispatch(base_.get());
  running_.store(false);
}

void Worker::stop() { event_base_loopexit(base_.get(), nullptr); }

void Worker::drain(int64_t timeout_ms) {
  mailbox_.post([this, timeout_ms] {
    if (drain_tick_) return;  // already draining
    server_.startDraining();
    server_.stopAccepting();
    drain_started_ms_ = monotonicMs();
    drain_deadline_ms_ = drain_started_ms_ + timeout_ms;
    drain_tick_.reset(event_new(base_.get(), -1, EV_PERSIST, &Worker::onDrainTick, this));
    timeval tick{0, 20'000};
    event_add(drain_tick_.get(), &tick);
  });
}

void Worker::onDrainTick(evutil_socket_t, short, void* self) {
  auto* w = static_cast<Worker*>(self);
  const int64_t now = monotonicMs();
  // A short grace first: a keep-alive client may have sent a request just before it saw the
  // listener go; it is answered (with Connection: close) rather than cut off.
  const bool idle = w->server_.busy() <= 0 && now - w->drain_started_ms_ >= 100;
  if (!idle && now < w->drain_deadline_ms_) return;
  if (!idle) {
    logEvent(LogLevel::Warn, "drain_timeout",
             {{"worker", std::to_string(w->id_)},
              {"in_flight", std::to_string(w->server_.busy())}});
  }
  event_del(w->drain_tick_.get());
  event_base_loopexit(w->base_.get(), nullptr);
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace ocsp
