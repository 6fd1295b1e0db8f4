#pragma once
// Learned issuers shared through Redis (docs/ARCHITECTURE.md §9), so that instances behind one
// Redis route an issuer any of them learned without discovering it again. Rules:
//   - one Redis hash, `<redis.key_prefix>learned-issuers:v1`: field = hex SHA-256 of the
//     issuer certificate's DER, value = that one issuer in the state file format
//     (upstream/learned_issuer_store.h: versioned, with a checksum);
//   - every issuer this process learns is written there (HSET, fire and forget) soon after;
//   - the hash is read (HGETALL) once the connection is up and then every kPollS; each issuer
//     not known here is verified like one from the state file (restoreLearned: its upstream
//     configured, not configured now, not distrusted, chains to forward.trust_store now) and
//     learned as source=redis (event=issuer_loaded); a value that does not decode is skipped
//     and logged once per read (event=learned_issuers_invalid source=redis). At most
//     kMaxLearnedIssuers are read;
//   - Redis down: nothing is shared meanwhile (the connection's own event=redis_state lines
//     say so); what was learned here is written at the next successful read's turn.
// Runs on one worker's loop with its own RedisConnection (not in /readyz: the caches' are).
// Create it before that loop starts and destroy it after the loop ended; push() is
// thread-safe.
#include <event2/event.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cache/redis_connection.h"
#include "cache/redis_status.h"
#include "conf/config.h"
#include "core/clock.h"
#include "core/handles.h"
#include "core/mailbox.h"
#include "upstream/issuer_index.h"

namespace ocsp {

class LearnedIssuerSync {
 public:
  static constexpr int64_t kPollS = 30;

  // Everything referenced must outlive this object; `trust_store` may be null (nothing read
  // is then learned). `upstream_names` are upstreams[].name.
  LearnedIssuerSync(const conf::Redis& redis, IssuerIndex& index,
                    std::vector<std::string> upstream_names, X509_STORE* trust_store,
                    Mailbox& mailbox, event_base* base, const Clock& clock);
  ~LearnedIssuerSync();
  LearnedIssuerSync(const LearnedIssuerSync&) = delete;
  LearnedIssuerSync& operator=(const LearnedIssuerSync&) = delete;

  // Writes the issuers learned here and not written yet, on the loop thread. Thread-safe.
  void push();

 private:
  static void onTimer(evutil_socket_t, short, void* self);
  void writeNew();
  void read();
  void onRead(const redisReply* reply);

  const std::string key_;
  IssuerIndex& index_;
  const std::vector<std::string> upstream_names_;
  X509_STORE* trust_store_;
  Mailbox& mailbox_;
  const Clock& clock_;
  RedisStatus status_{1, "learned issuers"};
  RedisConnection connection_;
  std::set<std::string> written_;  // fields written (or read) already
  EventPtr timer_;
  std::shared_ptr<char> alive_ = std::make_shared<char>();  // posts after destruction drop
};

}  // namespace ocsp
