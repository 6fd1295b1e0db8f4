#include "proxy/worker.h"

#include <stdexcept>

#include "core/clock.h"
#include "core/log.h"

namespace ocsp {

namespace {
HttpServerLimits serverLimitsOf(const WorkerOptions& options, const SharedState& shared) {
  HttpServerLimits s = options.server;
  s.gate = shared.connections;
  if (shared.metrics != nullptr) {
    s.accept_paused = &shared.metrics->counter(Metric::LimitRejections, {"open_files"});
  }
  return s;
}
}  // namespace

Worker::Worker(int id, const WorkerOptions& options, const SharedState& shared, int listen_fd)
    : id_(id),
      base_(newEventBase()),
      mailbox_(base_.get()),
      fetcher_(base_.get()),
      completer_(options.completer, shared.allow, shared.trust_store, shared.index, fetcher_,
                 shared.clock),
      upstream_(options.upstream, fetcher_, shared.health, shared.clock, &completer_,
                shared.metrics, &shared.nonce_echo),
      bridge_(options.crl_bridge,
              CrlBridgeSource::Deps{shared.crl, mailbox_, shared.known_serials,
                                    shared.crl_bridge != nullptr ? *shared.crl_bridge
                                                                 : own_bridge_state_,
                                    &shared.cache, shared.clock, shared.metrics},
              upstream_),
      discovery_(options.discovery, shared.index, shared.discovery_memo, shared.clock, bridge_,
                 shared.metrics),
      coalescer_(shared.inflight, mailbox_, &shared.cache, shared.clock, discovery_),
      redis_(options.redis ? std::make_unique<RedisSource>(base_.get(), *options.redis,
                                                           shared.clock, coalescer_,
                                                           *shared.redis_status, id)
                           : nullptr),
      memory_(shared.cache, shared.clock, redis_ ? static_cast<Source&>(*redis_) : coalescer_),
      policy_(shared.index, options.policy, shared.watch, memory_, &shared.nonce_echo,
              shared.clock, shared.metrics),
      front_(FrontDeps{policy_, shared.clock, options.front, shared.allow, shared.crl, mailbox_,
                       shared.revocation_log, shared.metrics, shared.connections, shared.rate,
                       shared.ca_issuers, shared.recent_revocations}),
      server_(base_.get(), listen_fd, serverLimitsOf(options, shared), front_) {}

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
