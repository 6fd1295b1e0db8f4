#include "cache/redis_source.h"

#include <hiredis/hiredis.h>

#include "cache/entry_codec.h"
#include "core/log.h"
#include "pki/validation_memo.h"

namespace ocsp {

namespace {

// Bounds the memory of "logged once per key"; forgetting only costs a repeated log line.
constexpr size_t kInvalidKeysRemembered = 10'000;
// Finished lookups kept for reuse: more than a worker's usual requests in flight at once.
constexpr size_t kSpareLookups = 1'024;

}  // namespace

// One lookup on its way through this stage.
struct RedisSource::Pending {
  Lookup lookup;
  Reply done;
  std::string key;                         // Redis key (its capacity is kept for reuse)
  std::shared_ptr<const OcspEntry> stale;  // valid Redis entry past fresh_until
  Pending* prev = nullptr;                 // in_flight_ list
  Pending* next = nullptr;
};

RedisSource::RedisSource(event_base* base, const Options& options, const Clock& clock,
                         Source& next, RedisStatus& status, int worker_id, ValidationMemo& memo)
    : key_prefix_(options.server.key_prefix),
      command_timeout_ms_(options.server.command_timeout_ms),
      freshness_(options.freshness),
      clock_skew_s_(options.clock_skew_s),
      local_responder_(options.local_responder),
      clock_(clock),
      next_(next),
      counters_(status.counters()),
      memo_(memo),
      worker_label_(std::to_string(worker_id)),
      connection_(base, options.server, status, worker_id) {}

// Lookups still in flight are dropped (header contract). The connection's pending callbacks
// that point at them are never called: it is destroyed next, before anything can run.
RedisSource::~RedisSource() {
  while (in_flight_ != nullptr) delete std::exchange(in_flight_, in_flight_->next);
}

RedisSource::Pending* RedisSource::acquire() {
  Pending* l = nullptr;
  if (spare_.empty()) {
    l = new Pending;
  } else {
    l = spare_.back().release();
    spare_.pop_back();
  }
  l->prev = nullptr;
  l->next = in_flight_;
  if (in_flight_ != nullptr) in_flight_->prev = l;
  in_flight_ = l;
  return l;
}

// Answers a lookup and puts its state back for reuse first, so that `done` may start another.
void RedisSource::finish(Pending* l, Result<Answer> result) {
  Reply done = std::move(l->done);
  Lookup lookup = std::move(l->lookup);
  l->done = nullptr;
  l->lookup = Lookup{};
  l->stale.reset();
  (l->prev != nullptr ? l->prev->next : in_flight_) = l->next;
  if (l->next != nullptr) l->next->prev = l->prev;
  if (spare_.size() < kSpareLookups) {
    spare_.emplace_back(l);
  } else {
    delete l;
  }
  done(lookup, std::move(result));
}

void RedisSource::lookup(Lookup lookup, Reply done) {
  Pending* l = acquire();
  l->key.assign(key_prefix_);
  appendCacheKeyString(l->key, lookup.query->key);
  l->lookup = std::move(lookup);
  l->done = std::move(done);
  if (l->lookup.refresh || !l->lookup.route->issuer) {
    // A background refresh: our copy is what it replaces. Ask next; its answer is written.
    // An issuer not known yet (forward mode, before AIA completion): a stored value could not
    // be validated, and would be wrongly judged invalid and deleted.
    askNext(l);
    return;
  }
  if (!connection_.up()) {
    ++counters_.bypassed;
    askNext(l);
    return;
  }
  // Two pointers: std::function keeps them inline, without an allocation.
  const bool sent =
      connection_.command({"GET", l->key}, command_timeout_ms_,
                          [this, l](RedisConnection::Outcome outcome, const redisReply* reply) {
                            onGetReply(l, outcome, reply);
                          });
  if (!sent) {
    ++counters_.errors;
    askNext(l);
  }
}

void RedisSource::onGetReply(Pending* l, RedisConnection::Outcome outcome,
                             const redisReply* reply) {
  if (outcome == RedisConnection::Outcome::Timeout) {  // counted by the connection
    askNext(l);
    return;
  }
  if (outcome == RedisConnection::Outcome::Lost || reply->type == REDIS_REPLY_ERROR) {
    ++counters_.errors;
    askNext(l);
    return;
  }
  if (reply->type != REDIS_REPLY_STRING) {  // nil: not cached
    ++counters_.misses;
    askNext(l);
    return;
  }
  std::shared_ptr<const OcspEntry> entry;
  std::string why;
  switch (judge(*l, std::string_view(reply->str, reply->len), &entry, &why)) {
    case Verdict::Fresh:
      if (l->lookup.passthrough) {  // goes to the CA with its nonce; this is its fallback
        l->stale = std::move(entry);
        ++counters_.misses;
        break;
      }
      ++counters_.hits;
      finish(l, Answer{std::move(entry), AnswerSource::Redis});
      return;
    case Verdict::Stale:
      l->stale = std::move(entry);
      ++counters_.misses;
      break;
    case Verdict::Miss:
      ++counters_.misses;
      break;
    case Verdict::Invalid:
      ++counters_.invalid_entries;
      logInvalidOnce(l->key, why);
      connection_.fireAndForget({"DEL", l->key});
      break;
  }
  askNext(l);
}

// What a value from Redis is worth for this query now. Only its DER is trusted, once
// validated; the stored fields must agree with it.
RedisSource::Verdict RedisSource::judge(const Pending& l, std::string_view value,
                                        std::shared_ptr<const OcspEntry>* out,
                                        std::string* why) const {
  Sha256Digest der_sha256;
  auto decoded = decodeEntry(value, freshness_, &der_sha256);
  if (!decoded) {
    *why = "undecodable";
    return Verdict::Invalid;
  }
  const OcspQuery& q = *l.lookup.query;
  const int64_t now = clock_.now();
  // The fetch time is the one field no signature covers. It can only shorten an answer's
  // life (finishEntry counts from the signed times), but a value claiming a fetch in the
  // future was not written by an honest instance.
  if (decoded->fetched_at > now + clock_skew_s_) {
    *why = "fetched_at_implausible";
    return Verdict::Invalid;
  }
  ValidationInput in;
  in.der = decoded->der.whole();  // not sealed: one part
  in.der_sha256 = asBytes(der_sha256);
  in.cert_ids = &q.cert_ids;
  in.issuer = l.lookup.route->issuer.get();
  in.now = now;
  in.clock_skew_s = clock_skew_s_;
  in.local_responder = local_responder_.get();
  auto validated = memo_.validate(in);
  if (!validated) {
    const Error& err = validated.error();
    // Not the value's fault: its time is over (Redis expires it by the writer's clock), not
    // yet come by our clock, or we could not check it.
    if (err.reason == Reason::Expired || err.reason == Reason::ThisUpdateInFuture ||
        err.reason == Reason::Internal) {
      return Verdict::Miss;
    }
    *why = err.code;
    return Verdict::Invalid;
  }
  if (!entryMatchesResponse(*decoded, *validated)) {
    *why = "fields_disagree_with_der";
    return Verdict::Invalid;
  }
  if (now >= decoded->hard_expiry) return Verdict::Miss;
  const bool fresh = now < decoded->fresh_until;
  *out = sealEntry(std::move(*decoded));
  return fresh ? Verdict::Fresh : Verdict::Stale;
}

void RedisSource::logInvalidOnce(const std::string& key, const std::string& why) {
  if (invalid_logged_.size() >= kInvalidKeysRemembered) invalid_logged_.clear();
  if (!invalid_logged_.insert(key).second) return;
  logEvent(LogLevel::Warn, "redis_entry_invalid",
           {{"worker", worker_label_}, {"key", key}, {"reason", why}});
}

void RedisSource::askNext(Pending* l) {
  std::weak_ptr<char> alive = alive_;
  next_.lookup(l->lookup, [this, alive, l](const Lookup&, Result<Answer> result) {
    // Destroyed: the reply is dropped (header contract), and `l` with it.
    if (alive.expired()) return;
    onNextAnswer(l, std::move(result));
  });
}

void RedisSource::onNextAnswer(Pending* l, Result<Answer> result) {
  if (result.ok() && l->stale && result->entry && result->entry->cacheable &&
      !supersedes(*result->entry, *l->stale) && clock_.now() < l->stale->hard_expiry) {
    // Older than the answer Redis holds (a replay, a stale CDN edge): that one is served.
    // Not an answer that echoes a client's nonce: that one is the client's own.
    ++counters_.older_refused;
    logAnswerOrder("older_answer_refused", l->key, answerSourceName(result->source), "redis",
                   *result->entry, *l->stale, "served the newer answer from Redis");
    std::shared_ptr<const OcspEntry> newer = l->stale;
    finish(l, Answer{std::move(newer), AnswerSource::Stale});
    return;
  }
  if (result.ok()) {
    if (result->source == AnswerSource::Upstream && !result->coalesced && result->entry &&
        result->entry->cacheable) {
      write(l->key, *result->entry);
    }
    finish(l, std::move(result));
    return;
  }
  // docs/ARCHITECTURE.md §4: upstream down -> the cached answer until nextUpdate, never after.
  if (l->stale && clock_.now() < l->stale->hard_expiry) {
    ++counters_.stale_served;
    logEvent(LogLevel::Warn, "stale_answer",
             {{"from", "redis"},
              {"worker", worker_label_},
              {"key", cacheKeyString(l->lookup.query->key)},
              {"upstream_fqdn", std::string(l->stale->upstream_fqdn)},
              {"next_update", rfc3339(l->stale->next_update)},
              {"reason", result.error().code}});
    std::shared_ptr<const OcspEntry> stale = l->stale;
    finish(l, Answer{std::move(stale), AnswerSource::Stale});
    return;
  }
  finish(l, std::move(result));
}

void RedisSource::write(const std::string& key, const OcspEntry& entry) {
  const int64_t now = clock_.now();
  const int64_t ttl_ms = (entry.hard_expiry - now) * 1000;
  if (ttl_ms <= 0) return;
  // Stored unless Redis holds a newer answer (kStoreUnlessOlderScript): another instance may
  // have written one since this answer was asked for, and a replayed answer must not undo it.
  const bool sent = connection_.fireAndForget(
      {"EVAL", kStoreUnlessOlderScript, "1", key, encodeEntry(entry), std::to_string(ttl_ms),
       std::to_string(entry.this_update), std::to_string(entry.produced_at),
       entry.status == CertStatus::Revoked ? "1" : "0", std::to_string(now + clock_skew_s_)},
      [this, alive = std::weak_ptr<char>(alive_), key, this_update = entry.this_update,
       fqdn = std::string(entry.upstream_fqdn)](RedisConnection::Outcome,
                                                const redisReply* reply) {
        if (alive.expired() || reply->type != REDIS_REPLY_INTEGER || reply->integer != 0) return;
        ++counters_.older_refused;
        logEvent(LogLevel::Warn, "older_answer_refused",
                 {{"from", "upstream"},
                  {"store", "redis"},
                  {"worker", worker_label_},
                  {"key", key},
                  {"upstream_fqdn", fqdn},
                  {"offered_this_update", rfc3339(this_update)},
                  {"action", "kept the newer answer in Redis"}});
      });
  if (sent) ++counters_.writes;
}

}  // namespace ocsp
