#include "cache/redis_commands.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <utility>
#include <vector>

#include "core/clock.h"

namespace ocsp {

RedisCommandQueue::RedisCommandQueue(event_base* base, ReplyFn on_reply, OnTimeout on_timeout)
    : on_reply_(on_reply), on_timeout_(std::move(on_timeout)) {
  timeout_timer_ = EventPtr(evtimer_new(
      base,
      [](evutil_socket_t, short, void* arg) { static_cast<RedisCommandQueue*>(arg)->onTimeouts(); },
      this));
}

uint64_t RedisCommandQueue::idOf(void* privdata) {
  return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(privdata));
}

bool RedisCommandQueue::send(redisAsyncContext* ac, std::initializer_list<std::string_view> args,
                             int64_t timeout_ms, Callback done) {
  // The command in the Redis protocol (an array of bulk strings), written here into a reused
  // buffer rather than formatted by hiredis into a new one for each command.
  auto number = [this](size_t n) {
    char digits[20];
    auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), n);
    command_buf_.append(digits, end);
    command_buf_.append("\r\n");
  };
  command_buf_.clear();
  command_buf_.push_back('*');
  number(args.size());
  for (std::string_view a : args) {
    command_buf_.push_back('$');
    number(a.size());
    command_buf_.append(a);
    command_buf_.append("\r\n");
  }
  const uint64_t id = done ? first_id_ + pending_.size() : 0;
  if (redisAsyncFormattedCommand(ac, on_reply_, reinterpret_cast<void*>(static_cast<uintptr_t>(id)),
                                 command_buf_.data(), command_buf_.size()) != REDIS_OK) {
    return false;
  }
  if (id == 0) return true;
  const int64_t deadline = timeout_ms > 0 ? monotonicMs() + timeout_ms : 0;
  pending_.push_back(Pending{ac, std::move(done), deadline});
  if (deadline != 0) {
    if (deadline < last_deadline_ms_) deadlines_sorted_ = false;
    last_deadline_ms_ = deadline;
    armTimeouts(deadline);
  }
  return true;
}

void RedisCommandQueue::armTimeouts(int64_t deadline_ms) {
  if (timeout_deadline_ms_ != 0 && timeout_deadline_ms_ <= deadline_ms) return;
  timeout_deadline_ms_ = deadline_ms;
  const int64_t ms = std::max<int64_t>(0, deadline_ms - monotonicMs());
  timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
  evtimer_add(timeout_timer_.get(), &tv);
}

RedisCommandQueue::Callback RedisCommandQueue::take(uint64_t id) {
  if (id < first_id_ || id - first_id_ >= pending_.size()) return nullptr;
  Callback done = std::exchange(pending_[id - first_id_].done, nullptr);
  trimPending();
  return done;
}

void RedisCommandQueue::trimPending() {
  while (!pending_.empty() && !pending_.front().done) {
    pending_.pop_front();
    ++first_id_;
  }
  if (pending_.empty()) {  // a fresh start for the order of deadlines
    deadlines_sorted_ = true;
    last_deadline_ms_ = 0;
  }
}

void RedisCommandQueue::onTimeouts() {
  timeout_deadline_ms_ = 0;
  const int64_t now = monotonicMs();
  std::vector<std::pair<const redisAsyncContext*, Callback>> expired;
  int64_t next = 0;  // the earliest deadline still ahead
  for (Pending& p : pending_) {
    if (!p.done || p.deadline_ms == 0) continue;
    if (p.deadline_ms <= now) {
      expired.emplace_back(p.ctx, std::exchange(p.done, nullptr));
      continue;
    }
    if (next == 0 || p.deadline_ms < next) next = p.deadline_ms;
    if (deadlines_sorted_) break;  // the rest are later still
  }
  trimPending();
  if (next != 0) armTimeouts(next);
  for (auto& [ctx, done] : expired) {
    on_timeout_(ctx);
    done(Outcome::Timeout, nullptr);
  }
}

void RedisCommandQueue::failAll(const redisAsyncContext* ac) {
  std::vector<Callback> lost;
  for (Pending& p : pending_) {
    if (p.ctx == ac && p.done) lost.push_back(std::exchange(p.done, nullptr));
  }
  trimPending();
  for (Callback& done : lost) done(Outcome::Lost, nullptr);
}

}  // namespace ocsp
