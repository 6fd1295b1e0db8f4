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

#include "cache/redis_status.h"
#include "conf/config.h"
#include "core/handles.h"

struct redisAsyncContext;
struct redisReply;

namespace ocsp {

// "127.0.0.1:6379", "unix:/run/redis.sock" or "sentinel:<master_name>" (for RedisStatus).
std::string redisTarget(const conf::Redis& cfg);

class RedisConnection {
 public:
  enum class Outcome { Replied, Timeout, Lost };
  // `reply` is set only with Replied; it is freed when the callback returns.
  using Callback = std::function<void(Outcome, const redisReply* reply)>;

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
  struct Pending;

  static void onReply(redisAsyncContext* ac, void* reply, void* privdata);
  static void onConnect(const redisAsyncContext* ac, int status);
  static void onDisconnect(const redisAsyncContext* ac, int status);
  void onTimeouts();
  void armTimeouts(int64_t deadline_ms);
  Callback take(uint64_t id);
  void trimPending();

  redisAsyncContext* open(const std::string& host, uint16_t port, std::string* why);
  bool send(redisAsyncContext* ac, std::initializer_list<std::string_view> args, int64_t timeout_ms,
            Callback done);
  void failPending(const redisAsyncContext* ac);
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

  // Commands with a callback, in the order sent: the one at pending_[i] has the id
  // first_id_ + i, given to hiredis as privdata (0: fire and forget, not kept). An entry whose
  // callback was called (timed out, or failed with its connection) stays, empty, until the
  // entries before it are done, and a reply for it is dropped. Replies on one context come
  // in the order sent, so the front is answered first and the queue stays short.
  std::deque<Pending> pending_;
  uint64_t first_id_ = 1;
  // One timer for every command timeout, armed for the earliest deadline that may be due
  // (timeout_deadline_ms_, 0 when not armed). Deadlines are kept in the order sent while
  // every command uses the same timeout (deadlines_sorted_), so the timer only looks at the
  // front of the queue.
  EventPtr timeout_timer_;
  int64_t timeout_deadline_ms_ = 0;
  int64_t last_deadline_ms_ = 0;
  bool deadlines_sorted_ = true;
  std::string command_buf_;  // the command being sent, in the Redis protocol (reused)

  EventPtr retry_timer_;     // next connection attempt
  EventPtr connect_timer_;   // connect + handshake deadline
  EventPtr sentinel_timer_;  // one sentinel's answer deadline
  EventPtr check_timer_;     // periodic sentinel check
  EventPtr reap_timer_;      // frees retired contexts outside hiredis callbacks
  bool destroying_ = false;
};

}  // namespace ocsp
