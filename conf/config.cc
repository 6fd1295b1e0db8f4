// Config loader (STYLE.md "Config and operations"). Phase 1 walks the YAML with one schema
// table per map (key -> parser): unknown keys, wrong types and bad values stop the load, and
// every value's line is recorded under its dotted path. Phase 2 fills the defaults that depend
// on other keys and checks the rules that span fields, naming the recorded line. Warnings are
// logged only once the whole file is accepted, so a rejected file logs nothing but its error.
// The generic machinery (Loader, Schema, walkMap, the scalar parsers) is in conf/yaml_schema.h;
// this file holds ocsp-proxy's own tables and rules.
#include "conf/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <system_error>
#include <utility>

#include "conf/config_watch.h"
#include "conf/yaml_schema.h"
#include "core/url.h"

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

Result<std::vector<IssuerCert>> issuerFiles(Loader& l, const Item& v) {
  auto groups = listOf(issuerEntry)(l, v);
  if (!groups.ok()) return groups.error();
  std::vector<IssuerCert> all;
  for (auto& group : *groups) {
    for (auto& issuer : group) all.push_back(std::move(issuer));
  }
  return all;
}

// --- Forward proxy and CRLs ------------------------------------------------------------------

// forward.aia_fqdns and crl.fqdns: hosts the proxy fetches from on a client's behalf.
Result<HostAndPort> allowedHost(Loader& l, const Item& v) {
  auto hp = fqdnPort(l, v, 80);
  if (!hp.ok()) return hp.error();
  return HostAndPort{std::move(hp->host), hp->port};
}

// An allow-list entry as messages show it.
std::string hostAndPortText(const HostAndPort& h) { return h.host + ":" + std::to_string(h.port); }

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

// --- The schema ------------------------------------------------------------------------------

const Schema<Config>& listenSchema() {
  static const Schema<Config> schema = {
      field("ocsp", &Config::listen_ocsp, address),
      field("admin", &Config::listen_admin, address),
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
      field("revocation_log_buffer", &Limits::revocation_log_buffer, sizeValue),
      field("max_cert_ids_per_request", &Limits::max_cert_ids_per_request, integer(1, 10'000)),
  };
  return schema;
}

const Schema<Cache>& cacheSchema() {
  static const Schema<Cache> schema = {
      field("memory_bytes", &Cache::memory_bytes, sizeOrZero),  // 0 = no in-process cache
      field("max_age", &Cache::max_age_s, seconds),             // 0 = no cap beyond nextUpdate
      field("no_next_update_ttl", &Cache::no_next_update_ttl_s, seconds),
      field("clock_skew", &Cache::clock_skew_s, seconds),
      field("refresh_percent", &Cache::refresh_percent, integer(1, 100)),
      field("request_memo_bytes", &Cache::request_memo_bytes, sizeOrZero),  // 0 = no memo
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
      field("fqdns", &Upstream::fqdns, listOf(hostName), Need::Required),
      field("scheme", &Upstream::scheme,
            oneOf<std::string>({{"http", "http"}, {"https", "https"}})),
      field("port", &Upstream::port, integer(1, 65535)),  // 0 = the scheme's port (phase 2)
      field("path", &Upstream::path, urlPath),
      field("issuers", &Upstream::issuers, issuerFiles, Need::Required),
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
      field("trust_store", &Forward::trust_store, trustStorePath),
  };
  return schema;
}

const Schema<Crl>& crlSchema() {
  static const Schema<Crl> schema = {
      field("fqdns", &Crl::fqdns, listOf(allowedHost)),
      field("urls", &Crl::urls, listOf(fqdnUrl)),
      field("max_bytes", &Crl::max_bytes, sizeValue),
      field("memory_bytes", &Crl::memory_bytes, sizeOrZero),  // 0 = no in-process CRL cache
      field("max_concurrent_fetches", &Crl::max_concurrent_fetches, integer(1, 64)),
      field("max_inflight_bytes", &Crl::max_inflight_bytes, sizeValue),
      field("unknown_issuer", &Crl::unknown_issuer, unknownIssuerPolicy()),
      field("issuers", &Crl::issuers, issuerFiles),
  };
  return schema;
}

const Schema<Config>& configSchema() {
  static const Schema<Config> schema = {
      section("listen", listenSchema()),
      field("workers", &Config::workers, integer(0, 256)),  // 0 is resolved by the server
      field("limits", &Config::limits, mapOf(limitsSchema())),
      field("cache", &Config::cache, mapOf(cacheSchema())),
      field("nonce", &Config::nonce,
            oneOf<NoncePolicy>(
                {{"ignore", NoncePolicy::Ignore}, {"passthrough", NoncePolicy::Passthrough}})),
      field("logging", &Config::logging, mapOf(loggingSchema())),
      field("resolve", &Config::resolve, resolveMap),
      field("upstreams", &Config::upstreams, listOf(mapOf(upstreamSchema())), Need::Required),
      field("redis", &Config::redis, mapOf(redisSchema())),
      field("forward", &Config::forward, mapOf(forwardSchema())),
      field("crl", &Config::crl, mapOf(crlSchema())),
      field("revocation_log", &Config::revocation_log, revocationLogPath),
      field("watch", &Config::watch, mapOf(watchSchema())),
      field("distrust", &Config::distrust, distrustList),
  };
  return schema;
}

// --- Phase 2 ---------------------------------------------------------------------------------

// An OCSP CertID names its issuer by subject and key (RFC 6960 §4.1.1), so two certificates
// with the same subject and key (a re-issued or cross-signed CA) are the same issuer. The
// subject DER is self-delimiting, so the concatenation is unambiguous.
std::string issuerIdentity(const X509* cert) {
  std::string id = toDer(X509_get_subject_name(cert), i2d_X509_NAME);
  const ASN1_BIT_STRING* key = X509_get0_pubkey_bitstr(cert);
  if (key != nullptr) {
    id.append(reinterpret_cast<const char*>(ASN1_STRING_get0_data(key)),
              static_cast<size_t>(ASN1_STRING_length(key)));
  }
  return id;
}

// redis: one way to find the server, and master_name exactly when it is found by sentinels.
Status checkRedis(const Loader& l, const Redis& r) {
  std::vector<std::string> given;  // in schema order
  if (r.address) given.push_back("redis.address");
  if (!r.unix_socket.empty()) given.push_back("redis.unix_socket");
  if (!r.sentinels.empty()) given.push_back("redis.sentinels");
  if (given.empty()) {
    return l.failAt("redis", "one of address, unix_socket or sentinels is required");
  }
  if (given.size() > 1) {
    return l.failAt(given[1], "conflicts with " + given[0] +
                                  " (set exactly one of address, unix_socket, sentinels)");
  }
  if (!r.sentinels.empty() && r.master_name.empty()) {
    return l.fail("redis.master_name", l.lineAt("redis"), "required with sentinels");
  }
  if (r.sentinels.empty() && !r.master_name.empty()) {
    return l.failAt("redis.master_name", "only valid with sentinels");
  }
  return Ok{};
}

// An allow-list names each host and port once.
Status checkNoRepeats(const Loader& l, const std::vector<HostAndPort>& hosts,
                      const std::string& path) {
  for (size_t j = 1; j < hosts.size(); ++j) {
    for (size_t k = 0; k < j; ++k) {
      if (hosts[j].host == hosts[k].host && hosts[j].port == hosts[k].port) {
        return l.failAt(indexed(path, j), "duplicate host " + inQuotes(hostAndPortText(hosts[j])));
      }
    }
  }
  return Ok{};
}

// The trust store is only read in forward mode, so a host without one can turn it off.
Status checkForward(const Loader& l, const Forward& f) {
  if (auto s = checkNoRepeats(l, f.aia_fqdns, "forward.aia_fqdns"); !s.ok()) return s;
  if (!f.enabled) return Ok{};
  struct stat st {};
  if (::stat(f.trust_store.c_str(), &st) != 0) {
    return l.failAt("forward.trust_store",
                    "cannot read " + inQuotes(f.trust_store) + ": " + osError(errno));
  }
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
    return l.failAt("forward.trust_store", "not a file or directory: " + inQuotes(f.trust_store));
  }
  return Ok{};
}

// crl.fqdns gains the host of every crl.urls entry. A host:port is either an OCSP upstream or
// a CRL host, never both: forward mode picks the handling of a request by its host and port.
Status checkCrl(const Loader& l, Config& config) {
  Crl& crl = config.crl;
  if (crl.max_inflight_bytes < crl.max_bytes) {
    // A download reserves crl.max_bytes before it starts: below that, none ever would.
    return l.failAt("crl.max_inflight_bytes",
                    "must be at least crl.max_bytes (" + std::to_string(crl.max_bytes) +
                        " bytes): a download reserves that much until its size is known");
  }
  if (auto s = checkNoRepeats(l, crl.fqdns, "crl.fqdns"); !s.ok()) return s;
  std::vector<std::string> origin;  // the key each crl.fqdns entry comes from
  for (size_t i = 0; i < crl.fqdns.size(); ++i) origin.push_back(indexed("crl.fqdns", i));
  for (size_t i = 0; i < crl.urls.size(); ++i) {
    const std::string at = indexed("crl.urls", i);
    if (std::find(crl.urls.begin(), crl.urls.begin() + static_cast<long>(i), crl.urls[i]) !=
        crl.urls.begin() + static_cast<long>(i)) {
      return l.failAt(at, "duplicate URL " + inQuotes(crl.urls[i]));
    }
    auto url = parseHttpUrl(crl.urls[i]);  // accepted in phase 1
    if (!url.ok()) return l.failAt(at, "not a valid URL (" + url.error().detail + ")");
    HostAndPort host{url->host, url->port};
    bool listed = std::any_of(crl.fqdns.begin(), crl.fqdns.end(), [&](const HostAndPort& h) {
      return h.host == host.host && h.port == host.port;
    });
    if (!listed) {
      crl.fqdns.push_back(std::move(host));
      origin.push_back(at);
    }
  }
  for (size_t i = 0; i < crl.fqdns.size(); ++i) {
    for (const Upstream& u : config.upstreams) {
      bool shared = u.port == crl.fqdns[i].port &&
                    std::any_of(u.fqdns.begin(), u.fqdns.end(), [&](const std::string& f) {
                      return sameHost(f, crl.fqdns[i].host);
                    });
      if (shared) {
        return l.failAt(origin[i], inQuotes(hostAndPortText(crl.fqdns[i])) +
                                       " is both an OCSP upstream and a CRL host (upstream " +
                                       inQuotes(u.name) + ")");
      }
    }
  }
  // A certificate also found in a listed directory is kept once.
  std::set<std::string> seen;
  std::vector<IssuerCert> kept;
  for (auto& issuer : crl.issuers) {
    if (seen.insert(issuerIdentity(issuer.cert.get())).second) kept.push_back(std::move(issuer));
  }
  crl.issuers = std::move(kept);
  return Ok{};
}

Status checkRules(const Loader& l, Config& config) {
  std::map<std::string, size_t> names;
  for (size_t i = 0; i < config.upstreams.size(); ++i) {
    Upstream& u = config.upstreams[i];
    const std::string at = indexed("upstreams", i);
    if (!names.emplace(u.name, i).second) {
      return l.failAt(at + ".name", "duplicate upstream name " + inQuotes(u.name));
    }
    for (size_t j = 1; j < u.fqdns.size(); ++j) {
      for (size_t k = 0; k < j; ++k) {
        if (sameHost(u.fqdns[j], u.fqdns[k])) {
          return l.failAt(indexed(at + ".fqdns", j), "duplicate host name " + inQuotes(u.fqdns[j]));
        }
      }
    }
    if (u.port == 0) u.port = u.scheme == "https" ? 443 : 80;
  }

  // Requests are routed by issuer, so one issuer in two upstreams would make the route depend
  // on load order. Within one upstream a repeat (a file also found in a listed directory) is
  // harmless and kept once.
  std::map<std::string, size_t> owner;  // issuer identity -> upstream index
  for (size_t i = 0; i < config.upstreams.size(); ++i) {
    Upstream& u = config.upstreams[i];
    std::vector<IssuerCert> kept;
    for (auto& issuer : u.issuers) {
      auto [it, first] = owner.emplace(issuerIdentity(issuer.cert.get()), i);
      if (first) {
        kept.push_back(std::move(issuer));
      } else if (it->second != i) {
        return l.failAt(l.originOf(issuer.cert.get(), "upstreams"),
                        "issuer certificate " + inQuotes(subjectLine(issuer.cert.get())) +
                            " is configured for both upstream " +
                            inQuotes(config.upstreams[it->second].name) + " and upstream " +
                            inQuotes(u.name));
      }
    }
    u.issuers = std::move(kept);
  }
  if (config.redis) {
    if (auto s = checkRedis(l, *config.redis); !s.ok()) return s;
  }
  if (auto s = checkForward(l, config.forward); !s.ok()) return s;
  if (auto s = checkWatch(l, config.watch); !s.ok()) return s;
  return checkCrl(l, config);
}

// Things worth an operator's attention that must not stop the proxy.
// Not an error: CAs keep answering for certificates of an expired issuer, and refusing to
// start would take every other issuer down with it. `owner` is "upstream" or "crl".
void warnIfNotValidNow(const IssuerCert& issuer, std::string_view owner, std::string_view name,
                       int64_t now) {
  auto not_before = asn1ToEpoch(X509_get0_notBefore(issuer.cert.get()));
  auto not_after = asn1ToEpoch(X509_get0_notAfter(issuer.cert.get()));
  if ((not_before && now < *not_before) || (not_after && now > *not_after)) {
    logEvent(LogLevel::Warn, "issuer_not_valid_now",
             {{"file", issuer.path},
              {owner, name},
              {"subject", subjectLine(issuer.cert.get())},
              {"not_before", not_before ? rfc3339(*not_before) : ""},
              {"not_after", not_after ? rfc3339(*not_after) : ""}});
  }
}

// resolve: pins every host the proxy fetches from: upstreams, CRL hosts, AIA hosts.
bool fetchesFrom(const Config& config, const std::string& fqdn) {
  auto same = [&](const HostAndPort& h) { return sameHost(h.host, fqdn); };
  return std::any_of(config.upstreams.begin(), config.upstreams.end(),
                     [&](const Upstream& u) {
                       return std::any_of(u.fqdns.begin(), u.fqdns.end(),
                                          [&](const std::string& f) { return sameHost(f, fqdn); });
                     }) ||
         std::any_of(config.crl.fqdns.begin(), config.crl.fqdns.end(), same) ||
         std::any_of(config.forward.aia_fqdns.begin(), config.forward.aia_fqdns.end(), same);
}

void warnAbout(const Config& config) {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (const auto& u : config.upstreams) {
    for (const auto& issuer : u.issuers) warnIfNotValidNow(issuer, "upstream", u.name, now);
  }
  for (const auto& issuer : config.crl.issuers) warnIfNotValidNow(issuer, "crl", "issuers", now);
  for (const auto& [fqdn, ip] : config.resolve) {
    bool used = fetchesFrom(config, fqdn);
    if (!used) {
      logEvent(LogLevel::Warn, "resolve_unused",
               {{"file", config.path}, {"fqdn", fqdn}, {"ip", ip}});
    }
  }
}

// The documents of a YAML stream, without building them: where each starts (scanner position
// and 1-based line) and the line its root node names in messages (lineOf's rules: 1 when
// empty).
class DocumentScan final : public YAML::EventHandler {
 public:
  struct Document {
    int pos = 0;
    int line = 1;
    int root_line = 1;
    bool root_seen = false;
  };
  std::vector<Document> documents;

  void OnDocumentStart(const YAML::Mark& mark) override {
    documents.push_back({mark.pos, std::max(mark.line, 0) + 1});
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override { root(nullptr); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { root(&mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    root(&mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    root(&mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    root(&mark);
  }
  void OnMapEnd() override {}

 private:
  void root(const YAML::Mark* mark) {
    Document& d = documents.back();
    if (d.root_seen) return;
    d.root_seen = true;
    if (mark != nullptr && mark->line >= 0) d.root_line = mark->line + 1;
  }
};

// Phase 0: the text is one YAML document. Not YAML::LoadAll: in yaml-cpp 0.7 (Debian 12) it
// never returns when a node starts with ',' ("-\n,", ",a"): the parser reports an empty
// document without consuming the token, again and again, and LoadAll keeps every one until
// memory runs out (jbeder/yaml-cpp#1040, fixed upstream by #1319; found by
// tests/fuzz/fuzz_config). So the documents are only counted here, at most three, and a
// document that starts where the one before it did is that stuck parser. Throws
// YAML::Exception for invalid YAML, like YAML::Load.
Status checkOneDocument(const Loader& l, const std::string& yaml_text) {
  std::istringstream in(yaml_text);
  YAML::Parser parser(in);
  DocumentScan scan;
  while (scan.documents.size() < 3 && parser.HandleNextDocument(scan)) {
  }
  const auto& docs = scan.documents;
  for (size_t i = 1; i < docs.size(); ++i) {
    if (docs[i].pos == docs[i - 1].pos) {
      const size_t at = static_cast<size_t>(docs[i].pos);
      const std::string token = at < yaml_text.size() ? yaml_text.substr(at, 1) : "";
      return l.fail("", docs[i].line, "not valid YAML: unexpected " + inQuotes(token));
    }
  }
  if (docs.size() > 1) return l.fail("", docs[1].root_line, "more than one YAML document");
  return Ok{};
}

// 0 on success, else the errno.
int readWholeFile(const std::string& path, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : 0;
      ::close(fd);
      return err;
    }
    out->append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

Result<std::shared_ptr<const Config>> parseConfig(const std::string& yaml_text,
                                                  const std::string& name,
                                                  const std::string& base_dir) {
  Loader loader(name, base_dir);
  Config config;
  config.path = name;
  try {
    if (auto s = checkOneDocument(loader, yaml_text); !s.ok()) return s.error();
    YAML::Node root = YAML::Load(yaml_text);
    if (auto s = walkMap(loader, loader.item(root, "", 1), configSchema(), config); !s.ok()) {
      return s.error();
    }
  } catch (const YAML::Exception& e) {
    return loader.fail("", std::max(e.mark.line, 0) + 1, "not valid YAML: " + e.msg);
  }
  if (auto s = checkRules(loader, config); !s.ok()) return s.error();
  warnAbout(config);
  return std::make_shared<const Config>(std::move(config));
}

Result<std::shared_ptr<const Config>> loadConfig(const std::string& path) {
  std::string text;
  if (int err = readWholeFile(path, &text); err != 0) {
    return makeError(ErrorCategory::Config, "config",
                     path + ": cannot read config: " + osError(err));
  }
  return parseConfig(text, path, fs::path(path).parent_path().string());
}

bool configPathOption(int argc, char** argv, int& i, std::string* path) {
  const std::string_view arg = argv[i];
  if (arg == "--config" && i + 1 < argc) {
    *path = argv[++i];
    return true;
  }
  if (!arg.starts_with("--config=")) return false;
  *path = arg.substr(std::string_view("--config=").size());
  return true;
}

}  // namespace ocsp::conf
