#pragma once
// The shared CRL copy in Redis (docs/ARCHITECTURE.md §6.5, §8), below the bounds stage so
// that a copy read from Redis counts against crl.max_concurrent_fetches like a download.
// Rules:
//   - key <key_prefix>crl:v1:<sha256 hex of the URL> (caIssuers documents:
//     <key_prefix>ca_issuers:v1:...), value the document's bytes as served;
//   - a lookup reads the copy (GET, at most 4 x redis.command_timeout) unless the connection
//     is down (then straight to the next stage, never waiting) or the lookup is a refresh
//     (it is meant to replace that copy);
//   - a copy is parsed and re-validated like a download (cache/crl_parser.h): Redis is
//     shared, nothing unchecked is served. An accepted one answers (event=crl_fetched
//     source=redis). One that is not accepted is deleted, unless it merely expired by our
//     clock (its TTL removes it), and the next stage is asked; no client sees that error;
//   - no copy, a timeout or a lost connection: the next stage is asked;
//   - a CRL the next stage downloaded is written back with PX = milliseconds to its
//     hard_expiry, fire and forget (a failed write is counted by the connection).
// Threading: CRL thread only, like the connection it uses.
#include <string>

#include "cache/crl_parser.h"
#include "cache/crl_source.h"
#include "cache/redis_connection.h"
#include "core/clock.h"

namespace ocsp {

class CrlRedisSource final : public CrlSource {
 public:
  // Everything referenced must outlive this object.
  CrlRedisSource(RedisConnection& redis, const conf::Redis& config, CrlParser& parser,
                 const Clock& clock, CrlSource& next)
      : redis_(redis), config_(config), parser_(parser), clock_(clock), next_(next) {}

  void lookup(CrlQuery query, CrlReply done) override;

  // The Redis key of the document of `kind` at `url`.
  static std::string keyOf(const std::string& key_prefix, const std::string& url,
                           DocKind kind = DocKind::Crl);

 private:
  void onCopy(CrlQuery query, std::string bytes, CrlReply done);
  void download(CrlQuery query, CrlReply done);
  std::string redisKey(const std::string& url) const;  // keyOf() for this stage's kind

  RedisConnection& redis_;
  const conf::Redis& config_;
  CrlParser& parser_;
  const Clock& clock_;
  CrlSource& next_;
};

}  // namespace ocsp
