#include "cache/redis_connection.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <utility>

#include "cache/redis_reply.h"
#include "core/clock.h"
#include "core/log.h"

namespace ocsp {

namespace {

constexpr int64_t kFirstBackoffMs = 100;
constexpr int64_t kSentinelCheckMs = 5'000;
constexpr int kTimeoutsBeforeReconnect = 3;

void arm(event* ev, int64_t ms) {
  timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
  evtimer_add(ev, &tv);
}

bool sameAddress(const conf::RedisAddress& a, const conf::RedisAddress& b) {
  return a.host == b.host && a.port == b.port;
}

}  // namespace

RedisConnection::RedisConnection(event_base* base, const conf::Redis& cfg, RedisStatus& status,
                                 int worker_id)
    : base_(base),
      cfg_(cfg),
      status_(status),
      counters_(status.counters()),
      worker_id_(worker_id),
      worker_label_(std::to_string(worker_id)),
      commands_(base, &RedisConnection::onReply,
                [this](const redisAsyncContext* ac) { onCommandTimeout(ac); }),
      backoff_ms_(kFirstBackoffMs),
      jitter_(static_cast<unsigned>(worker_id) * 7919u + static_cast<unsigned>(monotonicMs())) {
  auto timer = [this](event_callback_fn fn) { return EventPtr(evtimer_new(base_, fn, this)); };
  retry_timer_ =
      timer([](evutil_socket_t, short, void* arg) { static_cast<RedisConnection*>(arg)->start(); });
  connect_timer_ = timer([](evutil_socket_t, short, void* arg) {
    auto* self = static_cast<RedisConnection*>(arg);
    self->goDown("connect timed out after " + std::to_string(self->cfg_.connect_timeout_ms) + "ms");
  });
  sentinel_timer_ = timer([](evutil_socket_t, short, void* arg) {
    auto* self = static_cast<RedisConnection*>(arg);
    self->sentinelFailed("no answer within " + std::to_string(self->cfg_.connect_timeout_ms) +
                         "ms");
  });
  check_timer_ = timer([](evutil_socket_t, short, void* arg) {
    auto* self = static_cast<RedisConnection*>(arg);
    if (self->phase_ == Phase::Up && self->sentinel_ctx_ == nullptr) self->startDiscovery(true);
  });
  reap_timer_ = timer(
      [](evutil_socket_t, short, void* arg) { static_cast<RedisConnection*>(arg)->reapRetired(); });
  status_.setDown(worker_id_);
  start();
}

RedisConnection::~RedisConnection() {
  destroying_ = true;
  commands_.clear();  // dropped without a call (header contract)
  // Freeing a context runs its callbacks (NULL replies, onDisconnect); destroying_ makes
  // them return at once.
  std::vector<redisAsyncContext*> contexts = std::move(retired_);
  if (ctx_ != nullptr) contexts.push_back(ctx_);
  if (sentinel_ctx_ != nullptr) contexts.push_back(sentinel_ctx_);
  ctx_ = nullptr;
  sentinel_ctx_ = nullptr;
  for (redisAsyncContext* ac : contexts) redisAsyncFree(ac);
  status_.setDown(worker_id_);
}

bool RedisConnection::up() const {
  return phase_ == Phase::Up && ctx_ != nullptr &&
         (ctx_->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING)) == 0;
}

bool RedisConnection::command(std::initializer_list<std::string_view> args, int64_t timeout_ms,
                              Callback done) {
  return up() && commands_.send(ctx_, args, timeout_ms, std::move(done));
}

bool RedisConnection::fireAndForget(std::initializer_list<std::string_view> args,
                                    Callback on_reply) {
  if (!up()) return false;
  if (!on_reply) return commands_.send(ctx_, args, 0, nullptr);
  return commands_.send(ctx_, args, 0,
              [this, ac = ctx_, on_reply = std::move(on_reply)](Outcome outcome,
                                                                 const redisReply* reply) {
                if (outcome != Outcome::Replied) return;
                if (reply->type == REDIS_REPLY_ERROR) {
                  onWriteError(ac, reply);
                  return;
                }
                on_reply(outcome, reply);
              });
}

// --- Replies --------------------------------------------------------------------------------

void RedisConnection::onReply(redisAsyncContext* ac, void* reply_ptr, void* privdata) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (self->destroying_) return;
  const auto* reply = static_cast<const redisReply*>(reply_ptr);
  if (reply != nullptr && ac == self->ctx_) self->consecutive_timeouts_ = 0;
  const uint64_t id = RedisCommandQueue::idOf(privdata);
  if (id == 0) {
    if (reply != nullptr && reply->type == REDIS_REPLY_ERROR) self->onWriteError(ac, reply);
    return;
  }
  Callback done = self->commands_.take(id);
  if (!done) return;  // timed out or failed with its connection
  done(reply != nullptr ? Outcome::Replied : Outcome::Lost, reply);
}

void RedisConnection::onCommandTimeout(const redisAsyncContext* ac) {
  ++counters_.timeouts;
  // A server that answers nothing would cost every lookup the whole timeout: after a few
  // in a row, treat it as down (reconnecting checks it within connect_timeout).
  if (ac == ctx_ && ++consecutive_timeouts_ >= kTimeoutsBeforeReconnect) {
    goDown(std::to_string(kTimeoutsBeforeReconnect) + " commands in a row timed out");
  }
}

void RedisConnection::onWriteError(const redisAsyncContext* ac, const redisReply* reply) {
  ++counters_.write_errors;
  const std::string_view code = errorCode(reply);
  if ((code == "READONLY" || code == "MASTERDOWN") && ac == ctx_ && !cfg_.sentinels.empty() &&
      phase_ == Phase::Up && sentinel_ctx_ == nullptr) {
    // The server stopped being the master: ask now rather than at the next periodic check.
    evtimer_del(check_timer_.get());
    startDiscovery(true);
  }
  if (!write_error_logged_) {
    write_error_logged_ = true;
    logEvent(LogLevel::Warn, "redis_write_failed",
             {{"worker", worker_label_},
              {"address", server_address_},
              {"reason", std::string(replyText(reply))}});
  }
}

// --- hiredis connection callbacks -----------------------------------------------------------

// Only failures matter here: the handshake replies decide when the connection is up.
void RedisConnection::onConnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (self->destroying_ || status == REDIS_OK) return;
  self->forget(ac, ac->c.errstr[0] != '\0' ? ac->c.errstr : "connect failed");
}

void RedisConnection::onDisconnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (self->destroying_) return;
  self->forget(ac,
               status == REDIS_OK || ac->c.errstr[0] == '\0' ? "connection closed" : ac->c.errstr);
}

// hiredis frees `ac` when this callback returns: drop every reference to it, and react if it
// was in use.
void RedisConnection::forget(const redisAsyncContext* ac, const std::string& reason) {
  if (ac == ctx_) {
    ctx_ = nullptr;
    commands_.failAll(ac);
    goDown(reason);
  } else if (ac == sentinel_ctx_) {
    sentinel_ctx_ = nullptr;
    commands_.failAll(ac);
    sentinelFailed(reason);
  } else {
    std::erase(retired_, ac);
  }
}

// --- Connection -----------------------------------------------------------------------------

void RedisConnection::start() {
  if (cfg_.sentinels.empty()) {
    connectServer();
  } else {
    startDiscovery(false);
  }
}

// A context attached to the loop, or null with the reason. An empty `host` means the
// configured unix socket.
redisAsyncContext* RedisConnection::open(const std::string& host, uint16_t port, std::string* why) {
  redisAsyncContext* ac = host.empty() ? redisAsyncConnectUnix(cfg_.unix_socket.c_str())
                                       : redisAsyncConnect(host.c_str(), port);
  if (ac == nullptr) {
    *why = "out of memory";
    return nullptr;
  }
  if (ac->err != 0) {  // e.g. refused at once; nothing is attached yet, so free it here
    *why = ac->errstr;
    redisAsyncFree(ac);
    return nullptr;
  }
  if (!host.empty()) redisEnableKeepAlive(&ac->c);
  ac->data = this;
  redisLibeventAttach(ac, base_);
  redisAsyncSetConnectCallback(ac, &RedisConnection::onConnect);
  redisAsyncSetDisconnectCallback(ac, &RedisConnection::onDisconnect);
  return ac;
}

void RedisConnection::connectServer() {
  std::string host;
  uint16_t port = 0;
  if (!cfg_.unix_socket.empty()) {
    server_address_ = "unix:" + cfg_.unix_socket;
  } else {
    const conf::RedisAddress& a = cfg_.address ? *cfg_.address : *master_;
    host = a.host;
    port = a.port;
    server_address_ = hostPort(a);
  }
  std::string why;
  redisAsyncContext* ac = open(host, port, &why);
  if (ac == nullptr) {
    goDown(why);
    return;
  }
  ctx_ = ac;
  phase_ = Phase::Connecting;
  arm(connect_timer_.get(), cfg_.connect_timeout_ms);

  // Pipelined: hiredis sends them as soon as the connection is established.
  auto step = [this, ac](const char* name, bool last) -> Callback {
    return [this, ac, name, last](Outcome outcome, const redisReply* reply) {
      // Lost: onConnect/onDisconnect or the connect timer report the failure.
      if (outcome == Outcome::Replied && ac == ctx_) onHandshakeReply(name, last, reply);
    };
  };
  const bool role = !cfg_.sentinels.empty();
  const std::string db = std::to_string(cfg_.db);
  bool sent = cfg_.password.empty() ||
              commands_.send(ac, {"AUTH", cfg_.password}, 0, step("AUTH", false));
  sent = sent && commands_.send(ac, {"SELECT", db}, 0, step("SELECT", !role));
  if (role) sent = sent && commands_.send(ac, {"ROLE"}, 0, step("ROLE", true));
  if (!sent) goDown("cannot queue the handshake");
}

void RedisConnection::onHandshakeReply(const char* step, bool last, const redisReply* reply) {
  if (reply->type == REDIS_REPLY_ERROR) {
    goDown(std::string(step) + ": " + std::string(replyText(reply)));
    return;
  }
  if (std::string_view(step) == "ROLE") {
    const std::string_view role = roleOf(reply);
    if (role != "master") {
      goDown("ROLE: server is " + (role.empty() ? std::string("not a master") : std::string(role)));
      return;
    }
  }
  if (last) becomeUp();
}

void RedisConnection::becomeUp() {
  evtimer_del(connect_timer_.get());
  phase_ = Phase::Up;
  backoff_ms_ = kFirstBackoffMs;
  consecutive_timeouts_ = 0;
  write_error_logged_ = false;
  report(true, "");
  if (!cfg_.sentinels.empty()) arm(check_timer_.get(), kSentinelCheckMs);
}

// Abandons the connection and any sentinel question, fails the commands still waiting on
// them, and schedules the next attempt.
void RedisConnection::goDown(const std::string& reason, bool retry_now) {
  evtimer_del(connect_timer_.get());
  evtimer_del(check_timer_.get());
  evtimer_del(sentinel_timer_.get());
  redisAsyncContext* server = std::exchange(ctx_, nullptr);
  redisAsyncContext* sentinel = std::exchange(sentinel_ctx_, nullptr);
  if (server != nullptr) retire(server);
  if (sentinel != nullptr) retire(sentinel);
  checking_ = false;
  const bool was_waiting = phase_ == Phase::Waiting;
  phase_ = Phase::Waiting;
  report(false, reason);
  if (server != nullptr) commands_.failAll(server);
  if (sentinel != nullptr) commands_.failAll(sentinel);
  if (retry_now) {  // the master is known (masterFound): no need to ask again
    evtimer_del(retry_timer_.get());
    connectServer();
    return;
  }
  if (was_waiting && evtimer_pending(retry_timer_.get(), nullptr)) return;
  // ±20% so that the workers of many instances do not retry in step.
  std::uniform_int_distribution<int64_t> spread(backoff_ms_ * 8 / 10, backoff_ms_ * 12 / 10);
  arm(retry_timer_.get(), spread(jitter_));
  backoff_ms_ = std::min(backoff_ms_ * 2, cfg_.reconnect_max_backoff_ms);
}

void RedisConnection::report(bool up, const std::string& reason) {
  const Reported now = up ? Reported::Up : Reported::Down;
  const std::string address = server_address_.empty() ? redisTarget(cfg_) : server_address_;
  if (up) {
    status_.setUp(worker_id_, address);
  } else {
    status_.setDown(worker_id_);
  }
  if (now == reported_ && (!up || address == reported_address_)) return;
  if (reported_ == Reported::Up && !up) ++counters_.disconnects;
  reported_ = now;
  reported_address_ = address;
  if (up) {
    logEvent(LogLevel::Info, "redis_state",
             {{"state", "up"}, {"worker", worker_label_}, {"address", address}});
  } else {
    logEvent(
        LogLevel::Warn, "redis_state",
        {{"state", "down"}, {"worker", worker_label_}, {"address", address}, {"reason", reason}});
  }
}

// `ac` may be the context whose callback is running now: it is freed from the event loop.
void RedisConnection::retire(redisAsyncContext* ac) {
  retired_.push_back(ac);
  arm(reap_timer_.get(), 0);
}

void RedisConnection::reapRetired() {
  // Freeing runs callbacks that may erase from retired_ (forget): free a moved-out list.
  std::vector<redisAsyncContext*> contexts = std::move(retired_);
  retired_.clear();
  for (redisAsyncContext* ac : contexts) redisAsyncFree(ac);
}

// --- Sentinels ------------------------------------------------------------------------------

void RedisConnection::startDiscovery(bool check) {
  checking_ = check;
  if (!check) phase_ = Phase::Discovering;
  sentinel_index_ = 0;
  sentinel_errors_.clear();
  askSentinel();
}

void RedisConnection::askSentinel() {
  for (; sentinel_index_ < cfg_.sentinels.size(); ++sentinel_index_) {
    const conf::RedisAddress& s = cfg_.sentinels[sentinel_index_];
    std::string why;
    redisAsyncContext* ac = open(s.host, s.port, &why);
    if (ac == nullptr) {
      sentinel_errors_ += (sentinel_errors_.empty() ? "" : "; ") + hostPort(s) + ": " + why;
      continue;
    }
    sentinel_ctx_ = ac;
    arm(sentinel_timer_.get(), cfg_.connect_timeout_ms);
    auto answered = [this, ac](Outcome outcome, const redisReply* reply) {
      // Lost: onConnect/onDisconnect or the sentinel timer report the failure.
      if (outcome == Outcome::Replied && ac == sentinel_ctx_) onSentinelReply(reply);
    };
    if (!commands_.send(ac, {"SENTINEL", "get-master-addr-by-name", cfg_.master_name}, 0,
                        answered)) {
      sentinelFailed("cannot queue the question");
    }
    return;
  }
  discoveryFailed();
}

void RedisConnection::sentinelFailed(const std::string& reason) {
  evtimer_del(sentinel_timer_.get());
  if (redisAsyncContext* ac = std::exchange(sentinel_ctx_, nullptr); ac != nullptr) {
    retire(ac);
    commands_.failAll(ac);
  }
  if (sentinel_index_ < cfg_.sentinels.size()) {
    sentinel_errors_ += (sentinel_errors_.empty() ? "" : "; ") +
                        hostPort(cfg_.sentinels[sentinel_index_]) + ": " + reason;
  }
  ++sentinel_index_;
  askSentinel();
}

void RedisConnection::onSentinelReply(const redisReply* reply) {
  conf::RedisAddress master;
  std::string why;
  if (!masterOf(reply, cfg_.master_name, &master, &why)) {
    sentinelFailed(why);
    return;
  }
  evtimer_del(sentinel_timer_.get());
  retire(std::exchange(sentinel_ctx_, nullptr));
  masterFound(master);
}

void RedisConnection::masterFound(const conf::RedisAddress& master) {
  if (!sentinels_reachable_) {
    sentinels_reachable_ = true;
    logEvent(LogLevel::Info, "redis_sentinels",
             {{"state", "reachable"}, {"worker", worker_label_}});
  }
  const bool moved = master_ && !sameAddress(*master_, master);
  if (moved) {
    ++counters_.master_changes;
    logEvent(LogLevel::Warn, "redis_master_changed",
             {{"worker", worker_label_},
              {"master_name", cfg_.master_name},
              {"from", hostPort(*master_)},
              {"to", hostPort(master)}});
  }
  master_ = master;
  if (!checking_) {
    connectServer();
    return;
  }
  checking_ = false;
  if (moved) {
    goDown("master moved to " + hostPort(master), /*retry_now=*/true);
  } else if (phase_ == Phase::Up) {
    arm(check_timer_.get(), kSentinelCheckMs);
  }
}

void RedisConnection::discoveryFailed() {
  const std::string reason =
      "no sentinel answered for " + cfg_.master_name + " (" + sentinel_errors_ + ")";
  if (!checking_) {
    goDown(reason);
    return;
  }
  // A check while up: keep the connection, and say once that the sentinels are gone.
  checking_ = false;
  if (sentinels_reachable_) {
    sentinels_reachable_ = false;
    logEvent(LogLevel::Warn, "redis_sentinels",
             {{"state", "unreachable"}, {"worker", worker_label_}, {"reason", reason}});
  }
  if (phase_ == Phase::Up) arm(check_timer_.get(), kSentinelCheckMs);
}

}  // namespace ocsp
