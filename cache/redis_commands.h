#pragma once
// The commands one RedisConnection (cache/redis_connection.h) has in flight: each is written
// in the Redis protocol into a reused buffer and handed to hiredis, and its callback waits
// here for its reply, its timeout or the loss of its context. Rules:
//   - a callback is called exactly once, never from inside send(): with the reply (Replied),
//     after its timeout (Timeout; one timer for every command, armed for the earliest
//     deadline), or when its context fails (Lost, failAll());
//   - replies on one context come in the order sent, so the queue is answered from its front
//     and stays short; an entry whose callback was already called (timed out, lost) waits,
//     empty, until the ones before it are done, and a late reply for it is dropped;
//   - a command sent without a callback (fire and forget) is not kept: its reply carries id 0.
// Threading: the thread that runs the event_base. Destroying the queue drops the callbacks
// still waiting, uncalled.
#include <event2/event.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

#include "core/handles.h"

struct redisAsyncContext;
struct redisReply;

namespace ocsp {

class RedisCommandQueue {
 public:
  enum class Outcome { Replied, Timeout, Lost };
  // `reply` is set only with Replied; it is freed when the callback returns.
  using Callback = std::function<void(Outcome, const redisReply* reply)>;
  // hiredis's reply callback; its privdata is the command's id (idOf()).
  using ReplyFn = void (*)(redisAsyncContext* ac, void* reply, void* privdata);
  // Called once for each command that timed out, before its callback, with the context it
  // went to.
  using OnTimeout = std::function<void(const redisAsyncContext* ac)>;

  RedisCommandQueue(event_base* base, ReplyFn on_reply, OnTimeout on_timeout);
  RedisCommandQueue(const RedisCommandQueue&) = delete;
  RedisCommandQueue& operator=(const RedisCommandQueue&) = delete;

  // Sends `args` on `ac`. `done` (if any) waits for the reply, at most `timeout_ms` (0: no
  // timeout). False (and no callback) if hiredis did not take the command.
  bool send(redisAsyncContext* ac, std::initializer_list<std::string_view> args,
            int64_t timeout_ms, Callback done);
  // The id hiredis handed back as privdata; 0: fire and forget.
  static uint64_t idOf(void* privdata);
  // The callback of command `id` if it is still waiting, taken out of the queue.
  Callback take(uint64_t id);
  // Calls every callback still waiting on `ac` with Lost.
  void failAll(const redisAsyncContext* ac);
  // Drops every waiting callback uncalled.
  void clear() { pending_.clear(); }

 private:
  struct Pending {
    const redisAsyncContext* ctx;  // the context the command went to
    Callback done;                 // empty once called
    int64_t deadline_ms;           // monotonicMs() at which it times out; 0: never
  };

  void onTimeouts();
  // Arms the timer for `deadline_ms` unless it is already armed for an earlier one.
  void armTimeouts(int64_t deadline_ms);
  void trimPending();

  ReplyFn on_reply_;
  OnTimeout on_timeout_;
  // The command at pending_[i] has the id first_id_ + i, given to hiredis as privdata.
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
};

}  // namespace ocsp
