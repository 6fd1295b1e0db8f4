#include "upstream/learned_issuer_sync.h"

#include <hiredis/hiredis.h>

#include "core/log.h"
#include "upstream/learned_issuer_store.h"

namespace ocsp {

namespace {
constexpr int64_t kReadTimeoutMs = 2'000;

std::string fieldOf(X509* cert) { return toHex(sha256(toDer(cert, i2d_X509))); }
}  // namespace

LearnedIssuerSync::LearnedIssuerSync(const conf::Redis& redis, IssuerIndex& index,
                                     std::vector<std::string> upstream_names,
                                     X509_STORE* trust_store, Mailbox& mailbox, event_base* base,
                                     const Clock& clock)
    : key_(redis.key_prefix + "learned-issuers:v1"),
      index_(index),
      upstream_names_(std::move(upstream_names)),
      trust_store_(trust_store),
      mailbox_(mailbox),
      clock_(clock),
      connection_(base, redis, status_, 0),
      timer_(event_new(base, -1, EV_PERSIST, &LearnedIssuerSync::onTimer, this)) {
  // Soon after start (the connection needs a moment), then every kPollS.
  timeval first{1, 0};
  event_add(timer_.get(), &first);
}

LearnedIssuerSync::~LearnedIssuerSync() = default;

void LearnedIssuerSync::push() {
  mailbox_.post([this, alive = std::weak_ptr<char>(alive_)] {
    if (!alive.expired()) writeNew();
  });
}

void LearnedIssuerSync::onTimer(evutil_socket_t, short, void* self) {
  auto* sync = static_cast<LearnedIssuerSync*>(self);
  timeval every{kPollS, 0};
  event_add(sync->timer_.get(), &every);
  sync->writeNew();
  sync->read();
}

void LearnedIssuerSync::writeNew() {
  if (!connection_.up()) return;  // the next timer turn writes them
  for (const LearnedIssuer& l : index_.learned()) {
    std::string field = fieldOf(l.route->issuer.get());
    if (written_.count(field) != 0) continue;
    const std::string value = encodeLearnedIssuers({l});
    if (connection_.fireAndForget({"HSET", key_, field, value})) written_.insert(field);
  }
}

void LearnedIssuerSync::read() {
  if (!connection_.up()) return;
  connection_.command({"HGETALL", key_}, kReadTimeoutMs,
                      [this](RedisConnection::Outcome outcome, const redisReply* reply) {
                        if (outcome == RedisConnection::Outcome::Replied) onRead(reply);
                      });
}

void LearnedIssuerSync::onRead(const redisReply* reply) {
  if (reply->type != REDIS_REPLY_ARRAY) return;
  std::vector<StoredIssuer> found;
  std::string problem;
  for (size_t i = 0; i + 1 < reply->elements && found.size() < kMaxLearnedIssuers; i += 2) {
    const redisReply* field = reply->element[i];
    const redisReply* value = reply->element[i + 1];
    if (field->type != REDIS_REPLY_STRING || value->type != REDIS_REPLY_STRING) continue;
    std::string name(field->str, field->len);
    if (written_.count(name) != 0) continue;
    auto decoded = decodeLearnedIssuers(std::string(value->str, value->len));
    if (!decoded || decoded->size() != 1 || fieldOf((*decoded)[0].cert.get()) != name) {
      problem = name + ": " + (decoded ? "not one issuer under its own fingerprint"
                                       : decoded.error().detail);
      continue;
    }
    written_.insert(name);
    found.push_back(std::move((*decoded)[0]));
  }
  if (!problem.empty()) {
    logEvent(LogLevel::Warn, "learned_issuers_invalid",
             {{"source", "redis"}, {"key", key_}, {"detail", problem}, {"action", "ignored"}});
  }
  restoreLearned(index_, found, upstream_names_, trust_store_, clock_.now(), LearnedFrom::Redis);
}

}  // namespace ocsp
