#include "tools/egress_test.h"

#include <openssl/ocsp.h>

#include <charconv>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conf/config.h"
#include "core/ossl.h"
#include "core/url.h"
#include "pki/issuer_completion.h"
#include "tools/egress_probe.h"
#include "tools/firewall_list.h"
#include "tools/subcommand.h"
#include "upstream/curl_handles.h"

namespace ocsp::tools {

namespace {

// The first bytes of a CRL show whether it is one (tools/egress_verdict.h); a whole CRL can
// be crl.max_bytes (64 MiB by default), which a firewall test need not download.
constexpr size_t kCrlPrefixBytes = 64 << 10;

using X509NamePtr = std::unique_ptr<X509_NAME, FreeWith<X509_NAME_free>>;
using BitStringPtr = std::unique_ptr<ASN1_BIT_STRING, FreeWith<ASN1_BIT_STRING_free>>;

struct Options {
  std::string config_path = "/etc/ocsp-proxy/ocsp-proxy.yaml";
  bool json = false;
  std::optional<int64_t> timeout_ms;
};

void usage(FILE* out) {
  std::fprintf(
      out,
      "Usage: ocsp-proxy egress test [--config FILE] [--json] [--timeout-ms N]\n"
      "\n"
      "Proves that this machine can reach every host ocsp-proxy firewall-list names: for\n"
      "each, resolves the name (the config's resolve: map first), connects, and makes one\n"
      "real request of its kind:\n"
      "  OCSP upstream  an OCSP request (POST) for an issuer catalogued for it; any OCSP\n"
      "                 answer passes, `unauthorized` included (the responder answered)\n"
      "  CRL host       GET of its crl.urls entry; the first bytes must be a CRL (DER or PEM)\n"
      "  caIssuers host GET of a caIssuers URL of a configured issuer; must be certificates\n"
      "                 (a CRL or caIssuers host with no URL in the config: any HTTP answer\n"
      "                 to / passes)\n"
      "  Redis          PING (after AUTH when redis.password is set)\n"
      "Prints one row per host: host, port, purpose, addresses, verdict (ok or FAIL), time\n"
      "taken and the cause in words (DNS: no address, connect refused, timeout after N ms,\n"
      "HTTP 503, not an OCSP answer (text/html, 1234 bytes), not a CRL, ...).\n"
      "\n"
      "  --config FILE    configuration file (default /etc/ocsp-proxy/ocsp-proxy.yaml)\n"
      "  --json           one JSON document instead of the table\n"
      "  --timeout-ms N   bound each step (name lookup, then connect and answer) by N ms\n"
      "                   instead of limits.upstream_timeout (HTTP) and redis.connect_timeout\n"
      "                   and redis.command_timeout (Redis)\n"
      "\n"
      "Every host is tested at once, so the whole run takes at most about twice the longest\n"
      "timeout (the lookup, then the exchange; Redis adds redis.command_timeout for AUTH and\n"
      "again for PING), however many hosts there are: about 10 s with the default\n"
      "upstream_timeout of 5 s.\n"
      "\n"
      "Exit status: 0 if every host passed, 1 if any failed or the config does not load,\n"
      "64 for bad usage.\n");
}

std::optional<Options> parseArgs(int argc, char** argv, bool* help, std::string* error) {
  Options o;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      *help = true;
      return o;
    }
    if (arg == "--json") {
      o.json = true;
    } else if (arg == "--timeout-ms" || arg.starts_with("--timeout-ms=")) {
      const std::string value =
          arg == "--timeout-ms" ? (i + 1 < argc ? argv[++i] : "") : arg.substr(13);
      int64_t ms = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
      if (ec != std::errc() || end != value.data() + value.size() || ms < 1 || ms > 600'000) {
        *error =
            "--timeout-ms takes a number of milliseconds from 1 to 600000, not \"" + value + "\"";
        return std::nullopt;
      }
      o.timeout_ms = ms;
    } else if (!conf::configPathOption(argc, argv, i, &o.config_path)) {
      *error = "unknown argument: " + arg;
      return std::nullopt;
    }
  }
  return o;
}

// A DER OCSP request (RFC 6960 §4.1.1) for serial 1 under `issuer`: SHA-1 hashes of its name
// and key, as every responder understands. Without an issuer, all-zero hashes: a responder
// answers unauthorized, which is still an OCSP answer.
std::string ocspRequestFor(X509* issuer) {
  Asn1IntegerPtr serial(ASN1_INTEGER_new());
  if (!serial || ASN1_INTEGER_set(serial.get(), 1) != 1) return "";
  OcspCertIdPtr id;
  if (issuer != nullptr) {
    id.reset(OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(issuer),
                              X509_get0_pubkey_bitstr(issuer), serial.get()));
  } else {
    X509NamePtr name(X509_NAME_new());
    BitStringPtr key(ASN1_BIT_STRING_new());
    if (name && key) id.reset(OCSP_cert_id_new(EVP_sha1(), name.get(), key.get(), serial.get()));
  }
  OcspRequestPtr request(OCSP_REQUEST_new());
  if (!id || !request || OCSP_request_add0_id(request.get(), id.get()) == nullptr) return "";
  static_cast<void>(id.release());  // the request owns it now
  unsigned char* der = nullptr;
  const int len = i2d_OCSP_REQUEST(request.get(), &der);
  if (len <= 0) return "";
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

bool sameHostAndPort(const std::string& url, const FirewallEntry& e) {
  auto parsed = parseHttpUrl(url);
  return parsed && parsed->host == e.host && parsed->port == e.port;
}

std::string rootUrl(const FirewallEntry& e) {
  return "http://" + e.host + (e.port == 80 ? "" : ":" + std::to_string(e.port)) + "/";
}

// Every certificate of the config that may name a caIssuers URL.
std::vector<X509*> configuredCertificates(const conf::Config& config) {
  std::vector<X509*> out;
  for (const auto& up : config.upstreams) {
    for (const auto& i : up.issuers) out.push_back(i.cert.get());
  }
  for (const auto& i : config.crl.issuers) out.push_back(i.cert.get());
  for (const auto& i : config.watch.issuers) out.push_back(i.cert.get());
  return out;
}

EgressTarget targetOf(const FirewallEntry& e, EgressKind kind) {
  EgressTarget t;
  t.host = e.host;
  t.port = e.port;
  t.purpose = e.purpose;
  t.kind = kind;
  return t;
}

EgressTarget ocspTarget(const conf::Config& config, const FirewallEntry& e) {
  EgressTarget t = targetOf(e, EgressKind::Ocsp);
  const std::string name = e.purpose.substr(std::string("ocsp upstream ").size());
  const conf::Upstream* up = nullptr;
  for (const auto& u : config.upstreams) {
    if (u.name == name) up = &u;
  }
  const bool default_port = up && up->port == (up->scheme == "https" ? 443 : 80);
  t.url = (up ? up->scheme : "http") + "://" + e.host +
          (default_port ? "" : ":" + std::to_string(e.port)) + (up ? up->path : "/");
  t.post_body =
      ocspRequestFor(up && !up->issuers.empty() ? up->issuers.front().cert.get() : nullptr);
  t.max_bytes = config.limits.max_upstream_response_bytes;
  return t;
}

EgressTarget httpTarget(const conf::Config& config, const FirewallEntry& e, EgressKind kind) {
  EgressTarget t = targetOf(e, kind);
  if (kind == EgressKind::Crl) {
    t.max_bytes = kCrlPrefixBytes;
    for (const auto& url : config.crl.urls) {
      if (t.url.empty() && sameHostAndPort(url, e)) t.url = url;
    }
  } else {
    t.max_bytes = config.forward.aia_max_bytes;
    for (X509* cert : configuredCertificates(config)) {
      for (const auto& url : caIssuersUrls(cert)) {
        if (t.url.empty() && sameHostAndPort(url, e)) t.url = url;
      }
    }
  }
  if (t.url.empty()) {
    t.url = rootUrl(e);
    t.path_known = false;
  }
  return t;
}

std::vector<EgressTarget> plan(const conf::Config& config,
                               const std::optional<int64_t>& timeout_ms) {
  std::vector<EgressTarget> targets;
  for (const auto& e : firewallEntries(config)) {
    EgressTarget t;
    if (e.purpose.starts_with("ocsp upstream ")) {
      t = ocspTarget(config, e);
    } else if (e.purpose == "crl") {
      t = httpTarget(config, e, EgressKind::Crl);
    } else if (e.purpose == "aia") {
      t = httpTarget(config, e, EgressKind::Aia);
    } else {  // "redis", "redis sentinel": firewall-list names no other
      t = targetOf(e, EgressKind::Redis);
      if (e.purpose == "redis") t.redis_password = config.redis->password;
      t.timeout_ms = timeout_ms.value_or(config.redis->connect_timeout_ms);
      t.redis_command_timeout_ms = timeout_ms.value_or(config.redis->command_timeout_ms);
      targets.push_back(std::move(t));
      continue;
    }
    t.timeout_ms = timeout_ms.value_or(config.limits.upstream_timeout_ms);
    targets.push_back(std::move(t));
  }
  return targets;
}

int runTest(const Options& o) {
  auto config = conf::loadConfig(o.config_path);
  if (!config) {
    std::fprintf(stderr, "ocsp-proxy: %s\n", config.error().detail.c_str());
    return 1;
  }
  const std::vector<EgressTarget> targets = plan(**config, o.timeout_ms);
  std::vector<EgressRow> rows;
  {
    CurlGlobal curl;
    rows = probeAll(targets, (*config)->resolve);
  }
  const std::string out =
      o.json ? renderEgressJson(rows, o.timeout_ms.value_or((*config)->limits.upstream_timeout_ms))
             : renderEgressTable(rows);
  std::fwrite(out.data(), 1, out.size(), stdout);
  for (const auto& r : rows) {
    if (!r.verdict.ok) return 1;
  }
  return 0;
}

}  // namespace

int runEgress(int argc, char** argv) {
  return runSubcommand<Options>(argc, argv, "egress", "test", usage, parseArgs, runTest);
}

}  // namespace ocsp::tools
