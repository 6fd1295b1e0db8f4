#pragma once
// What Redis and its sentinels answer, read from hiredis replies, and Redis addresses as
// text, for the connection (cache/redis_connection.h) and its log lines. Pure functions.
//   - An error reply's code is its first word ("READONLY You can't write..." -> READONLY).
//   - ROLE: the server's role is the first element of the array ("master", "slave", ...).
//   - SENTINEL get-master-addr-by-name: nil when the sentinel does not know the master;
//     else [ip, port]. Only an IP literal (or localhost) is taken: resolving a name would
//     block the worker.
#include <cstdint>
#include <string>
#include <string_view>

#include "conf/config.h"

struct redisReply;

namespace ocsp {

// "127.0.0.1:6379", "unix:/run/redis.sock" or "sentinel:<master_name>" (for RedisStatus).
std::string redisTarget(const conf::Redis& cfg);
// "host:port", "[v6]:port".
std::string hostPort(const conf::RedisAddress& a);

// The reply's string ("" when it has none).
std::string_view replyText(const redisReply* r);
std::string_view errorCode(const redisReply* r);
// The role in a ROLE reply, "" when the reply is not one.
std::string_view roleOf(const redisReply* r);
// The master in a sentinel's answer, or false with why not (for the log line).
bool masterOf(const redisReply* r, const std::string& master_name, conf::RedisAddress* master,
              std::string* why);

}  // namespace ocsp
