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
      http_(evhttp_new(base_.get())),
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
                       shared.revocation_log, shared.watch, shared.metrics, shared.connections,
                       shared.rate}) {
  const conf::Limits& lim = config->limits;
  timeval tv{static_cast<time_t>(lim.client_timeout_ms / 1000),
             static_cast<suseconds_t>((lim.client_timeout_ms % 1000) * 1000)};
  evhttp_set_timeout_tv(http_.get(), &tv);
  // libevent refuses what is far over the limits itself (413 for a body, 400 for headers)
  // without reaching the front; up to twice the limits the front refuses (413, 431) and
  // counts it in ocsp_proxy_limit_rejections_total.
  evhttp_set_max_body_size(http_.get(), static_cast<ev_ssize_t>(2 * lim.max_request_bytes));
  evhttp_set_max_headers_size(http_.get(), static_cast<ev_ssize_t>(2 * lim.max_header_bytes));
  // Let every method reach the front so that it can answer 405 with Allow (libevent would
  // answer 501 for methods outside this set).
  evhttp_set_allowed_methods(http_.get(), EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                        EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                        EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
  evhttp_set_gencb(http_.get(), &HttpFront::onRequest, &front_);
  bound_ = evhttp_accept_socket_with_handle(http_.get(), listen_fd);
  if (bound_ == nullptr) {
    throw std::runtime_error("evhttp_accept_socket_with_handle failed");
  }
}

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
    front_.startDraining();
    if (bound_ != nullptr) evhttp_del_accept_socket(http_.get(), bound_);
    bound_ = nullptr;
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
  const bool idle = w->front_.inFlight() <= 0 && now - w->drain_started_ms_ >= 100;
  if (!idle && now < w->drain_deadline_ms_) return;
  if (!idle) {
    logEvent(LogLevel::Warn, "drain_timeout",
             {{"worker", std::to_string(w->id_)},
              {"in_flight", std::to_string(w->front_.inFlight())}});
  }
  event_del(w->drain_tick_.get());
  event_base_loopexit(w->base_.get(), nullptr);
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace ocsp
