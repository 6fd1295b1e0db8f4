#pragma once
// ocsp-proxy configuration (YAML). Loaded in two phases (STYLE.md): every key is parsed by
// type with unknown keys rejected, then defaults are filled and cross-field rules checked.
// Every error names the file, the line and the dotted key path:
//   conf/ocsp-proxy.yaml:14: upstreams[1].fqdns[0]: not a host name: "http://x"
// The loaded Config is immutable; it is shared as shared_ptr<const Config>.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conf/config_distrust.h"
#include "core/log.h"
#include "core/ossl.h"
#include "core/result.h"

namespace ocsp {
struct ResponderCredentials;  // pki/responder_credentials.h
}

namespace ocsp::conf {

struct ListenAddress {
  std::string host;   // IP literal or "localhost"
  uint16_t port = 0;  // 0 = pick a free port (tests)
  bool operator==(const ListenAddress&) const = default;
};

struct Limits {
  size_t max_request_bytes = 16 * 1024;           // limits.max_request_bytes (POST body)
  size_t max_header_bytes = 8 * 1024;             // limits.max_header_bytes
  int64_t client_timeout_ms = 10'000;             // limits.client_timeout
  // limits.request_timeout: a deadline for a whole request head, and another for its body,
  // however steadily the bytes come; over it, HTTP 408.
  int64_t request_timeout_ms = 10'000;
  int64_t upstream_timeout_ms = 5'000;            // limits.upstream_timeout (per attempt)
  size_t max_upstream_response_bytes = 1 << 20;   // limits.max_upstream_response_bytes
  // limits.max_connections: open client connections on the OCSP listener (all workers); one
  // more takes the place of the slowest connection that has no request being answered (it
  // gets HTTP 408), or if there is none gets HTTP 503 at once and is closed.
  int64_t max_connections = 4096;
  int64_t max_headers = 64;                       // limits.max_headers: more gets HTTP 431
  // limits.rate_per_client: requests per second per client address over all workers, with
  // bursts up to limits.rate_burst (0: the rate); over it, HTTP 429. 0 = no rate limit.
  int64_t rate_per_client = 0;
  int64_t rate_burst = 0;
  // limits.drain_timeout: on SIGTERM or a reload, how long requests in flight may take to
  // finish before their worker stops anyway.
  int64_t drain_timeout_ms = 10'000;
  // limits.revocation_log_buffer: revocation-log lines waiting for the writer thread; lines
  // beyond it are dropped and counted, so a stalled output never stops answers. Read at
  // start only.
  size_t revocation_log_buffer = 8u << 20;
  // limits.max_cert_ids_per_request: CertIDs one OCSP request may list; more is answered
  // malformedRequest. RFC 5019 §2.1.1 clients send exactly one and RFC 6960 sets no bound;
  // 16 leaves room for a client that checks a whole chain (or a few certificates of one
  // issuer) at once, while one request can no longer make hundreds of revocation-log lines
  // or lookups (a 16 KiB body holds about 230 CertIDs).
  int64_t max_cert_ids_per_request = 16;
};

struct IssuerCert {
  std::string path;   // file it came from
  SharedX509 cert;
};

// Where an upstream's answers come from (docs/ARCHITECTURE.md §8): its OCSP responders, the
// CRL bridge (answers built from its CRLs and signed by crl_bridge.key), or the responders
// with the bridge as the fallback when they fail.
enum class RevocationSource { Ocsp, Crl, OcspThenCrl };
const char* revocationSourceName(RevocationSource s);

struct Upstream {
  std::string name;
  std::vector<std::string> fqdns;   // tried in order; empty only with revocation_source crl
  std::string scheme = "http";      // http | https
  uint16_t port = 0;                // default: 80 for http, 443 for https
  std::string path = "/";
  std::vector<IssuerCert> issuers;  // loaded from the files/dirs in `issuers:`
  RevocationSource revocation_source = RevocationSource::Ocsp;  // upstreams[].revocation_source
  // upstreams[].crls: the CRLs the bridge answers from for this upstream's issuers, as
  // written; only with revocation_source crl or ocsp-then-crl. Phase 2 adds them to crl.urls.
  std::vector<std::string> crls;
};

struct Cache {
  size_t memory_bytes = 256u << 20;   // cache.memory_bytes; 0 = no in-process cache
  int64_t max_age_s = 7 * 86400;      // cache.max_age: freshness cap after thisUpdate; 0 = none
  int64_t no_next_update_ttl_s = 300; // cache.no_next_update_ttl
  int64_t clock_skew_s = 300;         // cache.clock_skew: thisUpdate may be this far ahead
  int refresh_percent = 50;           // cache.refresh_percent: refresh ahead once this share
                                      // of [thisUpdate, fresh_until) has passed
  // cache.request_memo_bytes: per worker, the decoded requests kept to skip parsing repeats
  // (proxy/request_memo.h), half for POST bodies and half for GET paths; 0 = none.
  size_t request_memo_bytes = 16u << 20;
  // cache.snapshot_interval: how often the answers and CRLs held are written to state_dir
  // (cache/snapshot_store.h), 10s..7d; a last write follows at shutdown.
  int64_t snapshot_interval_s = 300;
  // cache.snapshot_max_bytes: bound of that file (the records closest to expiry are left
  // out beyond it); 0 = no snapshot.
  size_t snapshot_max_bytes = 64u << 20;
};

enum class NoncePolicy { Ignore, Passthrough };

struct Logging {
  LogLevel level = LogLevel::Info;
};

// A Redis server or sentinel: an IP literal or "localhost" (no DNS on the worker threads).
struct RedisAddress {
  std::string host;
  uint16_t port = 6379;
};

// The shared L2 cache (docs/ARCHITECTURE.md §6.2). Exactly one of address, unix_socket, sentinels.
struct Redis {
  std::optional<RedisAddress> address;      // redis.address (default port 6379)
  std::string unix_socket;                  // redis.unix_socket ("" = not set)
  std::vector<RedisAddress> sentinels;      // redis.sentinels (default port 26379)
  std::string master_name;                  // redis.master_name, required with sentinels
  std::string password;                     // redis.password ("" = no AUTH); never logged
  int db = 0;                               // redis.db (0..15)
  std::string key_prefix = "ocsp-proxy:";   // redis.key_prefix
  int64_t connect_timeout_ms = 500;         // redis.connect_timeout (connect + AUTH/SELECT)
  int64_t command_timeout_ms = 250;         // redis.command_timeout (per GET)
  int64_t reconnect_max_backoff_ms = 5'000; // redis.reconnect_max_backoff (from 100ms, doubling)
};

enum class UnknownIssuerPolicy { Pass, Refuse };

// An allow-list entry: a DNS host name (never an IP literal) and a port.
struct HostAndPort {
  std::string host;   // lower-cased
  uint16_t port = 80;
};

// Forward-proxy mode (docs/ARCHITECTURE.md §1): clients that use us as their HTTP proxy.
struct Forward {
  bool enabled = true;  // forward.enabled
  // forward.unknown_issuer: pass | refuse
  UnknownIssuerPolicy unknown_issuer = UnknownIssuerPolicy::Pass;
  // forward.aia_fqdns: hosts caIssuers certificates may be fetched from (by AIA completion,
  // and by clients through the forward proxy)
  std::vector<HostAndPort> aia_fqdns;
  size_t aia_max_bytes = 256u << 10;  // forward.aia_max_bytes: largest caIssuers download
  int64_t aia_ttl_s = 86400;          // forward.aia_ttl: caIssuers download kept (>= 1m)
  // forward.aia_memory_bytes: in-process cache of caIssuers downloads served to clients
  // (0 = none; restart only)
  size_t aia_memory_bytes = 16u << 20;
  // forward.trust_store: a directory (OpenSSL hashed CApath) or a PEM file of roots; relative
  // to the config file's directory. Must exist when enabled (phase 2).
  std::string trust_store = "/etc/ssl/certs";
};

// CRL caching (docs/ARCHITECTURE.md §8).
struct Crl {
  // crl.fqdns, plus the host:port of every crl.urls entry (added in phase 2, no duplicates).
  // None is also an upstreams[].fqdns entry on the same port.
  std::vector<HostAndPort> fqdns;
  // crl.urls: CRLs kept warm from start-up, as written; phase 2 appends every
  // upstreams[].crls entry not listed yet.
  std::vector<std::string> urls;
  size_t max_bytes = 64u << 20;      // crl.max_bytes: largest CRL accepted
  size_t memory_bytes = 256u << 20;  // crl.memory_bytes: in-process CRL cache bound
                                     // (0 = no in-process CRL cache)
  // crl.max_concurrent_fetches: CRL downloads (with their parse) in progress at once; more
  // wait their turn.
  int64_t max_concurrent_fetches = 4;
  // crl.max_inflight_bytes: memory CRL downloads in progress may hold; each reserves
  // crl.max_bytes until its size is known. At least crl.max_bytes (phase 2).
  size_t max_inflight_bytes = 128u << 20;
  UnknownIssuerPolicy unknown_issuer = UnknownIssuerPolicy::Pass;  // crl.unknown_issuer
  // crl.issuers: extra certificates that may sign CRLs (files or dirs, like
  // upstreams[].issuers); a certificate listed twice is kept once.
  std::vector<IssuerCert> issuers;
};

// What the CRL bridge answers for a serial its CRL does not list (docs/ARCHITECTURE.md §8).
enum class UnlistedPolicy {
  Unknown,  // unless the serial is known to have been issued (crl_bridge.known_serials)
  Good,     // any unlisted serial (opt-in: a forged certificate is answered good too)
};

// crl_bridge: the responder credentials and rules of the CRL bridge. Required when an
// upstream's revocation_source is not ocsp.
struct CrlBridge {
  std::string key_path;   // crl_bridge.key, resolved against the config file's directory
  std::string cert_path;  // crl_bridge.cert, likewise
  UnlistedPolicy unlisted = UnlistedPolicy::Unknown;  // crl_bridge.unlisted
  // crl_bridge.known_serials: files and directories (upstream/known_serials.h), resolved.
  std::vector<std::string> known_serials;
  // Loaded from key_path and cert_path in phase 2 (at every load: a reload re-reads them).
  std::shared_ptr<const ResponderCredentials> credentials;
};

// Intermediates watched for revocation and expiry (docs/ARCHITECTURE.md §9).
enum class RevokedIssuerPolicy {
  Flag,    // answers under a revoked intermediate are still served, flagged in the revocation log
  Refuse,  // clients get "unauthorized" for certificates under it
};

// A watch.intermediates entry.
struct WatchedCa {
  std::string name;       // a log field and metric label; unique among the intermediates
  std::string cert_path;  // resolved path of `cert`, for messages
  SharedX509 cert;        // a CA certificate, issued by `parent` (checked in phase 2)
  SharedX509 parent;      // the certificate that issued it: its key signs the OCSP/CRL answers
  std::string ocsp_url;   // watch.intermediates[].ocsp_url: overrides the AIA OCSP URL ("" = AIA)
};

// A certificate of watch.issuers that is not watched (conf/watch_issuers.h).
struct SkippedCa {
  std::string subject;
  std::string path;    // the file it came from
  std::string reason;  // "not a CA" | "expired" | "no parent found"
};

struct Watch {
  int64_t interval_s = 3600;               // watch.interval: between checks of one intermediate
  int64_t expiry_warning_s = 30 * 86400;   // watch.expiry_warning: report this close to notAfter
  RevokedIssuerPolicy on_revoked_issuer = RevokedIssuerPolicy::Flag;  // watch.on_revoked_issuer
  // watch.intermediates (may be empty), then in phase 2 one entry per certificate of
  // watch.issuers that is watched (conf/watch_issuers.h).
  std::vector<WatchedCa> intermediates;
  std::vector<IssuerCert> issuers;         // watch.issuers: files and dirs, as loaded
  std::vector<SkippedCa> skipped;          // certificates of watch.issuers not watched
};

// The local-responder answer for a CertID whose issuer nobody configured
// (docs/ARCHITECTURE.md §9 issuer discovery).
enum class ResponderUnknownIssuerPolicy {
  Discover,  // ask the upstreams; the first whose answer validates through AIA is learned
  Refuse,    // unauthorized at once
};

// Local-responder mode (clients that name the proxy as their OCSP responder).
struct Responder {
  // responder.unknown_issuer: discover | refuse
  ResponderUnknownIssuerPolicy unknown_issuer = ResponderUnknownIssuerPolicy::Discover;
};

struct Config {
  std::string path;                          // file it was loaded from
  ListenAddress listen_ocsp{"127.0.0.1", 8080};   // listen.ocsp
  ListenAddress listen_admin{"127.0.0.1", 9090};  // listen.admin
  unsigned workers = 0;                      // 0 = one per core
  Limits limits;
  std::vector<Upstream> upstreams;
  std::map<std::string, std::string> resolve;  // FQDN -> IP literal (like curl --resolve)
  Cache cache;
  NoncePolicy nonce = NoncePolicy::Ignore;
  Logging logging;
  std::optional<Redis> redis;                // absent = no Redis stage
  Forward forward;                           // defaults when the section is absent
  Crl crl;                                   // defaults when the section is absent
  std::optional<CrlBridge> crl_bridge;       // absent = no bridge (every upstream is ocsp)
  // revocation_log: JSON Lines, one object per answered CertID. "" = none, "-" = stdout, else
  // an absolute path (a relative one is resolved against the config file's directory) in a
  // directory that existed at load time; the file itself is created at start.
  std::string revocation_log;
  Watch watch;                               // defaults when the section is absent
  // distrust: one entry per distrusted key; a certificate file with three certificates gives
  // three entries with the same name. No key appears twice.
  std::vector<Distrusted> distrust;
  Responder responder;                       // defaults when the section is absent
  // state_dir: where state kept across restarts lives (learned issuers, the cache snapshot), an
  // absolute path (a relative one is resolved against the config file's directory), or "" for
  // `none`. Whether it exists and is writable is checked at start (a warning, never fatal). Read at start only.
  std::string state_dir = "/var/lib/ocsp-proxy";
};

// Loads and validates a config file. Relative issuer and trust store paths are relative to
// the file's directory. On failure, Error::detail is "file:line: key.path: message".
Result<std::shared_ptr<const Config>> loadConfig(const std::string& path);
// The file named on a command line: "--config FILE" (i moves to FILE) or "--config=FILE" at
// argv[i]. False, and `path` untouched, for any other argument or a missing FILE.
bool configPathOption(int argc, char** argv, int& i, std::string* path);

// Same, from text (tests). `name` is used as the file name in messages; `base_dir` anchors
// relative paths.
Result<std::shared_ptr<const Config>> parseConfig(const std::string& yaml_text,
                                                  const std::string& name,
                                                  const std::string& base_dir);

// Reload rules (STYLE.md "Reload rules decided up front"): each key of the schema table says
// whether a SIGHUP applies it (conf/yaml_schema.h Apply). The keys only a restart applies, as
// dotted paths in table order:
std::vector<std::string> restartOnlyKeys();
// For a reload: gives every restart-only key whose value in `fresh` differs from `running` its
// running value back, and returns those keys (the server logs each one).
std::vector<std::string> keepRestartOnlyValues(Config& fresh, const Config& running);

// True if `s` is a syntactically valid DNS host name (RFC 1123 labels), not an IP literal.
bool isHostName(const std::string& s);
// True if `s` is an IPv4 or IPv6 literal.
bool isIpLiteral(const std::string& s);

}  // namespace ocsp::conf
