#include "cache/redis_reply.h"

#include <hiredis/hiredis.h>

#include <charconv>

namespace ocsp {

namespace {

bool parsePort(std::string_view s, uint16_t* out) {
  unsigned n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size() || n == 0 || n > 65535) return false;
  *out = static_cast<uint16_t>(n);
  return true;
}

}  // namespace

std::string redisTarget(const conf::Redis& cfg) {
  if (cfg.address) return hostPort(*cfg.address);
  if (!cfg.unix_socket.empty()) return "unix:" + cfg.unix_socket;
  return "sentinel:" + cfg.master_name;
}

std::string hostPort(const conf::RedisAddress& a) {
  const bool v6 = a.host.find(':') != std::string::npos;
  return (v6 ? "[" + a.host + "]" : a.host) + ":" + std::to_string(a.port);
}

std::string_view replyText(const redisReply* r) {
  return r->str == nullptr ? std::string_view() : std::string_view(r->str, r->len);
}

std::string_view errorCode(const redisReply* r) {
  std::string_view text = replyText(r);
  return text.substr(0, text.find(' '));
}

std::string_view roleOf(const redisReply* r) {
  if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 && r->element[0]->type == REDIS_REPLY_STRING) {
    return replyText(r->element[0]);
  }
  return {};
}

bool masterOf(const redisReply* r, const std::string& master_name, conf::RedisAddress* master,
              std::string* why) {
  if (r->type == REDIS_REPLY_NIL) {
    *why = "does not know master " + master_name;
    return false;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    *why = std::string(replyText(r));
    return false;
  }
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
      r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING ||
      !parsePort(replyText(r->element[1]), &master->port)) {
    *why = "unexpected answer to SENTINEL get-master-addr-by-name";
    return false;
  }
  master->host = std::string(replyText(r->element[0]));
  if (!conf::isIpLiteral(master->host)) {
    *why = "answered with host name " + master->host + " (only IP addresses are used)";
    return false;
  }
  return true;
}

}  // namespace ocsp
