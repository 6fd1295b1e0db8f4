// The Redis stage (cache/redis_source.h) against real redis-server and sentinel processes
// started here on free loopback ports, driven by a real event_base; time rules use a fake
// clock, and the next stage is a hand-written fake that records what it was asked.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cache/entry_codec.h"
#include "cache/redis_source.h"
#include "cache/redis_status.h"
#include "core/clock.h"
#include "core/handles.h"
#include "core/log.h"
#include "core/source.h"
#include "core/ossl.h"
#include "pki/ocsp_builder.h"
#include "tests/unit/test_pki.h"
#include "tests/unit/test_util.h"
#include "pki/validation_memo.h"
#include "pki/validator.h"

namespace ocsp {
namespace {

namespace fs = std::filesystem;

// --- Processes ------------------------------------------------------------------------------

uint16_t freePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  close(fd);
  return ntohs(addr.sin_port);
}

class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/test_redis.XXXXXX";
    REQUIRE(mkdtemp(name) != nullptr);
    path_ = name;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void freeReply(redisReply* r) { freeReplyObject(r); }
using ReplyPtr = std::unique_ptr<redisReply, FreeWith<freeReply>>;

// A blocking client for the test's own checks (never used by the code under test). Connects
// on first use and again after losing its connection (servers restart, failovers close
// client connections).
class Client {
 public:
  explicit Client(uint16_t port) : port_(port) {}
  ~Client() {
    if (c_ != nullptr) redisFree(c_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // A connection closed under us (server restarted, failover) fails one command: the command
  // is sent once more on a new connection.
  ReplyPtr run(std::vector<std::string> args) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!connect()) return nullptr;
      ReplyPtr reply(static_cast<redisReply*>(
          redisCommandArgv(c_, static_cast<int>(argv.size()), argv.data(), lengths.data())));
      if (reply) return reply;
      redisFree(c_);
      c_ = nullptr;
    }
    return nullptr;
  }
  std::string text(std::vector<std::string> args) {
    auto r = run(std::move(args));
    return r && r->str != nullptr ? std::string(r->str, r->len) : std::string();
  }
  long long integer(std::vector<std::string> args) {
    auto r = run(std::move(args));
    REQUIRE(r);
    REQUIRE(r->type == REDIS_REPLY_INTEGER);
    return r->integer;
  }

 private:
  bool connect() {
    if (c_ != nullptr) return true;
    const timeval tv{1, 0};
    c_ = redisConnectWithTimeout("127.0.0.1", port_, tv);
    REQUIRE(c_ != nullptr);
    if (c_->err != 0) {
      redisFree(c_);
      c_ = nullptr;
      return false;
    }
    redisSetTimeout(c_, tv);
    return true;
  }

  uint16_t port_;
  redisContext* c_ = nullptr;
};

// redis-server (or a sentinel) in `dir`, on a loopback port that stays the same across
// restarts. Killed with SIGKILL when the test is done.
class RedisProcess {
 public:
  RedisProcess(const std::string& dir, const std::string& name, std::vector<std::string> extra,
               bool sentinel = false)
      : port_(freePort()), sentinel_(sentinel), conf_(dir + "/" + name + ".conf") {
    std::ofstream out(conf_);
    out << "port " << port_ << "\nbind 127.0.0.1\ndaemonize no\nsave \"\"\nappendonly no\n"
        << "dir " << dir << "\nlogfile " << dir << "/" << name << ".log\n";
    if (!sentinel) out << "dbfilename " << name << ".rdb\n";
    for (const auto& line : extra) out << line << "\n";
  }
  ~RedisProcess() { kill9(); }

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  void start() {
    fflush(nullptr);  // or the child would write our buffered output a second time
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      int null_fd = open("/dev/null", O_WRONLY);
      dup2(null_fd, STDOUT_FILENO);
      if (sentinel_) {
        execlp("redis-server", "redis-server", conf_.c_str(), "--sentinel", nullptr);
      } else {
        execlp("redis-server", "redis-server", conf_.c_str(), nullptr);
      }
      _exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string pong = Client(port_).text({"PING"});
      if (pong == "PONG" || pong.starts_with("NOAUTH")) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL("redis-server did not start on port " << port_);
  }
  void kill9() {
    if (pid_ <= 0) return;
    kill(pid_, SIGCONT);
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void pause() { kill(pid_, SIGSTOP); }
  void resume() { kill(pid_, SIGCONT); }

 private:
  uint16_t port_;
  bool sentinel_;
  std::string conf_;
  pid_t pid_ = -1;
};

// A stand-in sentinel on the test's event loop: answers each SENTINEL get-master-addr-by-name
// with `answer` (raw RESP), so that the test decides what "the master" is and when it moves.
class FakeSentinel {
 public:
  std::string answer;
  int questions = 0;

  explicit FakeSentinel(event_base* base) : base_(base) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listener_ = evconnlistener_new_bind(base, &FakeSentinel::onAccept, this,
                                        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
                                        reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    REQUIRE(listener_ != nullptr);
    socklen_t len = sizeof(addr);
    getsockname(evconnlistener_get_fd(listener_), reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~FakeSentinel() {
    for (auto& [bev, buffered] : connections_) bufferevent_free(bev);
    evconnlistener_free(listener_);
  }
  uint16_t port() const { return port_; }

  static std::string masterAt(const std::string& host, uint16_t port) {
    const std::string p = std::to_string(port);
    return "*2\r\n$" + std::to_string(host.size()) + "\r\n" + host + "\r\n$" +
           std::to_string(p.size()) + "\r\n" + p + "\r\n";
  }

 private:
  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) {
    auto* self = static_cast<FakeSentinel*>(arg);
    bufferevent* bev = bufferevent_socket_new(self->base_, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(bev, &FakeSentinel::onRead, nullptr, &FakeSentinel::onEvent, self);
    bufferevent_enable(bev, EV_READ);
    self->connections_[bev];
  }
  // The question is the whole command: it ends with the master name argument.
  static void onRead(bufferevent* bev, void* arg) {
    auto* self = static_cast<FakeSentinel*>(arg);
    std::string& buffered = self->connections_[bev];
    evbuffer* in = bufferevent_get_input(bev);
    const size_t n = evbuffer_get_length(in);
    std::string chunk(n, '\0');
    evbuffer_remove(in, chunk.data(), n);
    buffered += chunk;
    if (buffered.find("get-master-addr-by-name") != std::string::npos &&
        buffered.ends_with("$5\r\ncache\r\n")) {
      ++self->questions;
      bufferevent_write(bev, self->answer.data(), self->answer.size());
      buffered.clear();
    }
  }
  static void onEvent(bufferevent* bev, short what, void* arg) {
    if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) == 0) return;
    auto* self = static_cast<FakeSentinel*>(arg);
    self->connections_.erase(bev);
    bufferevent_free(bev);
  }

  event_base* base_;
  evconnlistener* listener_ = nullptr;
  uint16_t port_ = 0;
  std::map<bufferevent*, std::string> connections_;
};

// --- Event loop and log ---------------------------------------------------------------------

// Runs the loop until `done()` or `timeout_ms`; true if done.
bool runUntil(event_base* base, const std::function<bool()>& done, int64_t timeout_ms) {
  return test::loopUntil(base, done, timeout_ms);
}

void runFor(event_base* base, int64_t ms) {
  runUntil(
      base, [] { return false; }, ms);
}


// --- OCSP data ------------------------------------------------------------------------------

// The aws-lc response, its CA, and the CertIDs of its SingleResponse (what a client asks).
struct RealResponse {
  std::string der;
  SharedX509 issuer;
  std::vector<CertIdInfo> cert_ids;
  int64_t this_update = 0;
  int64_t next_update = 0;
};

const RealResponse& realResponse() {
  static const RealResponse r = [] {
    RealResponse out;
    out.der = test::readFile(test::realData("aws-lc-ocsp/ocsp_response.der"));
    std::string why;
    auto certs = readCertificates(test::realData("aws-lc-ocsp/ca_cert.pem"), &why);
    REQUIRE_MESSAGE(!certs.empty(), why);
    out.issuer = shareX509(std::move(certs.front()));
    const auto* p = reinterpret_cast<const unsigned char*>(out.der.data());
    OcspResponsePtr resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(out.der.size())));
    REQUIRE(resp);
    OcspBasicRespPtr basic(OCSP_response_get1_basic(resp.get()));
    REQUIRE(basic);
    OCSP_SINGLERESP* single = OCSP_resp_get0(basic.get(), 0);
    CertIdInfo id;
    REQUIRE(certIdInfoFrom(OCSP_SINGLERESP_get0_id(single), &id));
    out.cert_ids.push_back(id);
    ASN1_GENERALIZEDTIME* this_update = nullptr;
    ASN1_GENERALIZEDTIME* next_update = nullptr;
    OCSP_single_get0_status(single, nullptr, nullptr, &this_update, &next_update);
    out.this_update = *asn1ToEpoch(this_update);
    out.next_update = *asn1ToEpoch(next_update);
    return out;
  }();
  return r;
}

const FreshnessPolicy kFreshness{7 * 86400, 300};
constexpr int64_t kSkew = 300;

Lookup makeQuery(bool passthrough = false) {
  const RealResponse& r = realResponse();
  auto q = std::make_shared<OcspQuery>();
  q->cert_ids = r.cert_ids;
  q->key = cacheKeyFor(r.cert_ids);
  q->request_der = encodeOcspRequest(r.cert_ids);
  auto route = std::make_shared<Route>();
  route->upstream_name = "aws-lc";
  route->issuer = r.issuer;
  route->issuer_name = subjectLine(r.issuer.get());
  Lookup lookup{std::move(q), std::move(route)};
  lookup.passthrough = passthrough;
  return lookup;
}

std::string redisKey() { return "ocsp-proxy:" + cacheKeyString(makeQuery().query->key); }

// What the upstream stage would answer at `now`: the real response, validated; or `der`
// instead, an answer for the same CertIDs signed by the proxy's own responder `local`.
std::shared_ptr<const OcspEntry> upstreamEntry(int64_t now,
                                               const FreshnessPolicy& policy = kFreshness,
                                               std::string_view der = {},
                                               X509* local = nullptr) {
  const RealResponse& r = realResponse();
  ValidationInput in;
  in.der = der.empty() ? std::string_view(r.der) : der;
  in.cert_ids = &r.cert_ids;
  in.issuer = r.issuer.get();
  in.now = now;
  in.local_responder = local;
  auto v = validateResponse(in);
  REQUIRE_MESSAGE(v.ok(), v.error().detail);
  auto e = std::make_shared<OcspEntry>();
  e->der = in.der;
  e->produced_at = v->produced_at;
  e->this_update = v->this_update;
  e->next_update = v->next_update;
  e->fetched_at = now;
  e->status = v->status;
  e->revocation = v->revocation;
  e->upstream_fqdn = "ocsp.aws-lc.test";
  finishEntry(*e, policy);
  return e;
}

// --- The next stage -------------------------------------------------------------------------

// Records every lookup; answers at once with what `answer` returns, or holds the reply when
// `hold` is set (answerHeld() sends it later).
class FakeNext final : public Source {
 public:
  std::function<Result<Answer>()> answer;
  bool hold = false;
  int calls = 0;
  std::vector<std::pair<Lookup, Reply>> held;

  void lookup(Lookup lookup, Reply done) override {
    ++calls;
    if (hold) {
      held.emplace_back(std::move(lookup), std::move(done));
      return;
    }
    done(lookup, answer());
  }
  void answerHeld() {
    auto replies = std::move(held);
    held.clear();
    for (auto& [lookup, done] : replies) done(lookup, answer());
  }
};

Result<Answer> fromUpstream(std::shared_ptr<const OcspEntry> e) {
  return Answer{std::move(e), AnswerSource::Upstream};
}

Result<Answer> upstreamDown() {
  return makeError(ErrorCategory::UpstreamUnavailable, "timeout", "every FQDN timed out");
}

// The answers one lookup got.
struct Outcome {
  int calls = 0;
  std::optional<Result<Answer>> result;
  int64_t at_ms = 0;

  Reply reply() {
    return [this](const Lookup&, Result<Answer> r) {
      ++calls;
      at_ms = monotonicMs();
      result.emplace(std::move(r));
    };
  }
  bool answered() const { return calls > 0; }
  AnswerSource source() const {
    REQUIRE(result.has_value());
    REQUIRE(result->ok());
    return (*result)->source;
  }
};

// --- One proxy worker's view ----------------------------------------------------------------

conf::Redis redisConfig(const RedisProcess& server) {
  conf::Redis cfg;
  cfg.address = conf::RedisAddress{"127.0.0.1", server.port()};
  cfg.connect_timeout_ms = 300;
  cfg.command_timeout_ms = 100;
  cfg.reconnect_max_backoff_ms = 200;
  return cfg;
}

conf::Redis sentinelConfig(std::vector<uint16_t> sentinel_ports) {
  conf::Redis cfg;
  for (uint16_t port : sentinel_ports) cfg.sentinels.push_back({"127.0.0.1", port});
  cfg.master_name = "cache";
  cfg.connect_timeout_ms = 300;
  cfg.command_timeout_ms = 100;
  cfg.reconnect_max_backoff_ms = 200;
  return cfg;
}

// A worker's event loop and clock, and a next stage that answers with the real response,
// validated at the fake clock's time.
struct World {
  TempDir dir;
  EventBasePtr base{event_base_new()};
  FakeClock clock{realResponse().this_update + 60};
  RedisStatus status{2, "test"};
  FakeNext next;
  SharedX509 local_responder;  // RedisSource::Options::local_responder of new sources

  World() {
    next.answer = [this] { return fromUpstream(upstreamEntry(clock.now())); };
  }
  std::unique_ptr<RedisSource> source(const conf::Redis& cfg, int worker = 0,
                                      FreshnessPolicy freshness = kFreshness) {
    return source(cfg, next, worker, freshness);
  }
  std::unique_ptr<RedisSource> source(const conf::Redis& cfg, Source& next_stage, int worker,
                                      FreshnessPolicy freshness = kFreshness) {
    return std::make_unique<RedisSource>(
        base.get(), RedisSource::Options{cfg, freshness, kSkew, local_responder}, clock,
        next_stage, status, worker);
  }
  void waitConnected(const RedisSource& s, int64_t timeout_ms = 3'000) {
    REQUIRE(runUntil(
        base.get(), [&] { return s.connected(); }, timeout_ms));
  }
  // One lookup, run until answered.
  Outcome ask(RedisSource& s, bool passthrough = false) {
    Outcome o;
    s.lookup(makeQuery(passthrough), o.reply());
    REQUIRE(runUntil(
        base.get(), [&] { return o.answered(); }, 3'000));
    return o;
  }
};

// The value stored under `key` once the fire-and-forget SET has arrived.
std::string storedValue(World& w, Client& c, const std::string& key) {
  std::string value;
  runUntil(
      w.base.get(),
      [&] {
        value = c.text({"GET", key});
        return !value.empty();
      },
      2'000);
  return value;
}

// A World with one running redis-server and a client to look into it.
struct OneServer : World {
  RedisProcess server;
  Client client{server.port()};

  explicit OneServer(std::vector<std::string> config_lines = {})
      : server(dir.path(), "redis", std::move(config_lines)) {
    server.start();
  }
  conf::Redis config() const { return redisConfig(server); }
  std::unique_ptr<RedisSource> connectedSource(int worker = 0,
                                               FreshnessPolicy freshness = kFreshness) {
    auto s = source(config(), worker, freshness);
    waitConnected(*s);
    return s;
  }
  std::string stored() { return storedValue(*this, client, redisKey()); }
};

}  // namespace

// --- Tests ----------------------------------------------------------------------------------

TEST_CASE("a miss asks the next stage and writes its answer with a TTL ending at nextUpdate") {
  OneServer w;
  auto entry = upstreamEntry(w.clock.now());
  w.next.answer = [&] { return fromUpstream(entry); };
  auto source = w.connectedSource();

  Outcome o = w.ask(*source);
  CHECK(o.source() == AnswerSource::Upstream);
  CHECK((*o.result)->entry == entry);
  CHECK(w.next.calls == 1);

  const std::string value = w.stored();
  REQUIRE_FALSE(value.empty());
  auto stored = decodeEntry(value, kFreshness);
  REQUIRE(stored.has_value());
  CHECK(stored->der == entry->der);
  CHECK(stored->fetched_at == entry->fetched_at);
  CHECK(stored->upstream_fqdn == "ocsp.aws-lc.test");
  const long long expected_ms = (realResponse().next_update - w.clock.now()) * 1000;
  const long long pttl = w.client.integer({"PTTL", redisKey()});
  CHECK(pttl <= expected_ms);
  CHECK(pttl > expected_ms - 5'000);
  CHECK(w.status.counters().misses == 1);
  CHECK(w.status.counters().writes == 1);
}

TEST_CASE("another instance answers from Redis, re-validated, without asking its next stage") {
  OneServer w;
  auto entry = upstreamEntry(w.clock.now());
  w.next.answer = [&] { return fromUpstream(entry); };
  auto first = w.connectedSource(0);
  FakeNext second_next;
  second_next.answer = [] { return upstreamDown(); };
  auto second = w.source(w.config(), second_next, 1);
  w.waitConnected(*second);

  w.ask(*first);
  REQUIRE_FALSE(w.stored().empty());
  Outcome o = w.ask(*second);
  CHECK(second_next.calls == 0);
  REQUIRE(o.source() == AnswerSource::Redis);
  const OcspEntry& got = *(*o.result)->entry;
  CHECK(got.der == entry->der);
  CHECK(got.this_update == entry->this_update);
  CHECK(got.next_update == entry->next_update);
  CHECK(got.fresh_until == entry->fresh_until);
  CHECK(got.etag == entry->etag);
  CHECK(got.cacheable);
  CHECK(w.status.counters().hits == 1);
  CHECK(w.status.counters().writes == 1);  // a hit is not written back
}

TEST_CASE("an answer the proxy signed itself is served from Redis only where its responder is set") {
  OneServer w;
  test::Identity responder = test::issue({.cn = "local responder", .ocsp_signing = true}, nullptr);
  ResponderCredentials creds = test::credentialsOf(responder);
  const int64_t now = w.clock.now();
  OcspBuildInput build;
  build.singles = {{&realResponse().cert_ids[0], CertStatus::Good, {}}};
  build.produced_at = now;
  build.this_update = now - 60;
  build.next_update = now + 86400;
  build.signer = &creds;
  auto der = buildOcspResponse(build);
  REQUIRE(der.ok());
  auto entry = upstreamEntry(now, kFreshness, *der, responder.cert.get());
  w.next.answer = [&] { return fromUpstream(entry); };
  w.local_responder = creds.cert;
  auto writer = w.connectedSource(0);
  w.ask(*writer);
  REQUIRE_FALSE(w.stored().empty());

  FakeNext other_next;
  other_next.answer = [] { return upstreamDown(); };
  auto reader = w.source(w.config(), other_next, 1);
  w.waitConnected(*reader);
  Outcome hit = w.ask(*reader);
  CHECK(other_next.calls == 0);
  REQUIRE(hit.source() == AnswerSource::Redis);
  CHECK((*hit.result)->entry->der == *der);

  // An instance without that responder configured does not serve it.
  w.local_responder = nullptr;
  auto unconfigured = w.source(w.config(), other_next, 1);
  w.waitConnected(*unconfigured);
  Outcome refused = w.ask(*unconfigured);
  REQUIRE(refused.result.has_value());
  CHECK_FALSE(refused.result->ok());  // asked its next stage, which is down
  CHECK(other_next.calls == 1);
  CHECK(w.status.counters().invalid_entries == 1);
  CHECK(w.status.counters().hits == 1);
}

TEST_CASE("repeated Redis hits are validated once; each still obeys the time rules") {
  OneServer w;
  auto entry = upstreamEntry(w.clock.now());
  w.next.answer = [&] { return fromUpstream(entry); };
  auto writer = w.connectedSource(0);
  w.ask(*writer);
  REQUIRE_FALSE(w.stored().empty());

  ValidationMemo memo(16);
  FakeNext reader_next;
  reader_next.answer = [] { return upstreamDown(); };
  RedisSource reader(w.base.get(), RedisSource::Options{w.config(), kFreshness, kSkew, {}},
                     w.clock, reader_next, w.status, 1, memo);
  w.waitConnected(reader);
  for (int i = 0; i < 3; ++i) CHECK(w.ask(reader).source() == AnswerSource::Redis);
  CHECK(reader_next.calls == 0);
  CHECK(memo.stats().misses == 1);
  CHECK(memo.stats().hits == 2);

  // Expired by our clock: a miss as without the memo (next is asked, the value is kept).
  w.clock.set(realResponse().next_update);
  Outcome o = w.ask(reader);
  CHECK(reader_next.calls == 1);
  REQUIRE(o.result.has_value());
  CHECK_FALSE(o.result->ok());
  CHECK(memo.stats().hits == 3);  // "expired" came from the memo
  CHECK(w.client.integer({"EXISTS", redisKey()}) == 1);
  CHECK(w.status.counters().invalid_entries == 0);
  CHECK(w.status.counters().hits == 3);
}

TEST_CASE("a value that does not decode or validate is deleted, never served, logged once") {
  const RealResponse& r = realResponse();
  // The same response with the last byte of its signature changed.
  std::string flipped_signature = r.der;
  {
    const auto* p = reinterpret_cast<const unsigned char*>(r.der.data());
    OcspResponsePtr resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(r.der.size())));
    OcspBasicRespPtr basic(OCSP_response_get1_basic(resp.get()));
    const ASN1_OCTET_STRING* sig = OCSP_resp_get0_signature(basic.get());
    const std::string sig_bytes(reinterpret_cast<const char*>(ASN1_STRING_get0_data(sig)),
                                static_cast<size_t>(ASN1_STRING_length(sig)));
    const size_t at = r.der.find(sig_bytes);
    REQUIRE(at != std::string::npos);
    flipped_signature[at + sig_bytes.size() - 1] ^= 0x01;
  }
  struct Case {
    std::string what;
    std::function<std::string(const OcspEntry&)> value;
    const char* reason;
  };
  const Case cases[] = {
      {"garbage", [](const OcspEntry&) { return std::string("not an entry"); }, "undecodable"},
      {"truncated",
       [](const OcspEntry& e) {
         std::string v = encodeEntry(e);
         return v.substr(0, v.size() - 1);
       },
       "undecodable"},
      {"signature edited",
       [&](const OcspEntry& e) {
         OcspEntry edited = e;
         edited.der = flipped_signature;
         return encodeEntry(edited);
       },
       "bad_signature"},
      {"status disagrees with the DER",
       [](const OcspEntry& e) {
         OcspEntry edited = e;
         edited.status = CertStatus::Revoked;
         edited.revocation = Revocation{e.this_update, 1};
         return encodeEntry(edited);
       },
       "fields_disagree_with_der"},
      {"a response for another CertID (SHA-256 instead of SHA-1)",
       [](const OcspEntry& e) {
         OcspEntry other = e;
         other.der = test::readFile(test::realData("aws-lc-ocsp/ocsp_response_sha256.der"));
         return encodeEntry(other);
       },
       "certid_mismatch"},
  };
  OneServer w;
  w.next.answer = [] { return upstreamDown(); };
  const auto entry = upstreamEntry(w.clock.now());

  for (const auto& k : cases) {
    CAPTURE(k.what);
    // Each case starts with a source that has not reported the key yet.
    auto source = w.connectedSource();
    test::StderrCapture log;
    for (int round = 0; round < 2; ++round) {
      w.client.run({"SET", redisKey(), k.value(*entry)});
      const int calls_before = w.next.calls;
      Outcome o = w.ask(*source);
      CHECK(w.next.calls == calls_before + 1);
      REQUIRE(o.result.has_value());
      CHECK_FALSE(o.result->ok());  // the error from next, no stale answer from bad bytes
      CHECK(runUntil(
          w.base.get(),
          [&] {
            return w.client.integer({"EXISTS", redisKey()}) == 0;
          },
          2'000));
    }
    CHECK(log.count({"event=redis_entry_invalid", std::string("reason=") + k.reason}) == 1);
  }
  CHECK(w.status.counters().invalid_entries == 2 * std::size(cases));
  CHECK(w.status.counters().hits == 0);
}

TEST_CASE(
    "a nonce passthrough lookup goes to next even on a fresh value, writes an answer without "
    "nonce, not one that echoes it, and gets the Redis value when next fails") {
  OneServer w;
  auto source = w.connectedSource();
  // The CA echoes the nonce: nothing is written.
  w.next.answer = [&] {
    auto echoed = std::make_shared<OcspEntry>(*upstreamEntry(w.clock.now()));
    echoed->cacheable = false;
    return fromUpstream(std::move(echoed));
  };
  Outcome o = w.ask(*source, /*passthrough=*/true);
  CHECK(o.source() == AnswerSource::Upstream);
  runFor(w.base.get(), 50);
  CHECK(w.client.integer({"DBSIZE"}) == 0);
  CHECK(w.status.counters().writes == 0);

  // The CA ignores the nonce: the answer is written for every instance.
  w.next.answer = [&] { return fromUpstream(upstreamEntry(w.clock.now())); };
  o = w.ask(*source, /*passthrough=*/true);
  CHECK(o.source() == AnswerSource::Upstream);
  REQUIRE_FALSE(w.stored().empty());
  CHECK(w.status.counters().writes == 1);

  // A fresh value does not answer a passthrough lookup: next does.
  const int calls = w.next.calls;
  o = w.ask(*source, /*passthrough=*/true);
  CHECK(w.next.calls == calls + 1);
  CHECK(o.source() == AnswerSource::Upstream);
  CHECK(w.status.counters().hits == 0);

  // Next fails: the value from Redis answers.
  w.next.answer = [] { return upstreamDown(); };
  o = w.ask(*source, /*passthrough=*/true);
  CHECK(o.source() == AnswerSource::Stale);
  CHECK((*o.result)->entry->der == realResponse().der);
  CHECK(w.status.counters().stale_served == 1);
}

TEST_CASE("a hung Redis costs a lookup at most command_timeout and its late reply is ignored") {
  OneServer w;
  auto source = w.connectedSource();
  w.server.pause();
  const int64_t start = monotonicMs();
  Outcome o = w.ask(*source);
  const int64_t elapsed = o.at_ms - start;
  CHECK(o.source() == AnswerSource::Upstream);
  CHECK(elapsed >= 90);
  CHECK(elapsed <= 100 + 150);  // command_timeout, plus scheduling slack
  CHECK(w.status.counters().timeouts == 1);
  w.server.resume();
  runFor(w.base.get(), 200);  // the GET's reply arrives now and must change nothing
  CHECK(o.calls == 1);
  CHECK(w.next.calls == 1);
  CHECK(source->connected());
}

TEST_CASE("each command times out at its own deadline, and replies reach their own command") {
  OneServer w;
  RedisConnection conn(w.base.get(), w.config(), w.status, 0);
  REQUIRE(runUntil(
      w.base.get(), [&] { return conn.up(); }, 3'000));
  const int64_t start = monotonicMs();
  // Timed out (or answered) when, and with what.
  struct Got {
    int64_t at_ms = -1;
    RedisConnection::Outcome outcome{};
    std::string text;
  };
  auto sendGet = [&](const std::string& key, int64_t timeout_ms, Got* got) {
    REQUIRE(conn.command({"GET", key}, timeout_ms,
                         [got](RedisConnection::Outcome outcome, const redisReply* reply) {
                           got->at_ms = monotonicMs();
                           got->outcome = outcome;
                           if (reply != nullptr && reply->type == REDIS_REPLY_STRING) {
                             got->text.assign(reply->str, reply->len);
                           }
                         }));
  };
  w.client.text({"SET", "k-late", "late"});
  w.server.pause();
  // Deadlines out of the order sent (300 ms, then 100 ms), and one without a timeout. (Two
  // timeouts: a third in a row would take the connection down.)
  Got slow, fast, patient;
  sendGet("k-late", 300, &slow);
  sendGet("k-late", 100, &fast);
  sendGet("k-late", 0, &patient);
  REQUIRE(runUntil(
      w.base.get(), [&] { return slow.at_ms >= 0; }, 2'000));
  CHECK(fast.outcome == RedisConnection::Outcome::Timeout);
  CHECK(slow.outcome == RedisConnection::Outcome::Timeout);
  CHECK(fast.at_ms - start >= 95);
  CHECK(fast.at_ms - start <= 100 + 150);
  CHECK(slow.at_ms - start >= 295);
  CHECK(slow.at_ms - start <= 300 + 150);
  CHECK(patient.at_ms == -1);  // no timeout: it waits for its reply
  CHECK(w.status.counters().timeouts == 2);
  // A command sent now must get its own reply, not one owed to a timed-out command.
  Got fresh;
  w.server.resume();
  conn.command({"SET", "k-new", "new"}, 0, [](RedisConnection::Outcome, const redisReply*) {});
  sendGet("k-new", 1'000, &fresh);
  REQUIRE(runUntil(
      w.base.get(), [&] { return fresh.at_ms >= 0 && patient.at_ms >= 0; }, 2'000));
  CHECK(patient.outcome == RedisConnection::Outcome::Replied);
  CHECK(patient.text == "late");
  CHECK(fresh.outcome == RedisConnection::Outcome::Replied);
  CHECK(fresh.text == "new");
  CHECK(slow.text.empty());  // its late reply was dropped
  CHECK(fast.text.empty());
  CHECK(conn.up());
}

TEST_CASE("three timeouts in a row take a hung Redis down until it answers again") {
  OneServer w;
  auto source = w.connectedSource();
  test::StderrCapture log;
  w.server.pause();
  for (int i = 0; i < 3; ++i) w.ask(*source);
  CHECK_FALSE(source->connected());
  CHECK(log.count(
            {"event=redis_state", "state=down", "reason=\"3 commands in a row timed out\""}) == 1);
  Outcome bypassed;
  source->lookup(makeQuery(), bypassed.reply());
  CHECK(bypassed.answered());  // straight to next, no waiting
  w.server.resume();
  w.waitConnected(*source);
  CHECK(log.count({"event=redis_state", "state=up"}) == 1);
}

TEST_CASE(
    "Redis killed: lookups go straight to next, status down, one log line; back after a "
    "restart") {
  OneServer w;
  test::StderrCapture log;
  auto source = w.connectedSource(1);
  CHECK(w.status.up(1));
  CHECK(w.status.describe() == "redis: 1/2 connections up to " + w.server.address());

  w.server.kill9();
  REQUIRE(runUntil(
      w.base.get(), [&] { return !source->connected(); }, 2'000));
  CHECK_FALSE(w.status.up(1));
  CHECK(w.status.describe() == "redis: 0/2 connections up (test)");
  for (int i = 0; i < 5; ++i) {
    Outcome o;
    source->lookup(makeQuery(), o.reply());
    CHECK(o.answered());  // answered before lookup() returned: nothing waited for Redis
    CHECK(o.source() == AnswerSource::Upstream);
  }
  CHECK(w.status.counters().bypassed == 5);
  runFor(w.base.get(), 700);  // several failed reconnects (100ms, 200ms, 200ms, ...)
  CHECK(log.count({"event=redis_state", "state=down", "worker=1"}) == 1);
  CHECK(log.count({"event=redis_state"}) == 2);
  CHECK(w.status.counters().disconnects == 1);

  w.server.start();
  w.waitConnected(*source, 2'000);
  CHECK(log.count({"event=redis_state", "state=up", "worker=1"}) == 2);
  w.ask(*source);
  CHECK_FALSE(w.stored().empty());
}

TEST_CASE("a write never replaces a newer answer in Redis, nor a revoked one of the same time") {
  OneServer w;
  const int64_t t = realResponse().this_update;
  auto answerAt = [&](int64_t this_update, int64_t produced_at, CertStatus status) {
    auto e = std::make_shared<OcspEntry>(*upstreamEntry(w.clock.now()));
    e->this_update = this_update;
    e->produced_at = produced_at;
    e->status = status;
    return std::shared_ptr<const OcspEntry>(e);
  };
  // Another instance stored the CA's latest answer: revoked.
  const std::string newest = encodeEntry(*answerAt(t, t, CertStatus::Revoked));
  w.client.run({"SET", redisKey(), newest});
  // A refresh skips the GET and writes whatever the next stage brought.
  Lookup refresh = makeQuery();
  refresh.refresh = true;
  auto writeBack = [&](std::shared_ptr<const OcspEntry> offered) {
    const std::string before = w.client.text({"GET", redisKey()});
    w.next.answer = [offered] { return fromUpstream(offered); };
    auto source = w.connectedSource();
    Outcome o;
    test::StderrCapture log;
    source->lookup(refresh, o.reply());
    REQUIRE(runUntil(w.base.get(), [&] { return o.answered(); }, 3'000));
    runUntil(w.base.get(), [&] {
      return w.status.counters().older_refused > 0 || w.client.text({"GET", redisKey()}) != before;
    }, 2'000);
    return log.count({"event=older_answer_refused", "store=redis"});
  };

  SUBCASE("an older thisUpdate (a replayed good) is refused and logged") {
    CHECK(writeBack(answerAt(t - 2 * 86400, t - 2 * 86400, CertStatus::Good)) == 1);
    CHECK(w.client.text({"GET", redisKey()}) == newest);
    CHECK(w.status.counters().older_refused == 1);
  }
  SUBCASE("the same times but not revoked: the revoked answer stays") {
    CHECK(writeBack(answerAt(t, t, CertStatus::Good)) == 1);
    CHECK(w.client.text({"GET", redisKey()}) == newest);
  }
  SUBCASE("the same thisUpdate, produced earlier: refused") {
    CHECK(writeBack(answerAt(t, t - 10, CertStatus::Revoked)) == 1);
    CHECK(w.client.text({"GET", redisKey()}) == newest);
  }
  SUBCASE("a newer answer replaces it") {
    auto newer = answerAt(t + 10, t + 10, CertStatus::Good);
    CHECK(writeBack(newer) == 0);
    CHECK(w.client.text({"GET", redisKey()}) == encodeEntry(*newer));
    CHECK(w.status.counters().older_refused == 0);
    CHECK(w.client.integer({"PTTL", redisKey()}) > 0);
  }
  SUBCASE("a stored value claiming a thisUpdate no reader would accept is overwritten") {
    const std::string bogus = encodeEntry(*answerAt(t + 365 * 86400, t, CertStatus::Revoked));
    w.client.run({"SET", redisKey(), bogus});
    auto honest = answerAt(t, t, CertStatus::Good);
    CHECK(writeBack(honest) == 0);
    CHECK(w.client.text({"GET", redisKey()}) == encodeEntry(*honest));
  }
}

TEST_CASE("a Redis value claiming a fetch in the future is deleted, never served") {
  OneServer w;
  // The fetch time is the one field no signature covers (finishEntry never lets it extend an
  // answer's life; test_cache), and no honest instance writes one in the future.
  OcspEntry forged = *upstreamEntry(w.clock.now());
  forged.fetched_at = w.clock.now() + 7 * 86400;
  w.client.run({"SET", redisKey(), encodeEntry(forged)});
  FakeNext reader_next;
  reader_next.answer = [] { return upstreamDown(); };
  auto reader = w.source(w.config(), reader_next, 1);
  w.waitConnected(*reader);
  test::StderrCapture log;
  Outcome o = w.ask(*reader);
  CHECK(reader_next.calls == 1);
  REQUIRE(o.result.has_value());
  CHECK_FALSE(o.result->ok());
  CHECK(log.count({"event=redis_entry_invalid", "reason=fetched_at_implausible"}) == 1);
  CHECK(runUntil(w.base.get(), [&] { return w.client.integer({"EXISTS", redisKey()}) == 0; },
                 2'000));
}

TEST_CASE("a stale Redis entry answers while the next stage fails, until hard_expiry") {
  OneServer w;
  // Fresh for 60s after thisUpdate, then stale until nextUpdate.
  const FreshnessPolicy one_minute{60, 300};
  w.next.answer = [&] { return fromUpstream(upstreamEntry(w.clock.now(), one_minute)); };
  auto source = w.connectedSource(0, one_minute);
  w.clock.set(realResponse().this_update + 30);
  w.ask(*source);
  REQUIRE_FALSE(w.stored().empty());

  w.clock.set(realResponse().this_update + 120);
  auto upstream_answer = w.next.answer;
  w.next.answer = [] { return upstreamDown(); };
  {
    test::StderrCapture log;
    Outcome o = w.ask(*source);
    CHECK(w.next.calls == 2);  // not fresh: next is asked first
    CHECK(o.source() == AnswerSource::Stale);
    CHECK((*o.result)->entry->der == realResponse().der);
    CHECK(log.count({"event=stale_answer", "from=redis", "reason=timeout"}) == 1);
    CHECK(w.status.counters().stale_served == 1);
  }

  SUBCASE("the next stage's own answer wins over the stale one") {
    w.next.answer = upstream_answer;
    Outcome o = w.ask(*source);
    CHECK(o.source() == AnswerSource::Upstream);
  }
  SUBCASE("not when the clock passes hard_expiry while the next stage works") {
    w.next.answer = [&] {
      w.clock.set(realResponse().next_update);
      return upstreamDown();
    };
    Outcome o = w.ask(*source);
    REQUIRE(o.result.has_value());
    CHECK_FALSE(o.result->ok());
    CHECK(o.result->error().code == "timeout");
  }
  SUBCASE("never once nextUpdate has passed") {
    w.clock.set(realResponse().next_update + 1);
    Outcome o = w.ask(*source);
    REQUIRE(o.result.has_value());
    CHECK_FALSE(o.result->ok());
    CHECK(w.client.integer({"EXISTS", redisKey()}) == 1);  // expired by our clock, not corrupt
  }
  CHECK(w.status.counters().stale_served == 1);
}

TEST_CASE("AUTH and SELECT: the right password and db work, a wrong password keeps it down") {
  OneServer w({"requirepass p4ss-w0rd"});
  conf::Redis cfg = w.config();

  SUBCASE("right password, db 3") {
    cfg.password = "p4ss-w0rd";
    cfg.db = 3;
    auto source = w.source(cfg);
    w.waitConnected(*source);
    w.ask(*source);
    w.client.run({"AUTH", "p4ss-w0rd"});
    w.client.run({"SELECT", "3"});
    CHECK_FALSE(w.stored().empty());
  }
  SUBCASE("wrong password") {
    cfg.password = "wr0ng-s3cret";
    test::StderrCapture log;
    auto source = w.source(cfg);
    runFor(w.base.get(), 400);
    CHECK_FALSE(source->connected());
    CHECK(log.count({"event=redis_state", "state=down", "reason=\"AUTH: WRONGPASS"}) == 1);
    CHECK(log.text().find("wr0ng-s3cret") == std::string::npos);
    Outcome o;
    source->lookup(makeQuery(), o.reply());
    CHECK(o.answered());
  }
}

TEST_CASE("a server that accepts but never answers fails within connect_timeout") {
  World w;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(listen(fd, 16) == 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  conf::Redis cfg;
  cfg.address = conf::RedisAddress{"127.0.0.1", ntohs(addr.sin_port)};
  cfg.connect_timeout_ms = 150;
  test::StderrCapture log;
  auto source = w.source(cfg);
  REQUIRE(runUntil(
      w.base.get(),
      [&] {
        return log.count({"event=redis_state", "state=down"}) == 1;
      },
      1'000));
  CHECK(log.count({"reason=\"connect timed out after 150ms\""}) == 1);
  source.reset();
  close(fd);
}

TEST_CASE("a unix socket works like a TCP address") {
  TempDir socket_dir;
  const std::string socket_path = socket_dir.path() + "/redis.sock";
  OneServer w({"unixsocket " + socket_path, "unixsocketperm 700"});
  conf::Redis cfg = w.config();
  cfg.address.reset();
  cfg.unix_socket = socket_path;
  auto source = w.source(cfg);
  w.waitConnected(*source);
  CHECK(source->serverAddress() == "unix:" + socket_path);
  w.ask(*source);
  CHECK_FALSE(w.stored().empty());
}

TEST_CASE("destroying the source drops replies still owed to it") {
  OneServer w;
  Outcome waiting_for_redis;
  Outcome waiting_for_next;
  {
    auto source = w.connectedSource();
    w.next.hold = true;
    source->lookup(makeQuery(), waiting_for_next.reply());
    REQUIRE(runUntil(
        w.base.get(), [&] { return w.next.calls == 1; }, 1'000));
    w.server.pause();
    source->lookup(makeQuery(), waiting_for_redis.reply());
  }
  w.next.answerHeld();
  w.server.resume();
  runFor(w.base.get(), 200);
  CHECK(waiting_for_next.calls == 0);
  CHECK(waiting_for_redis.calls == 0);
  CHECK(w.next.calls == 1);
  CHECK_FALSE(w.status.up(0));
}

TEST_CASE("RedisStatus says how many workers are connected and where, for /readyz") {
  RedisStatus none;
  CHECK_FALSE(none.configured());
  CHECK(none.allUp());
  CHECK(none.describe() == "redis: not configured");

  RedisStatus status(3, "sentinel:cache");
  CHECK(status.configured());
  CHECK_FALSE(status.allUp());
  CHECK(status.describe() == "redis: 0/3 connections up (sentinel:cache)");
  status.setUp(0, "10.0.0.1:6379");
  status.setUp(2, "10.0.0.2:6379");
  CHECK(status.upCount() == 2);
  CHECK(status.describe() == "redis: 2/3 connections up to 10.0.0.1:6379, 10.0.0.2:6379");
  status.setUp(1, "10.0.0.1:6379");
  CHECK(status.allUp());
  status.setDown(2);
  CHECK(status.describe() == "redis: 2/3 connections up to 10.0.0.1:6379");
}

TEST_CASE("with sentinels the source follows a failover to the new master") {
  World w;
  RedisProcess master(w.dir.path(), "master", {});
  master.start();
  RedisProcess replica(w.dir.path(), "replica",
                       {"replicaof 127.0.0.1 " + std::to_string(master.port())});
  replica.start();
  RedisProcess sentinel(
      w.dir.path(), "sentinel",
      {"sentinel monitor cache 127.0.0.1 " + std::to_string(master.port()) + " 1",
       "sentinel down-after-milliseconds cache 1000", "sentinel failover-timeout cache 3000"},
      /*sentinel=*/true);
  sentinel.start();
  Client to_sentinel(sentinel.port());
  Client to_master(master.port());
  Client to_replica(replica.port());
  // The failover needs a replica that is in sync and known to the sentinel.
  REQUIRE(runUntil(
      w.base.get(),
      [&] {
        auto replicas = to_sentinel.run({"SENTINEL", "replicas", "cache"});
        return to_replica.text({"INFO", "replication"}).find("master_link_status:up") !=
                   std::string::npos &&
               replicas && replicas->type == REDIS_REPLY_ARRAY && replicas->elements == 1;
      },
      10'000));

  test::StderrCapture log;
  // Nobody listens on port 1: the second sentinel is asked.
  auto source = w.source(sentinelConfig({1, sentinel.port()}));
  w.waitConnected(*source);
  CHECK(source->serverAddress() == master.address());
  w.ask(*source);
  CHECK_FALSE(storedValue(w, to_master, redisKey()).empty());

  REQUIRE(runUntil(
      w.base.get(),
      [&] {
        return to_sentinel.text({"SENTINEL", "FAILOVER", "cache"}) == "OK";
      },
      10'000));
  REQUIRE(runUntil(
      w.base.get(),
      [&] { return source->connected() && source->serverAddress() == replica.address(); }, 20'000));
  CHECK(w.status.counters().master_changes >= 1);
  CHECK(log.count({"event=redis_master_changed", "to=" + replica.address()}) >= 1);

  // The new master has the old entry (replicated); remove it so that the next write shows.
  auto role = to_replica.run({"ROLE"});
  REQUIRE(role);
  REQUIRE(role->type == REDIS_REPLY_ARRAY);
  CHECK(std::string(role->element[0]->str) == "master");
  to_replica.run({"DEL", redisKey()});
  w.next.calls = 0;
  w.ask(*source);
  CHECK(w.next.calls == 1);
  CHECK_FALSE(storedValue(w, to_replica, redisKey()).empty());
}

TEST_CASE("a write refused with READONLY makes the source ask the sentinels at once") {
  World w;
  RedisProcess a(w.dir.path(), "a", {});
  RedisProcess b(w.dir.path(), "b", {});
  a.start();
  b.start();
  FakeSentinel sentinel(w.base.get());
  sentinel.answer = FakeSentinel::masterAt("127.0.0.1", a.port());
  test::StderrCapture log;
  auto source = w.source(sentinelConfig({sentinel.port()}));
  w.waitConnected(*source);
  CHECK(source->serverAddress() == a.address());
  CHECK(sentinel.questions == 1);

  // a is demoted behind the sentinel's back; the sentinel now names b.
  Client to_a(a.port());
  CHECK(to_a.text({"REPLICAOF", "127.0.0.1", std::to_string(b.port())}) == "OK");
  sentinel.answer = FakeSentinel::masterAt("127.0.0.1", b.port());
  const int64_t start = monotonicMs();
  Outcome o = w.ask(*source);  // a still answers the GET; the SET is refused
  CHECK(o.source() == AnswerSource::Upstream);
  REQUIRE(runUntil(
      w.base.get(), [&] { return source->connected() && source->serverAddress() == b.address(); },
      2'000));
  CHECK(monotonicMs() - start < 1'000);  // not the 5s periodic check
  CHECK(sentinel.questions == 2);
  CHECK(w.status.counters().write_errors == 1);
  CHECK(log.count({"event=redis_write_failed", "reason=\"READONLY"}) == 1);
  CHECK(log.count({"event=redis_master_changed", "to=" + b.address()}) == 1);

  w.ask(*source);
  Client to_b(b.port());
  CHECK_FALSE(storedValue(w, to_b, redisKey()).empty());
}

TEST_CASE("sentinel answers that cannot be used keep the stage down, with the reason") {
  World w;
  RedisProcess replica(w.dir.path(), "replica", {"replicaof 127.0.0.1 1"});
  replica.start();
  struct Case {
    std::string what;
    std::string answer;
    std::string reason;
  };
  const Case cases[] = {
      {"unknown master", "$-1\r\n", "does not know master cache"},
      {"error", "-IDONTKNOW No such master with that name\r\n", "IDONTKNOW No such master"},
      {"host name", FakeSentinel::masterAt("redis.internal", 6379),
       "answered with host name redis.internal (only IP addresses are used)"},
      {"bad port", FakeSentinel::masterAt("127.0.0.1", 0), "unexpected answer"},
      {"a replica", FakeSentinel::masterAt("127.0.0.1", replica.port()), "ROLE: server is slave"},
  };
  w.next.answer = [] { return upstreamDown(); };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    FakeSentinel sentinel(w.base.get());
    sentinel.answer = c.answer;
    test::StderrCapture log;
    auto source = w.source(sentinelConfig({sentinel.port()}));
    CHECK(runUntil(
        w.base.get(),
        [&] {
          return log.count({"event=redis_state", "state=down"}) == 1;
        },
        1'000));
    CHECK(log.count({c.reason}) == 1);
    CHECK_FALSE(source->connected());
    Outcome o;
    source->lookup(makeQuery(), o.reply());
    CHECK(o.answered());
  }
}

}  // namespace ocsp
