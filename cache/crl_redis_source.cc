#include "cache/crl_redis_source.h"

#include <hiredis/hiredis.h>

#include "core/ossl.h"

namespace ocsp {

std::string CrlRedisSource::keyOf(const std::string& key_prefix, const std::string& url,
                                  DocKind kind) {
  return key_prefix + docKindName(kind) + ":v1:" + toHex(sha256(url));
}

std::string CrlRedisSource::redisKey(const std::string& url) const {
  return keyOf(config_.key_prefix, url, parser_.kind());
}

void CrlRedisSource::lookup(CrlQuery query, CrlReply done) {
  if (query.refresh || !redis_.up()) {
    download(std::move(query), std::move(done));
    return;
  }
  // The callback owns the lookup only once command() has accepted it: keep a copy to go on
  // with if it did not.
  const std::string redis_key = redisKey(query.key);
  CrlQuery again = query;
  CrlReply done_again = done;
  const bool sent = redis_.command(
      {"GET", redis_key}, config_.command_timeout_ms * 4,
      [this, query = std::move(query), done = std::move(done)](RedisConnection::Outcome outcome,
                                                               const redisReply* reply) mutable {
        if (outcome == RedisConnection::Outcome::Replied && reply->type == REDIS_REPLY_STRING) {
          onCopy(std::move(query), std::string(reply->str, reply->len), std::move(done));
        } else {
          download(std::move(query), std::move(done));
        }
      });
  if (!sent) download(std::move(again), std::move(done_again));
}

void CrlRedisSource::onCopy(CrlQuery query, std::string bytes, CrlReply done) {
  std::string url = query.key;
  parser_.parse(url, std::move(bytes),
                [this, query = std::move(query),
                 done = std::move(done)](Result<std::shared_ptr<const CrlEntry>> result) mutable {
                  if (result) {
                    logCrlFetched(**result, "redis");
                    done(std::move(result));
                    return;
                  }
                  // A shared copy we cannot use (expired by our clock, tampered): drop it,
                  // ask the CA.
                  if (result.error().reason != Reason::Expired) {
                    redis_.fireAndForget({"DEL", redisKey(query.key)});
                  }
                  download(std::move(query), std::move(done));
                });
}

void CrlRedisSource::download(CrlQuery query, CrlReply done) {
  std::string redis_key = redisKey(query.key);
  next_.lookup(std::move(query), [this, redis_key, done = std::move(done)](
                                     Result<std::shared_ptr<const CrlEntry>> result) {
    if (result) {
      const int64_t ttl_ms = ((*result)->hard_expiry - clock_.now()) * 1000;
      if (ttl_ms > 0) {
        redis_.fireAndForget({"SET", redis_key, (*result)->bytes, "PX", std::to_string(ttl_ms)});
      }
    }
    done(std::move(result));
  });
}

}  // namespace ocsp
