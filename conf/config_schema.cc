// ocsp-proxy's key tables: phase 1 of the loader (conf/config.h). One schema table per map,
// each key with the parser that stores its value; the generic machinery (Loader, Schema,
// walkMap, the scalar parsers) is in conf/yaml_schema.h, the watch and revocation_log keys in
// conf/config_watch.h, and distrust in conf/config_distrust.h.
#include "conf/config_schema.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "conf/config_bridge.h"
#include "conf/config_distrust.h"
#include "conf/config_watch.h"
#include "conf/value_parsers.h"

namespace ocsp::conf {

namespace {

namespace fs = std::filesystem;

// --- Value parsers ---------------------------------------------------------------------------

// Listen addresses need their port; port 0 picks a free one.
Result<ListenAddress> address(Loader& l, const Item& v) {
  auto hp = hostPort(l, v, std::nullopt, 0);
  if (!hp.ok()) return hp.error();
  return ListenAddress{std::move(hp->host), hp->port};
}

// resolve: FQDN -> IP literal. A bad name is reported at the map, not under itself.
Result<std::map<std::string, std::string>> resolveMap(Loader& l, const Item& v) {
  std::map<std::string, std::string> out;
  if (v.node.IsNull()) return out;
  if (!v.node.IsMap()) return wrongType(l, v, "a map");
  for (const auto& entry : v.node) {
    Item key{entry.first, v.path, lineOf(entry.first, v.line)};
    auto fqdn = hostName(l, key);
    if (!fqdn.ok()) return fqdn.error();
    std::string path = join(v.path, *fqdn);
    if (out.count(*fqdn) != 0) return l.fail(path, key.line, "duplicate key");
    auto ip = ipAddress(l, l.item(entry.second, path, key.line));
    if (!ip.ok()) return ip.error();
    out.emplace(*fqdn, *ip);
  }
  return out;
}

// --- Redis -----------------------------------------------------------------------------------

// Redis and sentinel addresses: the port may be left out (6379, 26379); it is never 0.
auto redisAddress(uint16_t default_port) {
  return [default_port](Loader& l, const Item& v) -> Result<RedisAddress> {
    auto hp = hostPort(l, v, default_port, 1);
    if (!hp.ok()) return hp.error();
    return RedisAddress{std::move(hp->host), hp->port};
  };
}

Result<std::string> unixSocketPath(Loader& l, const Item& v) {
  auto s = text(l, v);
  if (!s.ok()) return s;
  if (s->empty() || (*s)[0] != '/') return l.fail(v, "not an absolute path: " + inQuotes(*s));
  // sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
  if (s->size() > 107) return l.fail(v, "too long for a unix socket path (at most 107 bytes)");
  return s;
}

// The value is a secret: messages never quote it.
Result<std::string> secret(Loader& l, const Item& v) {
  auto s = text(l, v);
  if (s.ok() && s->empty()) return l.fail(v, "must not be empty");
  return s;
}

// The first retry waits 100ms; a smaller cap would make that the longest wait.
Result<int64_t> backoffMs(Loader& l, const Item& v) {
  auto ms = durationMs(l, v);
  if (ms.ok() && *ms < 100) {
    return l.fail(v, "must be at least 100ms: " + inQuotes(v.node.Scalar()));
  }
  return ms;
}

// --- Issuer certificates ---------------------------------------------------------------------

bool isCertificateFile(const fs::directory_entry& entry) {
  std::error_code ec;
  if (!entry.is_regular_file(ec)) return false;
  const fs::path ext = entry.path().extension();
  return ext == ".pem" || ext == ".crt" || ext == ".cer";
}

// Appends the certificates of one file. `shown` is the path as the config spells it.
Status readCertFile(Loader& l, const Item& v, const std::string& shown, const std::string& full,
                    std::vector<IssuerCert>* out) {
  auto certs = certificatesIn(l, v, shown, full);
  if (!certs.ok()) return certs.error();
  for (auto& cert : *certs) out->push_back(IssuerCert{full, shareX509(std::move(cert))});
  return Ok{};
}

// One issuers[] entry: a certificate file, or a directory of them (not recursive).
Result<std::vector<IssuerCert>> issuerEntry(Loader& l, const Item& v) {
  auto written = text(l, v);
  if (!written.ok()) return written.error();
  const std::string full = l.resolvePath(*written);
  struct stat st {};
  if (::stat(full.c_str(), &st) != 0) {
    return l.fail(v, "cannot read " + inQuotes(*written) + ": " + osError(errno));
  }
  std::vector<IssuerCert> out;
  if (S_ISREG(st.st_mode)) {
    if (auto s = readCertFile(l, v, *written, full, &out); !s.ok()) return s.error();
    return out;
  }
  if (!S_ISDIR(st.st_mode)) return l.fail(v, "not a file or directory: " + inQuotes(*written));

  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(full, ec), end; !ec && it != end; it.increment(ec)) {
    if (isCertificateFile(*it)) names.push_back(it->path().filename().string());
  }
  if (ec) return l.fail(v, "cannot read " + inQuotes(*written) + ": " + ec.message());
  if (names.empty()) {
    return l.fail(v,
                  "no certificate files (*.pem, *.crt, *.cer) in directory " + inQuotes(*written));
  }
  std::sort(names.begin(), names.end());  // load order must not depend on the file system
  for (const auto& name : names) {
    auto s = readCertFile(l, v, (fs::path(*written) / name).string(),
                          (fs::path(full) / name).string(), &out);
    if (!s.ok()) return s.error();
  }
  return out;
}


// --- Forward proxy and CRLs ------------------------------------------------------------------

// forward.aia_fqdns and crl.fqdns: hosts the proxy fetches from on a client's behalf.
Result<HostAndPort> allowedHost(Loader& l, const Item& v) {
  auto hp = fqdnPort(l, v, 80);
  if (!hp.ok()) return hp.error();
  return HostAndPort{std::move(hp->host), hp->port};
}

// A caIssuers certificate is the same for years: a shorter time only asks the CA more often.
Result<int64_t> aiaTtl(Loader& l, const Item& v) {
  auto s = seconds(l, v);
  if (s.ok() && *s < 60) return l.fail(v, "must be at least 1m: " + inQuotes(v.node.Scalar()));
  return s;
}

// The whole snapshot is encoded and written each time: more often than every 10 s would keep
// a core and the disk busy for little; beyond a week it is written at shutdown only in effect.
Result<int64_t> snapshotInterval(Loader& l, const Item& v) {
  auto s = seconds(l, v);
  if (s.ok() && (*s < 10 || *s > 7 * 86400)) {
    return l.fail(v, "must be between 10s and 7d: " + inQuotes(v.node.Scalar()));
  }
  return s;
}

// Relative to the config file, like issuer paths; phase 2 checks that it exists.
Result<std::string> trustStorePath(Loader& l, const Item& v) {
  auto s = text(l, v);
  if (!s.ok()) return s;
  if (s->empty()) return l.fail(v, "must not be empty");
  return l.resolvePath(*s);
}

auto unknownIssuerPolicy() {
  return oneOf<UnknownIssuerPolicy>(
      {{"pass", UnknownIssuerPolicy::Pass}, {"refuse", UnknownIssuerPolicy::Refuse}});
}

// state_dir: `none`, or a directory (absolute once resolved). Not checked here: a missing or
// read-only directory only costs the state kept across restarts (a warning at start).
Result<std::string> stateDirPath(Loader& l, const Item& v) {
  auto s = text(l, v);
  if (!s.ok()) return s;
  if (s->empty()) return l.fail(v, "must not be empty (use none to keep no state)");
  if (*s == "none") return std::string();
  return fs::absolute(l.resolvePath(*s)).lexically_normal().string();
}

// --- The schema ------------------------------------------------------------------------------

const Schema<Config>& listenSchema() {
  static const Schema<Config> schema = {
      field<Apply::Restart>("ocsp", &Config::listen_ocsp, address),
      field<Apply::Restart>("admin", &Config::listen_admin, address),
  };
  return schema;
}

const Schema<Limits>& limitsSchema() {
  static const Schema<Limits> schema = {
      field("max_request_bytes", &Limits::max_request_bytes, sizeValue),
      field("max_header_bytes", &Limits::max_header_bytes, sizeValue),
      field("client_timeout", &Limits::client_timeout_ms, timeoutMs),
      field("request_timeout", &Limits::request_timeout_ms, timeoutMs),
      field("upstream_timeout", &Limits::upstream_timeout_ms, timeoutMs),
      field("max_upstream_response_bytes", &Limits::max_upstream_response_bytes, sizeValue),
      field("max_connections", &Limits::max_connections, integer(1, 1'000'000)),
      field("max_headers", &Limits::max_headers, integer(1, 1000)),
      field("rate_per_client", &Limits::rate_per_client, integer(0, 1'000'000)),
      field("rate_burst", &Limits::rate_burst, integer(0, 1'000'000)),
      field("drain_timeout", &Limits::drain_timeout_ms, timeoutMs),
      field<Apply::Restart>("revocation_log_buffer", &Limits::revocation_log_buffer, sizeValue),
      field("max_cert_ids_per_request", &Limits::max_cert_ids_per_request, integer(1, 10'000)),
  };
  return schema;
}

const Schema<Cache>& cacheSchema() {
  static const Schema<Cache> schema = {
      field<Apply::Restart>("memory_bytes", &Cache::memory_bytes, sizeOrZero),  // 0 = none
      field("max_age", &Cache::max_age_s, seconds),             // 0 = no cap beyond nextUpdate
      field("no_next_update_ttl", &Cache::no_next_update_ttl_s, seconds),
      field("clock_skew", &Cache::clock_skew_s, seconds),
      field("refresh_percent", &Cache::refresh_percent, integer(1, 100)),
      field("request_memo_bytes", &Cache::request_memo_bytes, sizeOrZero),  // 0 = no memo
      field<Apply::Restart>("snapshot_interval", &Cache::snapshot_interval_s, snapshotInterval),
      field<Apply::Restart>("snapshot_max_bytes", &Cache::snapshot_max_bytes, sizeOrZero),
  };
  return schema;
}

const Schema<Logging>& loggingSchema() {
  static const Schema<Logging> schema = {
      field("level", &Logging::level,
            oneOf<LogLevel>({{"debug", LogLevel::Debug},
                             {"info", LogLevel::Info},
                             {"warn", LogLevel::Warn},
                             {"error", LogLevel::Error}})),
  };
  return schema;
}

const Schema<Upstream>& upstreamSchema() {
  static const Schema<Upstream> schema = {
      field("name", &Upstream::name, plainName, Need::Required),  // a log field and label
      // Empty or left out only with revocation_source crl (phase 2, conf/config_bridge.h).
      field("fqdns", &Upstream::fqdns, listOf(hostName, Entries::AnyNumber)),
      field("scheme", &Upstream::scheme,
            oneOf<std::string>({{"http", "http"}, {"https", "https"}})),
      field("port", &Upstream::port, integer(1, 65535)),  // 0 = the scheme's port (phase 2)
      field("path", &Upstream::path, urlPath),
      field("issuers", &Upstream::issuers, issuerFiles, Need::Required),
      field("revocation_source", &Upstream::revocation_source, revocationSourceValue),
      field("crls", &Upstream::crls, listOf(fqdnUrl)),
  };
  return schema;
}

const Schema<Redis>& redisSchema() {
  static const Schema<Redis> schema = {
      field("address", &Redis::address, redisAddress(6379)),
      field("unix_socket", &Redis::unix_socket, unixSocketPath),
      field("sentinels", &Redis::sentinels, listOf(redisAddress(26379))),
      field("master_name", &Redis::master_name, plainName),
      field("password", &Redis::password, secret),
      field("db", &Redis::db, integer(0, 15)),
      field("key_prefix", &Redis::key_prefix, text),
      field("connect_timeout", &Redis::connect_timeout_ms, timeoutMs),
      field("command_timeout", &Redis::command_timeout_ms, timeoutMs),
      field("reconnect_max_backoff", &Redis::reconnect_max_backoff_ms, backoffMs),
  };
  return schema;
}

const Schema<Forward>& forwardSchema() {
  static const Schema<Forward> schema = {
      field("enabled", &Forward::enabled, boolean),
      field("unknown_issuer", &Forward::unknown_issuer, unknownIssuerPolicy()),
      field("aia_fqdns", &Forward::aia_fqdns, listOf(allowedHost)),
      field("aia_max_bytes", &Forward::aia_max_bytes, sizeValue),
      field("aia_ttl", &Forward::aia_ttl_s, aiaTtl),
      field<Apply::Restart>("aia_memory_bytes", &Forward::aia_memory_bytes,
                            sizeOrZero),  // 0 = none
      field("trust_store", &Forward::trust_store, trustStorePath),
  };
  return schema;
}

const Schema<Crl>& crlSchema() {
  static const Schema<Crl> schema = {
      field("fqdns", &Crl::fqdns, listOf(allowedHost)),
      field("urls", &Crl::urls, listOf(fqdnUrl)),
      field("max_bytes", &Crl::max_bytes, sizeValue),
      field<Apply::Restart>("memory_bytes", &Crl::memory_bytes, sizeOrZero),  // 0 = none
      field("max_concurrent_fetches", &Crl::max_concurrent_fetches, integer(1, 64)),
      field("max_inflight_bytes", &Crl::max_inflight_bytes, sizeValue),
      field("unknown_issuer", &Crl::unknown_issuer, unknownIssuerPolicy()),
      field("issuers", &Crl::issuers, issuerFiles),
  };
  return schema;
}

const Schema<Responder>& responderSchema() {
  static const Schema<Responder> schema = {
      field("unknown_issuer", &Responder::unknown_issuer,
            oneOf<ResponderUnknownIssuerPolicy>({{"discover", ResponderUnknownIssuerPolicy::Discover},
                                                 {"refuse", ResponderUnknownIssuerPolicy::Refuse}})),
  };
  return schema;
}

}  // namespace

Result<std::vector<IssuerCert>> issuerFiles(Loader& l, const Item& v) {
  auto groups = listOf(issuerEntry)(l, v);
  if (!groups.ok()) return groups.error();
  std::vector<IssuerCert> all;
  for (auto& group : *groups) {
    for (auto& issuer : group) all.push_back(std::move(issuer));
  }
  return all;
}

// An allow-list entry as messages show it.
std::vector<std::string> restartOnlyKeys() {
  std::vector<std::string> keys;
  restartKeysOf(configSchema(), "", keys);
  return keys;
}

std::vector<std::string> keepRestartOnlyValues(Config& fresh, const Config& running) {
  std::vector<std::string> kept;
  keepRunningValues(configSchema(), fresh, running, "", kept);
  return kept;
}

std::string hostAndPortText(const HostAndPort& h) { return h.host + ":" + std::to_string(h.port); }

const Schema<Config>& configSchema() {
  static const Schema<Config> schema = {
      section("listen", listenSchema()),
      field<Apply::Restart>("workers", &Config::workers, integer(0, 256)),  // 0: one per core
      sectionOf("limits", &Config::limits, limitsSchema()),
      sectionOf("cache", &Config::cache, cacheSchema()),
      field("nonce", &Config::nonce,
            oneOf<NoncePolicy>(
                {{"ignore", NoncePolicy::Ignore}, {"passthrough", NoncePolicy::Passthrough}})),
      sectionOf("logging", &Config::logging, loggingSchema()),
      field("resolve", &Config::resolve, resolveMap),
      field("upstreams", &Config::upstreams, listOf(mapOf(upstreamSchema())), Need::Required),
      field("redis", &Config::redis, mapOf(redisSchema())),
      sectionOf("forward", &Config::forward, forwardSchema()),
      sectionOf("crl", &Config::crl, crlSchema()),
      field("crl_bridge", &Config::crl_bridge, mapOf(crlBridgeSchema())),
      field<Apply::Restart>("revocation_log", &Config::revocation_log, revocationLogPath),
      sectionOf("watch", &Config::watch, watchSchema()),
      field("distrust", &Config::distrust, distrustList),
      sectionOf("responder", &Config::responder, responderSchema()),
      field<Apply::Restart>("state_dir", &Config::state_dir, stateDirPath),
  };
  return schema;
}

}  // namespace ocsp::conf
