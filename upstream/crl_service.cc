#include "upstream/crl_service.h"

#include <hiredis/hiredis.h>

#include <algorithm>

#include "cache/redis_connection.h"
#include "core/log.h"
#include "upstream/curl_fetcher.h"

namespace ocsp {

namespace {
constexpr int64_t kRetryAfterFailureS = 30;          // the first retry of a failing URL
constexpr int64_t kMaxRetryAfterFailureS = 600;      // the backoff doubles up to this
constexpr int64_t kCrlFetchTimeoutFloorMs = 30'000;  // a 64 MiB download needs time

Error crlError(const char* code, std::string detail) {
  return makeError(ErrorCategory::UpstreamUnavailable, code, std::move(detail));
}
}  // namespace

// What lives on the service's thread. Built there (curl and hiredis handles belong to the
// thread that runs their event_base) and destroyed there when the loop ends.
class CrlService::Loop {
 public:
  Loop() : base_(event_base_new()), mailbox(base_.get()) {
    if (!base_) throw std::runtime_error("event_base_new failed");
  }
  event_base* base() const { return base_.get(); }

 private:
  EventBasePtr base_;

 public:
  Mailbox mailbox;
  std::unique_ptr<CurlFetcher> fetcher;
  std::unique_ptr<RedisConnection> redis;
  EventPtr tick;
};

CrlService::CrlService(std::shared_ptr<const conf::Config> config, const IssuerIndex& issuers,
                       X509_STORE* trust_store, CrlStore& store, const Clock& clock,
                       RedisStatus* redis_status, int redis_slot)
    : config_(std::move(config)),
      issuers_(issuers),
      trust_store_(trust_store),
      store_(store),
      clock_(clock),
      redis_status_(redis_status),
      redis_slot_(redis_slot),
      loop_(std::make_unique<Loop>()) {}

CrlService::~CrlService() { stop(); }

// Shared with the other instances; the value is the CRL as served.
std::string CrlService::redisKeyOf(const std::string& key) const {
  return config_->redis->key_prefix + "crl:v1:" + toHex(sha256(key));
}

void CrlService::start() {
  parser_ = std::make_unique<WorkQueue>();
  for (const std::string& text : config_->crl.urls) {
    auto url = parseHttpUrl(text);
    if (!url) continue;  // the config loader rejected these already
    std::string key = url->text();
    Tracked& t = tracked_[key];
    t.url = *url;
    t.warm = true;
  }
  thread_ = std::thread([this] {
    loop_->fetcher = std::make_unique<CurlFetcher>(loop_->base());
    if (config_->redis && redis_status_ != nullptr) {
      loop_->redis = std::make_unique<RedisConnection>(loop_->base(), *config_->redis,
                                                       *redis_status_, redis_slot_);
    }
    loop_->tick.reset(event_new(
        loop_->base(), -1, EV_PERSIST,
        [](evutil_socket_t, short, void* self) { static_cast<CrlService*>(self)->onTick(); },
        this));
    timeval second{1, 0};
    event_add(loop_->tick.get(), &second);
    // Warm-up: the crl.urls are fetched at once (through Redis first, like any miss), unless
    // the store holds them fresh already (a reload: the 1 s tick refreshes them in time).
    loop_->mailbox.post([this] {
      for (auto& [key, t] : tracked_) {
        if (auto held = store_.get(key, clock_.now()); held && clock_.now() < held->refresh_at) {
          continue;
        }
        bool leader = false;
        {
          std::lock_guard<std::mutex> lock(mu_);
          leader = inflight_.try_emplace(key).second;
        }
        if (leader) schedule(key, t.url, false);
      }
    });
    event_base_dispatch(loop_->base());
    loop_->tick.reset();
    loop_->redis.reset();
    loop_->fetcher.reset();
  });
}

void CrlService::stop() {
  if (!thread_.joinable()) return;
  event_base_loopexit(loop_->base(), nullptr);
  thread_.join();
  parser_.reset();  // joins the parser thread; a parse in progress finishes first
}

void CrlService::lookup(const HttpUrl& url, const std::string& client, Mailbox& reply_to,
                        CrlReply done) {
  std::string key = url.text();
  const int64_t now = clock_.now();
  if (auto hit = store_.get(key, now)) {
    if (now >= hit->refresh_at) {
      std::lock_guard<std::mutex> lock(mu_);
      asked_.try_emplace(key, url);
    }
    done(std::move(hit));
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, leader] = inflight_.try_emplace(key);
    it->second.push_back(Waiter{&reply_to, std::move(done)});
    asked_.try_emplace(key, url);
    if (!leader) return;
  }
  logEvent(LogLevel::Debug, "crl_miss", {{"url", key}, {"client", client}});
  loop_->mailbox.post([this, key, url] { schedule(key, url, false); });
}

// Loop thread.
void CrlService::schedule(const std::string& key, const HttpUrl& url, bool refresh) {
  if (queued_.empty()) {
    const size_t max_bytes = config_->crl.max_bytes;
    if (running_.size() < static_cast<size_t>(config_->crl.max_concurrent_fetches) &&
        reserved_bytes_ + max_bytes <= config_->crl.max_inflight_bytes) {
      reserve(key, max_bytes);
      begin(key, url, refresh);
      return;
    }
    logEvent(LogLevel::Info, "crl_fetch_queued",
             {{"url", key},
              {"running", std::to_string(running_.size())},
              {"reserved_bytes", std::to_string(reserved_bytes_)}});
  }
  queued_.push_back(Queued{key, url, refresh});
}

// Loop thread: starts the queued fetches the bounds now allow, oldest first.
void CrlService::startQueued() {
  while (!queued_.empty() &&
         running_.size() < static_cast<size_t>(config_->crl.max_concurrent_fetches) &&
         reserved_bytes_ + config_->crl.max_bytes <= config_->crl.max_inflight_bytes) {
    Queued next = std::move(queued_.front());
    queued_.pop_front();
    reserve(next.key, config_->crl.max_bytes);
    begin(next.key, next.url, next.refresh);
  }
}

void CrlService::reserve(const std::string& key, size_t bytes) {
  size_t& held = running_[key];
  reserved_bytes_ = reserved_bytes_ - held + bytes;
  held = bytes;
}

// Loop thread. The caller put `key` in inflight_.
void CrlService::begin(const std::string& key, const HttpUrl& url, bool refresh) {
  RedisConnection* redis = loop_->redis.get();
  if (refresh || redis == nullptr || !redis->up()) {
    fetchUpstream(key, url);
    return;
  }
  std::string redis_key = redisKeyOf(key);
  const bool sent = redis->command(
      {"GET", redis_key}, config_->redis->command_timeout_ms * 4,
      [this, key, url](RedisConnection::Outcome outcome, const redisReply* reply) {
        if (outcome == RedisConnection::Outcome::Replied && reply->type == REDIS_REPLY_STRING) {
          parse(key, std::string(reply->str, reply->len), true);
        } else {
          fetchUpstream(key, url);
        }
      });
  if (!sent) fetchUpstream(key, url);
}

void CrlService::fetchUpstream(const std::string& key, const HttpUrl& url) {
  FetchRequest req;
  req.url = key;
  req.timeout_ms = std::max(config_->limits.upstream_timeout_ms, kCrlFetchTimeoutFloorMs);
  req.max_response_bytes = config_->crl.max_bytes;
  pinAddress(req, config_->resolve, url.host, url.port);
  loop_->fetcher->fetch(std::move(req), [this, key](FetchResult result) {
    std::string problem;
    const char* code = "fetch_failed";
    if (result.too_large) {
      code = "too_large";
      problem = "CRL larger than crl.max_bytes (" + std::to_string(config_->crl.max_bytes) +
                " bytes)";
    } else if (!result.ok()) {
      problem = result.error;
    } else if (result.http_status != 200) {
      code = "upstream_status";
      problem = "HTTP status " + std::to_string(result.http_status);
    }
    if (!problem.empty()) {
      logEvent(failureLevel(key),
               code == std::string("too_large") ? "crl_invalid" : "crl_fetch_failed",
               {{"url", key},
                {"reason", code},
                {"detail", problem},
                {"elapsed_ms", std::to_string(result.elapsed_ms)}});
      finish(key, crlError(code, problem));
      return;
    }
    // Downloaded: the CRL's own size stays reserved until its parse is done.
    reserve(key, result.body.size());
    startQueued();
    parse(key, std::move(result.body), false);
  });
}

// Hands the bytes to the parser thread; the result comes back to the loop through its mailbox.
void CrlService::parse(const std::string& key, std::string bytes, bool from_redis) {
  parser_->post([this, key, bytes = std::move(bytes), from_redis]() mutable {
    std::vector<SharedX509> candidates = issuers_.allIssuers();
    for (const conf::IssuerCert& extra : config_->crl.issuers) candidates.push_back(extra.cert);
    CrlCheckInput in;
    in.bytes = bytes;
    in.candidates = &candidates;
    in.trust_store = trust_store_;
    in.now = clock_.now();
    in.clock_skew_s = config_->cache.clock_skew_s;
    int64_t started = monotonicMs();
    auto parsed = parseAndValidateCrl(in);
    int64_t took = monotonicMs() - started;
    loop_->mailbox.post([this, key, bytes = std::move(bytes), parsed = std::move(parsed),
                         from_redis, took]() mutable {
      if (parsed) {
        logEvent(LogLevel::Debug, "crl_parsed",
                 {{"url", key}, {"entries", std::to_string(parsed->revoked.size())},
                  {"parse_ms", std::to_string(took)}});
      }
      onParsed(key, std::move(bytes), std::move(parsed), from_redis);
    });
  });
}

void CrlService::onParsed(const std::string& key, std::string bytes, Result<ParsedCrl> parsed,
                          bool from_redis) {
  std::string redis_key;
  if (config_->redis) redis_key = redisKeyOf(key);
  if (parsed && !parsed->signature_checked &&
      config_->crl.unknown_issuer == conf::UnknownIssuerPolicy::Refuse) {
    parsed = makeError(ErrorCategory::ValidationFailed, "unknown_issuer",
                       "no configured or trusted certificate signs CRLs for " + parsed->issuer);
  }
  if (!parsed) {
    const Error& err = parsed.error();
    if (from_redis) {
      // A shared copy we cannot use (expired by our clock, tampered): drop it, ask the CA.
      if (loop_->redis && err.reason != Reason::Expired) loop_->redis->fireAndForget({"DEL", redis_key});
      auto url = parseHttpUrl(key);
      if (url) {
        fetchUpstream(key, *url);
        return;
      }
    }
    logEvent(failureLevel(key), "crl_invalid",
             {{"url", key}, {"reason", err.code}, {"detail", err.detail}});
    finish(key, err);
    return;
  }
  auto entry = std::make_shared<CrlEntry>();
  entry->url = key;
  entry->fetched_at = clock_.now();
  entry->crl = std::move(*parsed);
  entry->bytes = std::move(bytes);  // before finishCrlEntry: the ETag is the bytes' hash
  finishCrlEntry(*entry, config_->cache.no_next_update_ttl_s,
                 config_->cache.refresh_percent / 100.0);
  if (!from_redis && loop_->redis) {
    int64_t ttl_ms = (entry->hard_expiry - clock_.now()) * 1000;
    if (ttl_ms > 0) {
      loop_->redis->fireAndForget({"SET", redis_key, entry->bytes, "PX", std::to_string(ttl_ms)});
    }
  }
  logEvent(LogLevel::Info, "crl_fetched",
           {{"url", key},
            {"source", from_redis ? "redis" : "upstream"},
            {"bytes", std::to_string(entry->bytes.size())},
            {"entries", std::to_string(entry->crl.revoked.size())},
            {"issuer", entry->crl.issuer},
            {"signature_checked", entry->crl.signature_checked ? "true" : "false"},
            {"this_update", rfc3339(entry->crl.this_update)},
            {"next_update", entry->crl.next_update ? rfc3339(entry->crl.next_update) : "none"}});
  std::shared_ptr<const CrlEntry> shared = entry;
  auto previous = store_.get(key, entry->fetched_at);
  store_.put(shared);
  finish(key, shared);
  if (previous && entry->crl.this_update <= previous->crl.this_update) {
    // A refresh found no newer CRL: the CA publishes on its own schedule. Ask again later,
    // more often as nextUpdate nears, but not every second.
    auto t = tracked_.find(key);
    if (t != tracked_.end()) {
      int64_t remaining = entry->hard_expiry - entry->fetched_at;
      t->second.retry_at = entry->fetched_at + std::clamp<int64_t>(remaining / 8,
                                                                   kRetryAfterFailureS, 3600);
    }
  }
}

// Loop thread: the lookup of `key` is over; every waiter gets `result` on its own thread.
void CrlService::finish(const std::string& key,
                        const Result<std::shared_ptr<const CrlEntry>>& result) {
  std::vector<Waiter> waiters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = inflight_.find(key);
    if (it != inflight_.end()) {
      waiters = std::move(it->second);
      inflight_.erase(it);
    }
  }
  if (auto slot = running_.find(key); slot != running_.end()) {
    reserved_bytes_ -= slot->second;
    running_.erase(slot);
  }
  noteOutcome(key, result.ok());
  for (Waiter& w : waiters) {
    w.mailbox->post([done = std::move(w.done), result] { done(result); });
  }
  startQueued();
}

// Loop thread: a URL's first failure is a warning; while it keeps failing, the same failure
// again is debug detail (clients can make a failing URL be fetched again and again).
LogLevel CrlService::failureLevel(const std::string& key) const {
  auto t = tracked_.find(key);
  return t != tracked_.end() && t->second.failures > 0 ? LogLevel::Debug : LogLevel::Warn;
}

// Loop thread: the backoff of a URL whose fetch failed; remembered (tracked) even for a URL
// only a client asked for, so that the timer does not fetch it again at its next tick.
void CrlService::noteOutcome(const std::string& key, bool ok) {
  auto t = tracked_.find(key);
  if (ok) {
    if (t == tracked_.end()) return;
    if (t->second.failures > 0) {
      logEvent(LogLevel::Info, "crl_recovered",
               {{"url", key}, {"failures", std::to_string(t->second.failures)}});
    }
    t->second.failures = 0;
    t->second.retry_at = 0;
    return;
  }
  if (t == tracked_.end()) {
    auto url = parseHttpUrl(key);
    if (!url) return;
    t = tracked_.try_emplace(key).first;
    t->second.url = *url;
  }
  Tracked& tr = t->second;
  ++tr.failures;
  const int64_t delay =
      std::min(kRetryAfterFailureS << std::min(tr.failures - 1, 10), kMaxRetryAfterFailureS);
  tr.retry_at = clock_.now() + delay;
  logEvent(tr.failures == 1 ? LogLevel::Warn : LogLevel::Debug, "crl_backoff",
           {{"url", key},
            {"failures", std::to_string(tr.failures)},
            {"retry_in_s", std::to_string(delay)}});
}

// Loop thread, once a second: refresh what is due (docs/ARCHITECTURE.md §5: background
// work on timers).
void CrlService::onTick() {
  std::unordered_map<std::string, HttpUrl> asked;
  {
    std::lock_guard<std::mutex> lock(mu_);
    asked.swap(asked_);
  }
  for (auto& [key, url] : asked) {
    auto [it, inserted] = tracked_.try_emplace(key);
    if (inserted) it->second.url = url;
  }
  const int64_t now = clock_.now();
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    const std::string& key = it->first;
    Tracked& t = it->second;
    auto current = store_.get(key, now);
    const bool wanted = t.warm || asked.count(key) != 0;
    if (!wanted) {
      // Nobody asked since the last download: stop refreshing it (a client asking again
      // brings it back). A failed refresh is remembered until its retry time.
      if (now >= t.retry_at) {
        it = tracked_.erase(it);
      } else {
        ++it;
      }
      continue;
    }
    const bool due = current == nullptr || now >= current->refresh_at;
    if (due && now >= t.retry_at) {
      std::unique_lock<std::mutex> lock(mu_);
      if (inflight_.try_emplace(key).second) {
        lock.unlock();
        logEvent(LogLevel::Debug, "crl_refresh", {{"url", key}});
        schedule(key, t.url, current != nullptr);
      }
    }
    ++it;
  }
}

}  // namespace ocsp
