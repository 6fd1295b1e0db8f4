#include "tools/egress_probe.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

#include "conf/config.h"
#include "tools/check_http.h"
#include "upstream/curl_handles.h"

namespace ocsp::tools {

namespace {

using Clock = std::chrono::steady_clock;
using RedisContextPtr = std::unique_ptr<redisContext, FreeWith<redisFree>>;
using RedisReplyPtr = std::unique_ptr<redisReply, FreeWith<freeReplyObject>>;

int64_t msSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

struct Resolved {
  std::vector<std::string> addresses;  // IPv4 first, then IPv6, each once
  std::string resolved_by;
  std::string error;  // "" when there is an address
};

// The config's `resolve:` map first (its keys are lower-case, like the proxy's pinAddress in
// upstream/curl_fetcher.cc), then the system resolver. Blocking.
Resolved resolveName(const std::string& host, const std::map<std::string, std::string>& resolve) {
  Resolved out;
  std::string name(host);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (auto it = resolve.find(name); it != resolve.end()) {
    out.addresses.push_back(it->second);
    out.resolved_by = "resolve";
    return out;
  }
  if (conf::isIpLiteral(host)) {
    out.addresses.push_back(host);
    out.resolved_by = "literal";
    return out;
  }
  out.resolved_by = "dns";
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;  // A and AAAA; no AI_ADDRCONFIG: show every address DNS gives
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &list);
  if (rc != 0) {
    out.error = rc == EAI_NONAME || rc == EAI_NODATA ? "no address" : gai_strerror(rc);
    return out;
  }
  std::vector<std::string> v4, v6;
  for (const addrinfo* a = list; a != nullptr; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = "";
    if (a->ai_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr, text,
                sizeof text);
      if (std::find(v4.begin(), v4.end(), text) == v4.end()) v4.push_back(text);
    } else if (a->ai_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr, text,
                sizeof text);
      if (std::find(v6.begin(), v6.end(), text) == v6.end()) v6.push_back(text);
    }
  }
  freeaddrinfo(list);
  out.addresses = v4;
  out.addresses.insert(out.addresses.end(), v6.begin(), v6.end());
  if (out.addresses.empty()) out.error = "no address";
  return out;
}

struct Download {
  std::string body;
  size_t max_bytes = 0;
  bool truncated = false;
};

size_t onBody(char* data, size_t size, size_t count, void* userp) {
  auto* d = static_cast<Download*>(userp);
  const size_t len = size * count;
  const size_t room = d->max_bytes - d->body.size();
  d->body.append(data, std::min(len, room));
  if (len > room) {
    d->truncated = true;
    return 0;  // enough read: curl stops with CURLE_WRITE_ERROR
  }
  return len;
}

// curl's result, before any content is looked at.
void classifyCurl(CURL* e, CURLcode rc, const char* error_buf, EgressFacts& f) {
  long os_errno = 0;
  curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os_errno);
  curl_off_t connect_us = 0;
  curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &connect_us);
  const std::string message = error_buf[0] != '\0' ? error_buf : curl_easy_strerror(rc);
  switch (rc) {
    case CURLE_OK:
    case CURLE_WRITE_ERROR:  // onBody had read enough
      f.transport = EgressTransport::Answered;
      return;
    case CURLE_COULDNT_RESOLVE_HOST:
      f.transport = EgressTransport::DnsFailed;
      f.dns_error = "no address";
      return;
    case CURLE_COULDNT_CONNECT:
      f.transport =
          os_errno == ECONNREFUSED ? EgressTransport::Refused : EgressTransport::ConnectFailed;
      f.detail = os_errno != 0 ? std::strerror(static_cast<int>(os_errno)) : message;
      return;
    case CURLE_OPERATION_TIMEDOUT:
      f.transport =
          connect_us > 0 ? EgressTransport::AnswerTimeout : EgressTransport::ConnectTimeout;
      return;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
      f.transport = EgressTransport::Closed;
      f.detail = message;
      return;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
      f.transport = EgressTransport::Tls;
      f.detail = message;
      return;
    default:
      f.transport = EgressTransport::Other;
      f.detail = message + " (curl error " + std::to_string(rc) + ")";
      return;
  }
}

// One HTTP exchange to the addresses given (CURLOPT_RESOLVE, so curl connects to nothing
// else).
void probeHttp(const EgressTarget& t, const std::vector<std::string>& addresses, EgressFacts& f) {
  CurlEasyPtr easy(curl_easy_init());
  if (!easy) {
    f.transport = EgressTransport::Other;
    f.detail = "curl_easy_init failed";
    return;
  }
  CURL* e = easy.get();
  std::string pin = t.host + ":" + std::to_string(t.port) + ":";
  for (size_t i = 0; i < addresses.size(); ++i) {
    const bool v6 = addresses[i].find(':') != std::string::npos;
    pin += (i ? "," : "") + (v6 ? "[" + addresses[i] + "]" : addresses[i]);
  }
  CurlSlistPtr resolve, headers;
  if (!appendLine(resolve, pin.c_str()) ||
      (!t.post_body.empty() && !appendLine(headers, "Content-Type: application/ocsp-request"))) {
    f.transport = EgressTransport::Other;
    f.detail = "out of memory";
    return;
  }
  Download d;
  d.max_bytes = t.max_bytes;
  char error_buf[CURL_ERROR_SIZE] = "";
  check::setToolTransferOptions(e, t.url, error_buf, t.timeout_ms, "http,https",
                                "ocsp-proxy-egress/" OCSP_PROXY_VERSION);
  curl_easy_setopt(e, CURLOPT_RESOLVE, resolve.get());
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &onBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &d);
  if (!t.post_body.empty()) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t.post_body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t.post_body.size()));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers.get());
  }
  const CURLcode rc = curl_easy_perform(e);
  classifyCurl(e, rc, error_buf, f);
  if (f.transport != EgressTransport::Answered) return;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &f.http_status);
  const char* type = nullptr;
  curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &type);
  f.content_type = type ? type : "";
  curl_off_t length = -1;
  curl_easy_getinfo(e, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
  f.truncated = d.truncated;
  f.body = std::move(d.body);
  f.body_bytes = length >= 0 ? static_cast<int64_t>(length) : static_cast<int64_t>(f.body.size());
}

timeval timevalOf(int64_t ms) {
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

// hiredis reports socket errors as text (strerror); these are the ones that say which stage
// failed.
bool saysErrno(const char* text, int err) { return std::strstr(text, std::strerror(err)); }

// One command; false (and `f` filled) when no reply came.
bool redisAsk(redisContext* c, const std::vector<std::string>& argv, const EgressTarget& t,
              EgressFacts& f, std::string* reply_text) {
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  for (const auto& a : argv) {
    args.push_back(a.c_str());
    lengths.push_back(a.size());
  }
  RedisReplyPtr reply(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(args.size()), args.data(), lengths.data())));
  if (!reply) {
    const bool timed_out = saysErrno(c->errstr, EAGAIN) || saysErrno(c->errstr, ETIMEDOUT);
    f.transport = timed_out                 ? EgressTransport::AnswerTimeout
                  : c->err == REDIS_ERR_EOF ? EgressTransport::Closed
                                            : EgressTransport::Other;
    f.detail = c->errstr;
    if (timed_out) f.timeout_ms = t.redis_command_timeout_ms;
    return false;
  }
  *reply_text = reply->str ? std::string(reply->str, reply->len) : "";
  if (reply->type == REDIS_REPLY_ERROR && reply_text->empty()) *reply_text = "error reply";
  return true;
}

void probeRedis(const EgressTarget& t, const std::string& address, EgressFacts& f) {
  RedisContextPtr c(redisConnectWithTimeout(address.c_str(), t.port, timevalOf(t.timeout_ms)));
  if (!c) {
    f.transport = EgressTransport::Other;
    f.detail = "out of memory";
    return;
  }
  if (c->err != 0) {
    f.detail = c->errstr;
    f.transport = saysErrno(c->errstr, ECONNREFUSED) ? EgressTransport::Refused
                  : saysErrno(c->errstr, ETIMEDOUT) || saysErrno(c->errstr, EINPROGRESS)
                      ? EgressTransport::ConnectTimeout
                      : EgressTransport::ConnectFailed;
    return;
  }
  redisSetTimeout(c.get(), timevalOf(t.redis_command_timeout_ms));
  std::string reply;
  if (!t.redis_password.empty()) {
    if (!redisAsk(c.get(), {"AUTH", t.redis_password}, t, f, &reply)) return;
    if (reply != "OK") {
      f.transport = EgressTransport::Answered;
      f.redis_reply = "AUTH refused: " + reply;
      return;
    }
  }
  if (!redisAsk(c.get(), {"PING"}, t, f, &reply)) return;
  f.transport = EgressTransport::Answered;
  f.redis_reply = reply;
}

// What one probe thread and the waiting thread share. The thread owns `facts` and `resolved`
// until it sets `done`; `abandoned` (set by the waiter while the lookup runs) tells it to
// stop after the lookup.
struct Slot {
  Resolved resolved;
  EgressFacts facts;
  int64_t elapsed_ms = 0;
  bool resolving = true;
  bool abandoned = false;
  bool done = false;
};

struct Shared {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<Slot> slots;
};

void probeOne(std::shared_ptr<Shared> shared, size_t i, EgressTarget target,
              std::map<std::string, std::string> resolve, Clock::time_point start) {
  Resolved resolved = resolveName(target.host, resolve);
  {
    std::lock_guard lock(shared->mutex);
    Slot& slot = shared->slots[i];
    if (slot.abandoned) return;
    slot.resolving = false;
    slot.resolved = resolved;
  }
  EgressFacts facts;
  facts.kind = target.kind;
  facts.timeout_ms = target.timeout_ms;
  facts.path_known = target.path_known;
  if (!resolved.error.empty()) {
    facts.transport = EgressTransport::DnsFailed;
    facts.dns_error = resolved.error;
  } else if (target.kind == EgressKind::Redis) {
    probeRedis(target, resolved.addresses.front(), facts);
  } else {
    probeHttp(target, resolved.addresses, facts);
  }
  std::lock_guard lock(shared->mutex);
  Slot& slot = shared->slots[i];
  slot.facts = std::move(facts);
  slot.elapsed_ms = msSince(start);
  slot.done = true;
  shared->changed.notify_all();
}

}  // namespace

std::vector<EgressRow> probeAll(const std::vector<EgressTarget>& targets,
                                const std::map<std::string, std::string>& resolve) {
  auto shared = std::make_shared<Shared>();
  shared->slots.resize(targets.size());
  const Clock::time_point start = Clock::now();
  int64_t longest_ms = 0;
  std::vector<std::thread> threads(targets.size());
  for (size_t i = 0; i < targets.size(); ++i) {
    longest_ms = std::max(longest_ms, targets[i].timeout_ms);
    try {
      threads[i] = std::thread(probeOne, shared, i, targets[i], resolve, start);
    } catch (const std::system_error& e) {  // out of threads: this host is not probed
      std::lock_guard lock(shared->mutex);
      Slot& s = shared->slots[i];
      s.facts.kind = targets[i].kind;
      s.facts.transport = EgressTransport::Other;
      s.facts.detail = std::string("could not start a thread: ") + e.what();
      s.done = true;
    }
  }
  {
    std::unique_lock lock(shared->mutex);
    auto all_done = [&] {
      return std::all_of(shared->slots.begin(), shared->slots.end(),
                         [](const Slot& s) { return s.done || s.abandoned; });
    };
    // Lookups get each target's timeout; transfers are bounded by curl and hiredis, so once
    // every lookup has finished or been given up, waiting for the rest ends.
    shared->changed.wait_until(lock, start + std::chrono::milliseconds(longest_ms), all_done);
    for (size_t i = 0; i < targets.size(); ++i) {
      Slot& s = shared->slots[i];
      if (!s.done && s.resolving) {
        s.abandoned = true;
        s.resolved.resolved_by = "dns";
        s.facts.kind = targets[i].kind;
        s.facts.transport = EgressTransport::DnsTimeout;
        s.facts.timeout_ms = targets[i].timeout_ms;
        s.elapsed_ms = msSince(start);
      }
    }
    shared->changed.wait(lock, all_done);
  }
  // A thread still in a lookup given up is left to end on its own; every other has finished
  // its work and is joined.
  for (size_t i = 0; i < threads.size(); ++i) {
    if (!threads[i].joinable()) continue;
    bool abandoned;
    {
      std::lock_guard lock(shared->mutex);
      abandoned = shared->slots[i].abandoned;
    }
    if (abandoned) {
      threads[i].detach();
    } else {
      threads[i].join();
    }
  }
  std::vector<EgressRow> rows;
  std::lock_guard lock(shared->mutex);
  for (size_t i = 0; i < targets.size(); ++i) {
    const Slot& s = shared->slots[i];
    const EgressTarget& t = targets[i];
    rows.push_back(EgressRow{t.host, t.port, t.purpose, t.url, s.resolved.addresses,
                             s.resolved.resolved_by, judgeEgress(s.facts), s.elapsed_ms});
  }
  return rows;
}

}  // namespace ocsp::tools
