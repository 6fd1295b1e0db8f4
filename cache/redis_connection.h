#pragma once
// One worker's connection to Redis (docs/ARCHITECTURE.md §6.2, §14): a hiredis async context on the
// worker's event_base, kept up without ever blocking the worker. Rules:
//   - connect, then AUTH (if a password is set), SELECT db, and with sentinels ROLE (must
//     be "master"), pipelined, all within connect_timeout;
//   - any failure, a disconnect, or three commands in a row timing out -> down; the next
//     attempt after 100ms, doubling (±20% jitter) up to reconnect_max_backoff; back to
//     100ms once up;
//   - one log line per state change (event=redis_state state=up|down worker=N address=...
//     reason=...), never one per command or per failed retry           [disconnects]
//   - sentinels: asked in order (SENTINEL get-master-addr-by-name, connect_timeout each)
//     before every connect, every 5s while up, and at once when a write is refused with
//     READONLY or MASTERDOWN; a different answer moves the connection to the new master
//     (event=redis_master_changed)                                      [master_changes]
//   - addresses (config and sentinel answers) must be IP literals or localhost: resolving a
//     name would block the worker. Sentinels are asked without AUTH.
//
// Commands in flight, their ids and timeouts: cache/redis_commands.h; reading the replies of
// the handshake and of sentinels: cache/redis_reply.h.
//
// Threading and callbacks: everything runs on the thread that runs `base`. A command's
// callback is called exactly once, on that thread, never from inside command(): with the
// reply, or with Timeout after its timeout, or with Lost when the connection goes down
// first. It may send further commands; it must not destroy the RedisConnection. The
// destructor (on that thread outside any callback of this object, or on any thread once no
// thread runs `base`) frees the contexts at once and drops pending callbacks uncalled.
#include <event2/event.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cache/redis_commands.h"
#include "cache/redis_reply.h"  // redisTarget()
#include "cache/redis_status.h"
#include "conf/config.h"
#include "core/handles.h"

struct redisAsyncContext;
struct redisReply;

namespace ocsp {

class RedisConnection {
 public:
  // A command's outcome and callback (cache/redis_commands.h).
  using Outcome = RedisCommandQueue::Outcome;
  using Callback = RedisCommandQueue::Callback;

  // Starts connecting at once. `base` and `status` must outlive this object; `worker_id`
  // indexes `status`.
  RedisConnection(event_base* base, const conf::Redis& cfg, RedisStatus& status, int worker_id);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Connected and past the handshake.
  bool up() const;
  // The server of the current connection ("ip:port" or "unix:/path"; "" before the first).
  const std::string& serverAddress() const { return server_address_; }

  // Sends a command if up. False (and no callback) if it could not be sent.
  bool command(std::initializer_list<std::string_view> args, int64_t timeout_ms, Callback done);
  // Sends a command whose reply only matters if it is an error (counted, logged once per
  // connection, and READONLY/MASTERDOWN start a sentinel check). `on_reply`, if given, is
  // called with any other reply (never on a timeout: the command has none; not at all if the
  // connection is lost first).
  bool fireAndForget(std::initializer_list<std::string_view> args, Callback on_reply = nullptr);

 private:
  enum class Phase { Waiting, Discovering, Connecting, Up };
  enum class Reported { Nothing, Up, Down };

  static void onReply(redisAsyncContext* ac, void* reply, void* privdata);
  static void onConnect(const redisAsyncContext* ac, int status);
  static void onDisconnect(const redisAsyncContext* ac, int status);
  // Counts it; a few in a row on the server's connection take the connection down.
  void onCommandTimeout(const redisAsyncContext* ac);

  redisAsyncContext* open(const std::string& host, uint16_t port, std::string* why);
  void onWriteError(const redisAsyncContext* ac, const redisReply* reply);

  void start();
  void connectServer();
  void onHandshakeReply(const char* step, bool last, const redisReply* reply);
  void becomeUp();
  void goDown(const std::string& reason, bool retry_now = false);
  void report(bool up, const std::string& reason);
  void retire(redisAsyncContext* ac);
  void reapRetired();
  void forget(const redisAsyncContext* ac, const std::string& reason);

  void startDiscovery(bool check);
  void askSentinel();
  void sentinelFailed(const std::string& reason);
  void onSentinelReply(const redisReply* reply);
  void masterFound(const conf::RedisAddress& master);
  void discoveryFailed();

  event_base* base_;
  const conf::Redis cfg_;
  RedisStatus& status_;
  RedisCounters& counters_;
  const int worker_id_;
  const std::string worker_label_;
  RedisCommandQueue commands_;  // in flight on any of the contexts below

  Phase phase_ = Phase::Waiting;
  Reported reported_ = Reported::Nothing;
  std::string reported_address_;
  redisAsyncContext* ctx_ = nullptr;           // the server; ours to free
  redisAsyncContext* sentinel_ctx_ = nullptr;  // the sentinel being asked; ours to free
  std::vector<redisAsyncContext*> retired_;    // detached, freed by reap_timer_
  std::string server_address_;
  std::optional<conf::RedisAddress> master_;  // sentinel mode: the master to connect to
  size_t sentinel_index_ = 0;
  bool checking_ = false;  // discovery while up (periodic or READONLY)
  bool sentinels_reachable_ = true;
  std::string sentinel_errors_;
  int64_t backoff_ms_;
  int consecutive_timeouts_ = 0;
  bool write_error_logged_ = false;
  std::minstd_rand jitter_;

  EventPtr retry_timer_;     // next connection attempt
  EventPtr connect_timer_;   // connect + handshake deadline
  EventPtr sentinel_timer_;  // one sentinel's answer deadline
  EventPtr check_timer_;     // periodic sentinel check
  EventPtr reap_timer_;      // frees retired contexts outside hiredis callbacks
  bool destroying_ = false;
};

}  // namespace ocsp
