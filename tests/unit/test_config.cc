#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "conf/config.h"
#include "conf/watch_issuers.h"
#include "core/url.h"
#include "pki/responder_credentials.h"
#include "proxy/component_options.h"
#include "tests/unit/test_pki.h"
#include "tests/unit/test_util.h"
#include "upstream/allow_list.h"
#include "upstream/curl_fetcher.h"

using ocsp::Result;
using ocsp::conf::Config;
using ocsp::conf::isHostName;
using ocsp::conf::isIpLiteral;
using ocsp::conf::loadConfig;
using ocsp::conf::NoncePolicy;
using ocsp::conf::parseConfig;
using ocsp::conf::RevokedIssuerPolicy;
using ocsp::conf::UnknownIssuerPolicy;
using ocsp::test::realData;

using ocsp::test::StderrCapture;

namespace {

namespace fs = std::filesystem;

// A fresh directory under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/test_config.XXXXXX";
    const char* made = mkdtemp(name);
    REQUIRE(made != nullptr);
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

  std::string write(const std::string& relative, const std::string& content) const {
    const fs::path full = fs::path(path_) / relative;
    fs::create_directories(full.parent_path());
    std::ofstream(full, std::ios::binary) << content;
    return full.string();
  }
  std::string copy(const std::string& from, const std::string& relative) const {
    return write(relative, ocsp::test::readFile(from));
  }
  std::string mkdir(const std::string& relative) const {
    const fs::path full = fs::path(path_) / relative;
    fs::create_directories(full);
    return full.string();
  }

 private:
  std::string path_;
};


std::string caCert() { return realData("aws-lc-ocsp/ca_cert.pem"); }
std::string root(const std::string& file) { return realData("certifi-mozilla-roots/" + file); }

// Test YAML names the shared real test data as $REAL/<path>.
std::string expand(std::string yaml) {
  const std::string token = "$REAL/";
  const std::string real = realData("");
  for (size_t at; (at = yaml.find(token)) != std::string::npos;) {
    yaml.replace(at, token.size(), real);
  }
  return yaml;
}

Result<std::shared_ptr<const Config>> parse(const std::string& yaml,
                                            const std::string& base_dir = "/nonexistent") {
  return parseConfig(expand(yaml), "F", base_dir);
}

// A valid upstreams section. Appended after the text under test, so line numbers in expected
// messages are those of the text under test.
const std::string kUpstreams =
    "upstreams:\n"
    "  - name: a\n"
    "    fqdns: [ocsp.a.test]\n"
    "    issuers: [$REAL/aws-lc-ocsp/ca_cert.pem]\n";

// The error detail of a config that must not load, or a marker that fails the comparison.
std::string errorOf(const std::string& yaml, const std::string& base_dir = "/nonexistent") {
  auto loaded = parse(yaml, base_dir);
  if (loaded.ok()) return "(loaded without error)";
  CHECK(loaded.error().category == ocsp::ErrorCategory::Config);
  CHECK(loaded.error().code == "config");
  return loaded.error().detail;
}

std::shared_ptr<const Config> load(const std::string& yaml,
                                   const std::string& base_dir = "/nonexistent") {
  auto loaded = parse(yaml, base_dir);
  INFO(yaml);
  REQUIRE_MESSAGE(loaded.ok(), loaded.error().detail);
  return *loaded;
}

std::vector<std::string> fileNames(const std::vector<ocsp::conf::IssuerCert>& issuers) {
  std::vector<std::string> out;
  for (const auto& issuer : issuers) out.push_back(fs::path(issuer.path).filename().string());
  return out;
}

// Allow-list entries as "host:port", for comparisons.
std::vector<std::string> hostPorts(const std::vector<ocsp::conf::HostAndPort>& hosts) {
  std::vector<std::string> out;
  for (const auto& h : hosts) out.push_back(h.host + ":" + std::to_string(h.port));
  return out;
}

struct ErrorCase {
  std::string yaml;
  std::string expected;
};

void checkErrors(const std::vector<ErrorCase>& cases,
                 const std::string& base_dir = "/nonexistent") {
  for (const auto& c : cases) {
    CAPTURE(c.yaml);
    CHECK(errorOf(c.yaml, base_dir) == c.expected);
  }
}

}  // namespace

TEST_CASE("the shipped config loads with its upstreams and their catalogued issuers") {
  auto loaded = loadConfig(ocsp::test::sourcePath("conf/ocsp-proxy.yaml"));
  REQUIRE_MESSAGE(loaded.ok(), loaded.error().detail);
  const Config& c = **loaded;
  std::vector<std::string> names;
  for (const auto& u : c.upstreams) names.push_back(u.name);
  CHECK(names == std::vector<std::string>{"quovadis", "digicert", "digicert-cn", "digicert-dcocsp",
                                          "digicert-cn-com", "digicert-validation", "globalsign",
                                          "google-trust-services", "pkioverheid-root",
                                          "pkioverheid-services"});
  CHECK(c.upstreams[6].fqdns ==
        std::vector<std::string>{"ocsp.globalsign.com", "ocsp2.globalsign.com"});
  CHECK(c.upstreams[8].fqdns == std::vector<std::string>{"rootocsp-g3.pkioverheid.nl"});
  CHECK(c.upstreams[9].fqdns ==
        std::vector<std::string>{"domorganisatieservicesocsp-g3.pkioverheid.nl"});
  for (const auto& u : c.upstreams) {
    CAPTURE(u.name);
    CHECK_FALSE(u.issuers.empty());
    CHECK(u.port == 80);
    for (const auto& issuer : u.issuers) CHECK(issuer.cert != nullptr);
  }
  CHECK(c.listen_ocsp.host == "127.0.0.1");
  CHECK(c.listen_ocsp.port == 8080);
  CHECK(c.limits.max_request_bytes == 16 * 1024);
  CHECK(c.cache.memory_bytes == 256u << 20);
  CHECK(c.cache.max_age_s == 7 * 86400);
  CHECK(c.forward.enabled);
  CHECK(hostPorts(c.forward.aia_fqdns) ==
        std::vector<std::string>{"cacerts.digicert.com:80", "trust.quovadisglobal.com:80",
                                 "secure.globalsign.com:80", "cert.pkioverheid.nl:80",
                                 "pki.goog:80", "i.pki.goog:80"});
  CHECK(hostPorts(c.crl.fqdns) ==
        std::vector<std::string>{"crl3.digicert.com:80", "crl4.digicert.com:80",
                                 "crl.digicert.cn:80", "crl.digicert-cn.com:80",
                                 "crl.digicert-validation.com:80", "onsitecrl.trustwise.com:80",
                                 "crl.quovadisglobal.com:80", "crl.globalsign.com:80",
                                 "crl.globalsign.net:80", "crl.pkioverheid.nl:80",
                                 "crl.pki.goog:80", "c.pki.goog:80"});
  CHECK(c.crl.urls.empty());
  CHECK(c.revocation_log.empty());
  CHECK(c.watch.interval_s == 3600);
  CHECK(c.distrust.empty());
}

TEST_CASE("the shipped config watches every catalogued intermediate") {
  auto loaded = loadConfig(ocsp::test::sourcePath("conf/ocsp-proxy.yaml"));
  REQUIRE_MESSAGE(loaded.ok(), loaded.error().detail);
  const Config& c = **loaded;
  // Every CA of every upstream's catalogue directory that is not a root, each under a parent
  // of the catalogue; only an expired one (as time passes) may be left out.
  size_t intermediates = 0;
  for (const auto& u : c.upstreams) {
    for (const auto& issuer : u.issuers) {
      intermediates += X509_self_signed(issuer.cert.get(), 0) == 1 ? 0 : 1;
    }
  }
  CHECK(intermediates > 250);
  for (const auto& skipped : c.watch.skipped) CHECK(skipped.reason == "expired");
  CHECK(c.watch.intermediates.size() + c.watch.skipped.size() == intermediates);
  std::set<std::string> names;
  for (const auto& ca : c.watch.intermediates) names.insert(ca.name);
  CHECK(names.size() == c.watch.intermediates.size());
}

TEST_CASE("an error in the shipped config names the shipped file, its line and the key path") {
  std::string text = ocsp::test::readFile(ocsp::test::sourcePath("conf/ocsp-proxy.yaml"));
  const std::string original = "fqdns: [ocsp.digicert.com]";
  size_t at = text.find(original);
  REQUIRE(at != std::string::npos);
  text.replace(at, original.size(), "fqdns: [\"http://x\"]");
  const long line = 1 + std::count(text.begin(), text.begin() + static_cast<long>(at), '\n');
  auto loaded = parseConfig(text, "conf/ocsp-proxy.yaml", ocsp::test::sourcePath("conf"));
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.error().detail == "conf/ocsp-proxy.yaml:" + std::to_string(line) +
                                     ": upstreams[1].fqdns[0]: not a host name: \"http://x\"");
}

TEST_CASE("keys left out take their documented defaults") {
  auto c = load(kUpstreams);
  CHECK(c->path == "F");
  CHECK(c->listen_ocsp.host == "127.0.0.1");
  CHECK(c->listen_ocsp.port == 8080);
  CHECK(c->listen_admin.host == "127.0.0.1");
  CHECK(c->listen_admin.port == 9090);
  CHECK(c->workers == 0);
  CHECK(c->limits.max_request_bytes == 16 * 1024);
  CHECK(c->limits.max_header_bytes == 8 * 1024);
  CHECK(c->limits.client_timeout_ms == 10'000);
  CHECK(c->limits.request_timeout_ms == 10'000);
  CHECK(c->limits.upstream_timeout_ms == 5'000);
  CHECK(c->limits.max_upstream_response_bytes == 1 << 20);
  CHECK(c->limits.max_connections == 4096);
  CHECK(c->limits.max_headers == 64);
  CHECK(c->limits.rate_per_client == 0);
  CHECK(c->limits.rate_burst == 0);
  CHECK(c->limits.drain_timeout_ms == 10'000);
  CHECK(c->limits.revocation_log_buffer == 8u << 20);
  CHECK(c->limits.max_cert_ids_per_request == 16);
  CHECK(c->cache.memory_bytes == 256u << 20);
  CHECK(c->cache.max_age_s == 7 * 86400);
  CHECK(c->cache.no_next_update_ttl_s == 300);
  CHECK(c->cache.clock_skew_s == 300);
  CHECK(c->nonce == NoncePolicy::Ignore);
  CHECK(c->logging.level == ocsp::LogLevel::Info);
  CHECK(c->resolve.empty());
  REQUIRE(c->upstreams.size() == 1);
  const auto& u = c->upstreams[0];
  CHECK(u.name == "a");
  CHECK(u.fqdns == std::vector<std::string>{"ocsp.a.test"});
  CHECK(u.scheme == "http");
  CHECK(u.port == 80);
  CHECK(u.path == "/");
  REQUIRE(u.issuers.size() == 1);
  CHECK(u.issuers[0].path == caCert());
  CHECK(ocsp::subjectLine(u.issuers[0].cert.get()) == "O=s2n,ST=WA,C=US");
}

TEST_CASE("an https upstream defaults to port 443") {
  auto c = load(
      "upstreams:\n"
      "  - name: a\n"
      "    fqdns: [ocsp.a.test]\n"
      "    scheme: https\n"
      "    issuers: [$REAL/aws-lc-ocsp/ca_cert.pem]\n");
  CHECK(c->upstreams[0].port == 443);
}

TEST_CASE("every key of the schema is stored in the config") {
  auto c = load(
      "listen:\n"
      "  ocsp: \"[::1]:0\"\n"
      "  admin: localhost:9191\n"
      "workers: 8\n"
      "limits:\n"
      "  max_request_bytes: 32KiB\n"
      "  max_header_bytes: 4096\n"
      "  client_timeout: 30s\n"
      "  request_timeout: 15s\n"
      "  upstream_timeout: 1500ms\n"
      "  max_upstream_response_bytes: 2MiB\n"
      "  max_connections: 100\n"
      "  max_headers: 20\n"
      "  rate_per_client: 50\n"
      "  rate_burst: 200\n"
      "  drain_timeout: 30s\n"
      "  revocation_log_buffer: 64KiB\n"
      "  max_cert_ids_per_request: 4\n"
      "cache:\n"
      "  memory_bytes: 1GiB\n"
      "  max_age: 0s\n"
      "  no_next_update_ttl: 10m\n"
      "  clock_skew: 1m\n"
      "nonce: passthrough\n"
      "logging: {level: debug}\n"
      "resolve:\n"
      "  ocsp.a.test: 192.0.2.10\n"
      "  ocsp2.a.test: \"2001:db8::1\"\n"
      "upstreams:\n"
      "  - name: a_1.x-y\n"
      "    fqdns: [ocsp.a.test, ocsp2.a.test]\n"
      "    scheme: https\n"
      "    port: 8443\n"
      "    path: /ocsp\n"
      "    issuers:\n"
      "      - $REAL/aws-lc-ocsp/ca_cert.pem\n"
      "      - $REAL/certifi-mozilla-roots/GlobalSign_Root_CA.pem\n");
  CHECK(c->listen_ocsp.host == "::1");
  CHECK(c->listen_ocsp.port == 0);
  CHECK(c->listen_admin.host == "localhost");
  CHECK(c->listen_admin.port == 9191);
  CHECK(c->workers == 8);
  CHECK(c->limits.max_request_bytes == 32 * 1024);
  CHECK(c->limits.max_header_bytes == 4096);
  CHECK(c->limits.client_timeout_ms == 30'000);
  CHECK(c->limits.request_timeout_ms == 15'000);
  CHECK(c->limits.upstream_timeout_ms == 1'500);
  CHECK(c->limits.max_upstream_response_bytes == 2u << 20);
  CHECK(c->limits.max_connections == 100);
  CHECK(c->limits.max_headers == 20);
  CHECK(c->limits.rate_per_client == 50);
  CHECK(c->limits.rate_burst == 200);
  CHECK(c->limits.drain_timeout_ms == 30'000);
  CHECK(c->limits.revocation_log_buffer == 64 * 1024);
  CHECK(c->limits.max_cert_ids_per_request == 4);
  CHECK(c->cache.memory_bytes == 1u << 30);
  CHECK(c->cache.max_age_s == 0);
  CHECK(c->cache.no_next_update_ttl_s == 600);
  CHECK(c->cache.clock_skew_s == 60);
  CHECK(c->nonce == NoncePolicy::Passthrough);
  CHECK(c->logging.level == ocsp::LogLevel::Debug);
  CHECK(c->resolve == std::map<std::string, std::string>{{"ocsp.a.test", "192.0.2.10"},
                                                         {"ocsp2.a.test", "2001:db8::1"}});
  const auto& u = c->upstreams[0];
  CHECK(u.name == "a_1.x-y");
  CHECK(u.fqdns == std::vector<std::string>{"ocsp.a.test", "ocsp2.a.test"});
  CHECK(u.scheme == "https");
  CHECK(u.port == 8443);
  CHECK(u.path == "/ocsp");
  CHECK(fileNames(u.issuers) == std::vector<std::string>{"ca_cert.pem", "GlobalSign_Root_CA.pem"});
}

TEST_CASE("an empty section means all of its defaults") {
  auto c = load("listen:\ncache:\nlimits: {}\nlogging:\nresolve:\n" + kUpstreams);
  CHECK(c->listen_ocsp.port == 8080);
  CHECK(c->cache.memory_bytes == 256u << 20);
  CHECK(c->resolve.empty());
}

TEST_CASE("schema errors name the file, the line and the dotted key path") {
  checkErrors({
      {"cache:\n  max_age: 7d\n  memroy_bytes: 1GiB\n" + kUpstreams,
       "F:3: cache.memroy_bytes: unknown key"},
      {"colour: blue\n" + kUpstreams, "F:1: colour: unknown key"},
      {"listen:\n  ocsp: 8080\n" + kUpstreams,
       "F:2: listen.ocsp: not an address (expected HOST:PORT or [IPv6]:PORT): \"8080\""},
      {"workers: 1\nlimits:\n  max_request_bytes: 16KiB\n  max_header_bytes: 8KiB\n"
       "  client_timeout: 10\n" +
           kUpstreams,
       "F:5: limits.client_timeout: not a duration (expected e.g. 250ms, 10s, 5m, 1h, 7d): "
       "\"10\""},
      {"workers: 1\nnonce: ignore\nlogging:\n  level: info\ncache:\n  memory_bytes: lots\n" +
           kUpstreams,
       "F:6: cache.memory_bytes: not a size (expected bytes or e.g. 64KiB, 256MiB, 1GiB): "
       "\"lots\""},
      {"workers: 1\nlogging: {level: warn}\ncache: {}\nnonce: sometimes\n" + kUpstreams,
       "F:4: nonce: must be one of ignore, passthrough: \"sometimes\""},
      {"logging:\n  level: verbose\n" + kUpstreams,
       "F:2: logging.level: must be one of debug, info, warn, error: \"verbose\""},
      {"logging:\n  levle: info\n" + kUpstreams, "F:2: logging.levle: unknown key"},
      {"workers: 300\n" + kUpstreams, "F:1: workers: out of range (expected 0..256): \"300\""},
      {"workers: -1\n" + kUpstreams, "F:1: workers: out of range (expected 0..256): \"-1\""},
      {"workers: four\n" + kUpstreams, "F:1: workers: expected an integer: \"four\""},
      {"workers: 4.5\n" + kUpstreams, "F:1: workers: expected an integer: \"4.5\""},
      {"workers: [4]\n" + kUpstreams, "F:1: workers: expected an integer"},
      {"workers:\n" + kUpstreams, "F:1: workers: missing value"},
      {"workers: 1\nworkers: 2\n" + kUpstreams, "F:2: workers: duplicate key"},
      {"limits: 5\n" + kUpstreams, "F:1: limits: expected a map: \"5\""},
      {"cache: [1]\n" + kUpstreams, "F:1: cache: expected a map"},
      {"listen:\n  ocsp:\n" + kUpstreams, "F:2: listen.ocsp: missing value"},
      {"listen:\n  ocsp: [a]\n" + kUpstreams, "F:2: listen.ocsp: expected a string"},
      {"listen:\n  admin: example.com:80\n" + kUpstreams,
       "F:2: listen.admin: host must be an IP address or localhost: \"example.com:80\""},
      {"listen:\n  ocsp: 127.0.0.1:65536\n" + kUpstreams,
       "F:2: listen.ocsp: port out of range (expected 0..65535): \"127.0.0.1:65536\""},
      {"listen:\n  ocsp: \"::1:80\"\n" + kUpstreams,
       "F:2: listen.ocsp: not an address (expected HOST:PORT or [IPv6]:PORT): \"::1:80\""},
      {"limits:\n  upstream_timeout: 0s\n" + kUpstreams,
       "F:2: limits.upstream_timeout: must be greater than 0: \"0s\""},
      {"limits:\n  request_timeout: 0s\n" + kUpstreams,
       "F:2: limits.request_timeout: must be greater than 0: \"0s\""},
      {"limits:\n  request_timeout: 10\n" + kUpstreams,
       "F:2: limits.request_timeout: not a duration (expected e.g. 250ms, 10s, 5m, 1h, 7d): "
       "\"10\""},
      {"limits:\n  max_header_bytes: 0\n" + kUpstreams,
       "F:2: limits.max_header_bytes: must be greater than 0: \"0\""},
      {"limits:\n  revocation_log_buffer: 0\n" + kUpstreams,
       "F:2: limits.revocation_log_buffer: must be greater than 0: \"0\""},
      {"limits:\n  max_cert_ids_per_request: 0\n" + kUpstreams,
       "F:2: limits.max_cert_ids_per_request: out of range (expected 1..10000): \"0\""},
      {"cache:\n  memory_bytes: 99999999999GiB\n" + kUpstreams,
       "F:2: cache.memory_bytes: too large: \"99999999999GiB\""},
      {"cache:\n  clock_skew: 1500ms\n" + kUpstreams,
       "F:2: cache.clock_skew: not a whole number of seconds: \"1500ms\""},
      {"resolve:\n  ocsp.a.test: not-an-ip\n" + kUpstreams,
       "F:2: resolve.ocsp.a.test: not an IP address: \"not-an-ip\""},
      {"resolve:\n  \"http://x\": 192.0.2.1\n" + kUpstreams,
       "F:2: resolve: not a host name: \"http://x\""},
      {"resolve:\n  ocsp.a.test: 192.0.2.1\n  ocsp.a.test: 192.0.2.2\n" + kUpstreams,
       "F:3: resolve.ocsp.a.test: duplicate key"},
      {"resolve: [ocsp.a.test]\n" + kUpstreams, "F:1: resolve: expected a map"},
  });
}

TEST_CASE("document-level errors are reported at the root with an empty key path") {
  checkErrors({
      {"a: b: c\n", "F:1: : not valid YAML: illegal map value"},
      {"workers: 1\nlimits: {max_request_bytes: 1KiB\n",
       "F:3: : not valid YAML: end of map flow not found"},
      {"hello\n", "F:1: : expected a map: \"hello\""},
      {"- a\n- b\n", "F:1: : expected a map"},
      {"workers: 1\n---\nworkers: 2\n", "F:3: : more than one YAML document"},
      // yaml-cpp 0.7's LoadAll never returns on these (found by tests/fuzz/fuzz_config).
      {"-\n,\n", "F:2: : not valid YAML: unexpected \",\""},
      {",a\n", "F:1: : not valid YAML: unexpected \",\""},
      {"", "F:1: upstreams: required"},
      {"# nothing but a comment\n", "F:1: upstreams: required"},
      {"workers: 1\n", "F:1: upstreams: required"},
      {"upstreams: []\n", "F:1: upstreams: must not be empty"},
      {"upstreams:\n", "F:1: upstreams: must not be empty"},
      {"upstreams: {a: 1}\n", "F:1: upstreams: expected a list"},
      {"upstreams: [a]\n", "F:1: upstreams[0]: expected a map: \"a\""},
  });
}

TEST_CASE("upstream errors name the entry by index") {
  const std::string head =
      "upstreams:\n"
      "  - name: a\n"
      "    fqdns: [ocsp.a.test]\n"
      "    issuers: [$REAL/aws-lc-ocsp/ca_cert.pem]\n";
  checkErrors({
      {head + "    scheme: ftp\n", "F:5: upstreams[0].scheme: must be one of http, https: \"ftp\""},
      {head + "    port: 0\n", "F:5: upstreams[0].port: out of range (expected 1..65535): \"0\""},
      {head + "    port: 70000\n",
       "F:5: upstreams[0].port: out of range (expected 1..65535): \"70000\""},
      {head + "    path: ocsp\n",
       "F:5: upstreams[0].path: not a URL path (expected e.g. \"/\" or \"/ocsp\"): \"ocsp\""},
      {head + "    path: \"/a b\"\n",
       "F:5: upstreams[0].path: not a URL path (expected e.g. \"/\" or \"/ocsp\"): \"/a b\""},
      {head + "    fqnds: [ocsp.a.test]\n", "F:5: upstreams[0].fqnds: unknown key"},
      {head + "  - name: b c\n    fqdns: [ocsp.b.test]\n    issuers: "
              "[$REAL/aws-lc-ocsp/ca_cert.pem]\n",
       "F:5: upstreams[1].name: not a valid name (expected letters, digits, '_', '.' and '-'): "
       "\"b c\""},
      {"upstreams:\n  - name: a\n    fqdns: []\n    issuers: [$REAL/aws-lc-ocsp/ca_cert.pem]\n",
       "F:3: upstreams[0].fqdns: must not be empty (only an upstream with revocation_source: "
       "crl has no OCSP responder)"},
      {"upstreams:\n  - name: a\n    fqdns: ocsp.a.test\n    issuers: "
       "[$REAL/aws-lc-ocsp/ca_cert.pem]\n",
       "F:3: upstreams[0].fqdns: expected a list: \"ocsp.a.test\""},
      {"upstreams:\n  - name: a\n    fqdns:\n      - ocsp.a.test\n      - \"http://x\"\n"
       "    issuers: [$REAL/aws-lc-ocsp/ca_cert.pem]\n",
       "F:5: upstreams[0].fqdns[1]: not a host name: \"http://x\""},
      {"upstreams:\n  - name: a\n    fqdns: [ocsp.a.test]\n    issuers: []\n",
       "F:4: upstreams[0].issuers: must not be empty"},
      {"upstreams:\n  - name: a\n    fqdns: [ocsp.a.test]\n    issuers: [[x]]\n",
       "F:4: upstreams[0].issuers[0]: expected a string"},
  });
}

TEST_CASE("a missing required key is reported at the map that lacks it") {
  const std::string issuers = "    issuers: [$REAL/aws-lc-ocsp/ca_cert.pem]\n";
  checkErrors({
      {"workers: 0\nnonce: ignore\nlogging:\n  level: info\ncache: {}\nupstreams:\n"
       "  - fqdns: [ocsp.a.test]\n" +
           issuers,
       "F:7: upstreams[0].name: required"},
      {"upstreams:\n  - name: a\n" + issuers,
       "F:2: upstreams[0].fqdns: required (only an upstream with revocation_source: crl has no "
       "OCSP responder)"},
      {"upstreams:\n  - name: a\n    fqdns: [ocsp.a.test]\n",
       "F:2: upstreams[0].issuers: required"},
      {"upstreams:\n  - {name: a, fqdns: [ocsp.a.test]}\n", "F:2: upstreams[0].issuers: required"},
  });
}

TEST_CASE("a second upstream with the same name is rejected at its name") {
  CHECK(errorOf("upstreams:\n"
                "  - name: quovadis\n"
                "    fqdns: [ocsp.quovadisglobal.com]\n"
                "    issuers: [$REAL/certifi-mozilla-roots/QuoVadis_Root_CA_2.pem]\n"
                "  - name: digicert\n"
                "    fqdns: [ocsp.digicert.com]\n"
                "    issuers: [$REAL/certifi-mozilla-roots/DigiCert_Global_Root_CA.pem]\n"
                "  - name: digicert\n"
                "    fqdns: [ocsp2.digicert.com]\n"
                "    issuers: [$REAL/certifi-mozilla-roots/DigiCert_Global_Root_G2.pem]\n") ==
        "F:8: upstreams[2].name: duplicate upstream name \"digicert\"");
}

TEST_CASE("a host name listed twice in one upstream is rejected, ignoring case") {
  CHECK(errorOf("upstreams:\n"
                "  - name: a\n"
                "    fqdns:\n"
                "      - ocsp.a.test\n"
                "      - OCSP.A.test\n"
                "    issuers: [$REAL/aws-lc-ocsp/ca_cert.pem]\n") ==
        "F:5: upstreams[0].fqdns[1]: duplicate host name \"ocsp.a.test\"");
}

TEST_CASE("the same host name in two upstreams is allowed") {
  auto c = load(
      "upstreams:\n"
      "  - {name: a, fqdns: [ocsp.a.test], path: /a, issuers: [$REAL/aws-lc-ocsp/ca_cert.pem]}\n"
      "  - {name: b, fqdns: [ocsp.a.test], path: /b, issuers: "
      "[$REAL/certifi-mozilla-roots/GlobalSign_Root_CA.pem]}\n");
  CHECK(c->upstreams.size() == 2);
}

TEST_CASE("issuer entries that cannot be loaded are rejected with the reason") {
  TempDir dir;
  dir.write("x.pem", "not a certificate\n");
  dir.write("empty/README.md", "nothing to see\n");
  dir.write("junk/a.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  const std::string head =
      "workers: 0\n"
      "nonce: ignore\n"
      "logging:\n"
      "  level: info\n"
      "cache: {}\n"
      "upstreams:\n"
      "  - name: a\n"
      "    fqdns: [ocsp.a.test]\n";
  checkErrors(
      {
          {head + "    issuers: [issuers/none.pem]\n",
           "F:9: upstreams[0].issuers[0]: cannot read \"issuers/none.pem\": No such file or "
           "directory"},
          {head + "    issuers: [x.pem]\n",
           "F:9: upstreams[0].issuers[0]: no certificate in \"x.pem\" (expected PEM or DER "
           "X.509)"},
          {head + "    issuers: [empty]\n",
           "F:9: upstreams[0].issuers[0]: no certificate files (*.pem, *.crt, *.cer) in "
           "directory \"empty\""},
          {head + "    issuers: [junk/]\n",
           "F:9: upstreams[0].issuers[0]: no certificate in \"junk/a.pem\" (expected PEM or DER "
           "X.509)"},
          {head + "    issuers:\n      - $REAL/aws-lc-ocsp/ca_cert.pem\n      - /dev/null\n",
           "F:11: upstreams[0].issuers[1]: not a file or directory: \"/dev/null\""},
      },
      dir.path());
}

TEST_CASE("an issuer file that cannot be opened is rejected with the OS reason") {
  if (geteuid() == 0) return;  // root reads every file
  TempDir dir;
  fs::permissions(dir.copy(caCert(), "locked.pem"), fs::perms::none);
  CHECK(errorOf("upstreams:\n  - {name: a, fqdns: [ocsp.a.test], issuers: [locked.pem]}\n",
                dir.path()) ==
        "F:2: upstreams[0].issuers[0]: cannot read \"locked.pem\": Permission denied");
}

TEST_CASE("an issuer directory loads every certificate file in it, sorted by name") {
  TempDir dir;
  dir.copy(realData("pyca-cryptography-vectors/PKITS/TrustAnchorRootCertificate.crt"),
           "issuers/d.crt");  // DER
  dir.copy(root("GlobalSign_Root_CA.pem"), "issuers/b.pem");
  dir.copy(caCert(), "issuers/c.cer");
  dir.write("issuers/a.pem", ocsp::test::readFile(root("DigiCert_Global_Root_CA.pem")) +
                                 ocsp::test::readFile(root("DigiCert_Global_Root_G2.pem")));
  dir.write("issuers/notes.txt", "not a certificate, and not loaded\n");
  dir.mkdir("issuers/nested.pem");
  dir.copy(root("QuoVadis_Root_CA_2.pem"), "issuers/nested.pem/e.pem");  // not recursive

  auto c =
      load("upstreams:\n  - {name: a, fqdns: [ocsp.a.test], issuers: [issuers]}\n", dir.path());
  const auto& issuers = c->upstreams[0].issuers;
  CHECK(fileNames(issuers) ==
        std::vector<std::string>{"a.pem", "a.pem", "b.pem", "c.cer", "d.crt"});
  REQUIRE(issuers.size() == 5);
  CHECK(issuers[0].path == dir.path() + "/issuers/a.pem");
  CHECK(ocsp::subjectLine(issuers[0].cert.get()).find("DigiCert Global Root CA") !=
        std::string::npos);
  CHECK(ocsp::subjectLine(issuers[1].cert.get()).find("DigiCert Global Root G2") !=
        std::string::npos);
  CHECK(ocsp::subjectLine(issuers[4].cert.get()).find("Trust Anchor") != std::string::npos);
}

TEST_CASE("the Mozilla roots directory loads one issuer per file") {
  StderrCapture log;  // some of these roots have expired: warnings, not errors
  auto c = load(
      "upstreams:\n  - {name: roots, fqdns: [ocsp.a.test], issuers: "
      "[$REAL/certifi-mozilla-roots/]}\n");
  std::vector<std::string> expected;
  for (const auto& entry : fs::directory_iterator(realData("certifi-mozilla-roots"))) {
    if (entry.path().extension() == ".pem") expected.push_back(entry.path().filename().string());
  }
  std::sort(expected.begin(), expected.end());
  REQUIRE_FALSE(expected.empty());
  CHECK(fileNames(c->upstreams[0].issuers) == expected);
  CHECK(log.text().find("GlobalSign_Root_CA_R2.pem upstream=roots") != std::string::npos);
}

TEST_CASE("relative issuer paths are resolved against the config file's directory") {
  TempDir dir;
  dir.copy(caCert(), "conf/issuers/ca.pem");
  const std::string path =
      dir.write("conf/proxy.yaml",
                "upstreams:\n  - {name: a, fqdns: [ocsp.a.test], issuers: [issuers/ca.pem]}\n");
  auto loaded = loadConfig(path);
  REQUIRE_MESSAGE(loaded.ok(), loaded.error().detail);
  CHECK((*loaded)->path == path);
  CHECK((*loaded)->upstreams[0].issuers[0].path == dir.path() + "/conf/issuers/ca.pem");
}

TEST_CASE("a config file that cannot be opened is reported without a line") {
  auto loaded = loadConfig("/nonexistent/ocsp-proxy.yaml");
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.error().category == ocsp::ErrorCategory::Config);
  CHECK(loaded.error().detail ==
        "/nonexistent/ocsp-proxy.yaml: cannot read config: No such file or directory");
}

TEST_CASE("one issuer certificate in two upstreams is rejected naming both") {
  TempDir dir;
  dir.copy(caCert(), "b/copy.pem");
  CHECK(errorOf("upstreams:\n"
                "  - name: a\n"
                "    fqdns: [ocsp.a.test]\n"
                "    issuers: [$REAL/aws-lc-ocsp/ca_cert.pem]\n"
                "  - name: b\n"
                "    fqdns: [ocsp.b.test]\n"
                "    issuers:\n"
                "      - $REAL/certifi-mozilla-roots/GlobalSign_Root_CA.pem\n"
                "      - b\n",
                dir.path()) ==
        "F:9: upstreams[1].issuers[1]: issuer certificate \"O=s2n,ST=WA,C=US\" is configured "
        "for both upstream \"a\" and upstream \"b\"");
}

TEST_CASE("one issuer certificate listed twice for the same upstream is kept once") {
  TempDir dir;
  dir.copy(caCert(), "issuers/ca.pem");
  auto c = load(
      "upstreams:\n  - {name: a, fqdns: [ocsp.a.test], "
      "issuers: [issuers/ca.pem, issuers]}\n",
      dir.path());
  CHECK(c->upstreams[0].issuers.size() == 1);
}

TEST_CASE("an expired issuer certificate loads with an issuer_not_valid_now warning") {
  const std::string expired = realData("aws-lc-ocsp/ocsp_expired_cert.pem");
  StderrCapture log;
  auto loaded =
      parse("upstreams:\n  - {name: a, fqdns: [ocsp.a.test], issuers: [" + expired + "]}\n");
  const std::string text = log.text();
  REQUIRE_MESSAGE(loaded.ok(), loaded.error().detail);
  CHECK(text.find("level=warn event=issuer_not_valid_now file=" + expired) != std::string::npos);
  CHECK(text.find("subject=\"O=AWS,ST=WA,C=US\"") != std::string::npos);
  CHECK(text.find("not_after=2023-06-03T00:27:54Z") != std::string::npos);
}

TEST_CASE("a resolve entry for a host no upstream uses loads with a resolve_unused warning") {
  StderrCapture log;
  auto loaded =
      parse("resolve:\n  ocsp.a.test: 192.0.2.1\n  ocsp.b.test: 192.0.2.2\n" + kUpstreams);
  const std::string text = log.text();
  REQUIRE_MESSAGE(loaded.ok(), loaded.error().detail);
  CHECK(text.find("event=resolve_unused file=F fqdn=ocsp.b.test") != std::string::npos);
  CHECK(text.find("fqdn=ocsp.a.test") == std::string::npos);
}

TEST_CASE("a rejected config logs no warnings") {
  StderrCapture log;
  auto loaded = parse("resolve:\n  ocsp.b.test: 192.0.2.2\nworkers: 999\n" + kUpstreams);
  CHECK_FALSE(loaded.ok());
  CHECK(log.text().empty());
}

TEST_CASE("sizes are bytes or a number with a binary unit, and bounds are never zero") {
  struct SizeCase {
    std::string text;
    size_t bytes;  // 0: rejected with `error`
    std::string error;
  };
  const std::string not_size = "not a size (expected bytes or e.g. 64KiB, 256MiB, 1GiB): ";
  const std::vector<SizeCase> cases = {
      {"1", 1, ""},
      {"4096", 4096, ""},
      {"1B", 1, ""},
      {"64KiB", 64 * 1024, ""},
      {"256MiB", size_t{256} << 20, ""},
      {"1GiB", size_t{1} << 30, ""},
      {"8GiB", size_t{8} << 30, ""},
      {"0", 0, "must be greater than 0: \"0\""},
      {"0KiB", 0, "must be greater than 0: \"0KiB\""},
      {"1K", 0, not_size + "\"1K\""},
      {"1KB", 0, not_size + "\"1KB\""},
      {"1kib", 0, not_size + "\"1kib\""},
      {"1.5MiB", 0, not_size + "\"1.5MiB\""},
      {"1 KiB", 0, not_size + "\"1 KiB\""},
      {"-1", 0, not_size + "\"-1\""},
      {"KiB", 0, not_size + "\"KiB\""},
      {"0x10", 0, not_size + "\"0x10\""},
      {"[1]", 0, "expected a size"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    const std::string yaml = "limits:\n  max_request_bytes: " + c.text + "\n" + kUpstreams;
    if (c.bytes != 0) {
      CHECK(load(yaml)->limits.max_request_bytes == c.bytes);
    } else {
      CHECK(errorOf(yaml) == "F:2: limits.max_request_bytes: " + c.error);
    }
  }
}

TEST_CASE("cache.refresh_percent is a whole percentage from 1 to 100") {
  CHECK(load(kUpstreams)->cache.refresh_percent == 50);
  CHECK(load("cache:\n  refresh_percent: 80\n" + kUpstreams)->cache.refresh_percent == 80);
  CHECK(errorOf("cache:\n  refresh_percent: 0\n" + kUpstreams) ==
        "F:2: cache.refresh_percent: out of range (expected 1..100): \"0\"");
}

TEST_CASE("cache.memory_bytes 0 turns the in-process cache off") {
  CHECK(load("cache:\n  memory_bytes: 0\n" + kUpstreams)->cache.memory_bytes == 0);
  CHECK(errorOf("cache:\n  memory_bytes: lots\n" + kUpstreams) ==
        "F:2: cache.memory_bytes: not a size (expected bytes or e.g. 64KiB, 256MiB, 1GiB): \"lots\"");
}

TEST_CASE(
    "cache.request_memo_bytes bounds each worker's memo of decoded requests; 0 turns it off") {
  CHECK(load(kUpstreams)->cache.request_memo_bytes == 16u << 20);
  CHECK(load("cache:\n  request_memo_bytes: 4MiB\n" + kUpstreams)->cache.request_memo_bytes ==
        4u << 20);
  CHECK(load("cache:\n  request_memo_bytes: 0\n" + kUpstreams)->cache.request_memo_bytes == 0);
  CHECK(errorOf("cache:\n  request_memo_bytes: -1\n" + kUpstreams) ==
        "F:2: cache.request_memo_bytes: not a size (expected bytes or e.g. 64KiB, 256MiB, 1GiB): "
        "\"-1\"");
}

TEST_CASE("cache.snapshot_interval and snapshot_max_bytes: how often and how much of the cache is "
          "kept in state_dir") {
  auto defaults = load(kUpstreams);
  CHECK(defaults->cache.snapshot_interval_s == 300);
  CHECK(defaults->cache.snapshot_max_bytes == 64u << 20);
  auto set = load("cache:\n  snapshot_interval: 1h\n  snapshot_max_bytes: 0\n" + kUpstreams);
  CHECK(set->cache.snapshot_interval_s == 3600);
  CHECK(set->cache.snapshot_max_bytes == 0);  // no snapshot
  CHECK(errorOf("cache:\n  snapshot_interval: 5s\n" + kUpstreams) ==
        "F:2: cache.snapshot_interval: must be between 10s and 7d: \"5s\"");
  CHECK(errorOf("cache:\n  snapshot_interval: 8d\n" + kUpstreams) ==
        "F:2: cache.snapshot_interval: must be between 10s and 7d: \"8d\"");
  CHECK(errorOf("cache:\n  snapshot_max_bytes: big\n" + kUpstreams) ==
        "F:2: cache.snapshot_max_bytes: not a size (expected bytes or e.g. 64KiB, 256MiB, 1GiB): "
        "\"big\"");
}

TEST_CASE("CRL fetches in progress are bounded in number and bytes") {
  auto c = load(kUpstreams);
  CHECK(c->crl.max_concurrent_fetches == 4);
  CHECK(c->crl.max_inflight_bytes == 128u << 20);
  c = load("crl:\n  max_concurrent_fetches: 2\n  max_inflight_bytes: 64MiB\n" + kUpstreams);
  CHECK(c->crl.max_concurrent_fetches == 2);
  CHECK(c->crl.max_inflight_bytes == 64u << 20);
  CHECK(errorOf("crl:\n  max_concurrent_fetches: 0\n" + kUpstreams) ==
        "F:2: crl.max_concurrent_fetches: out of range (expected 1..64): \"0\"");
  CHECK(errorOf("crl:\n  max_inflight_bytes: 0\n" + kUpstreams) ==
        "F:2: crl.max_inflight_bytes: must be greater than 0: \"0\"");
  CHECK(errorOf("crl:\n  max_bytes: 32MiB\n  max_inflight_bytes: 16MiB\n" + kUpstreams) ==
        "F:3: crl.max_inflight_bytes: must be at least crl.max_bytes (33554432 bytes): a "
        "download reserves that much until its size is known");
}

TEST_CASE("durations need a unit and are stored in the field's unit") {
  struct DurationCase {
    std::string key;  // limits.client_timeout (ms) or cache.max_age (s)
    std::string text;
    int64_t value;  // -1: rejected with `error`
    std::string error;
  };
  const std::string not_duration = "not a duration (expected e.g. 250ms, 10s, 5m, 1h, 7d): ";
  const std::vector<DurationCase> cases = {
      {"limits.client_timeout", "250ms", 250, ""},
      {"limits.client_timeout", "10s", 10'000, ""},
      {"limits.client_timeout", "5m", 300'000, ""},
      {"limits.client_timeout", "1h", 3'600'000, ""},
      {"limits.client_timeout", "7d", 604'800'000, ""},
      {"limits.client_timeout", "0ms", -1, "must be greater than 0: \"0ms\""},
      {"limits.client_timeout", "10", -1, not_duration + "\"10\""},
      {"limits.client_timeout", "10 s", -1, not_duration + "\"10 s\""},
      {"limits.client_timeout", "1.5s", -1, not_duration + "\"1.5s\""},
      {"limits.client_timeout", "-5s", -1, not_duration + "\"-5s\""},
      {"limits.client_timeout", "10sec", -1, not_duration + "\"10sec\""},
      {"limits.client_timeout", "5M", -1, not_duration + "\"5M\""},
      {"limits.client_timeout", "99999999999999999999d", -1,
       "too large: \"99999999999999999999d\""},
      {"limits.client_timeout", "{a: 1}", -1, "expected a duration"},
      {"cache.max_age", "7d", 604'800, ""},
      {"cache.max_age", "90m", 5'400, ""},
      {"cache.max_age", "2000ms", 2, ""},
      {"cache.max_age", "0s", 0, ""},
      {"cache.max_age", "1500ms", -1, "not a whole number of seconds: \"1500ms\""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.key);
    CAPTURE(c.text);
    const bool in_limits = c.key == "limits.client_timeout";
    const std::string yaml = (in_limits ? "limits:\n  client_timeout: " : "cache:\n  max_age: ") +
                             c.text + "\n" + kUpstreams;
    if (c.value >= 0) {
      auto config = load(yaml);
      CHECK((in_limits ? config->limits.client_timeout_ms : config->cache.max_age_s) == c.value);
    } else {
      CHECK(errorOf(yaml) == "F:2: " + c.key + ": " + c.error);
    }
  }
}

TEST_CASE("listen addresses are an IP literal or localhost with a port") {
  struct AddressCase {
    std::string text;
    std::string host;
    uint16_t port;
  };
  const std::vector<AddressCase> cases = {
      {"127.0.0.1:8080", "127.0.0.1", 8080},
      {"0.0.0.0:0", "0.0.0.0", 0},
      {"[::1]:443", "::1", 443},
      {"[::]:80", "::", 80},
      {"localhost:9090", "localhost", 9090},
      {"192.0.2.1:65535", "192.0.2.1", 65535},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto config = load("listen:\n  ocsp: \"" + c.text + "\"\n" + kUpstreams);
    CHECK(config->listen_ocsp.host == c.host);
    CHECK(config->listen_ocsp.port == c.port);
  }
  const std::string syntax = "not an address (expected HOST:PORT or [IPv6]:PORT): ";
  for (const std::string bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:http", "[::1]", "[::1]80",
                                "[127.0.0.1]:80", "::1:80", "[::1:80", "127.0.0.1:+80"}) {
    CAPTURE(bad);
    CHECK(errorOf("listen:\n  ocsp: \"" + bad + "\"\n" + kUpstreams) ==
          "F:2: listen.ocsp: " + syntax + "\"" + bad + "\"");
  }
  for (const std::string bad : {":8080", "ocsp.a.test:80", "256.1.1.1:80"}) {
    CAPTURE(bad);
    CHECK(errorOf("listen:\n  ocsp: \"" + bad + "\"\n" + kUpstreams) ==
          "F:2: listen.ocsp: host must be an IP address or localhost: \"" + bad + "\"");
  }
}

TEST_CASE("host names follow RFC 1123 and are never IP literals") {
  const std::string label63(63, 'a');
  const std::string long_name =
      label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
  const std::vector<std::pair<std::string, bool>> cases = {
      {"ocsp.digicert.com", true},
      {"localhost", true},
      {"OCSP2.GlobalSign.com", true},
      {"a-b.c-d.test", true},
      {"xn--bcher-kva.example", true},
      {"1password.com", true},
      {"ocsp.123abc", true},
      {label63 + ".test", true},
      {long_name, true},  // 253 characters
      {long_name + "b", false},
      {std::string(64, 'a') + ".test", false},
      {"", false},
      {"ocsp.digicert.com.", false},
      {".ocsp.test", false},
      {"ocsp..test", false},
      {"-ocsp.test", false},
      {"ocsp-.test", false},
      {"ocsp_1.test", false},
      {"ocsp test", false},
      {"http://x", false},
      {"ocsp.test:80", false},
      {"1.2.3.4", false},
      {"127.1", false},
      {"0x7f.1", false},
      {"ocsp.0x1F", false},
      {"123", false},
      {"::1", false},
  };
  for (const auto& [name, valid] : cases) {
    const std::string& shown = name;  // clang 14: a lambda (CAPTURE) cannot use a binding
    CAPTURE(shown);
    CHECK(isHostName(name) == valid);
  }
}

TEST_CASE("IP literals are IPv4 or IPv6 addresses without brackets") {
  const std::vector<std::pair<std::string, bool>> cases = {
      {"192.0.2.1", true},
      {"0.0.0.0", true},
      {"::1", true},
      {"2001:db8::1", true},
      {"::ffff:192.0.2.1", true},
      {"[::1]", false},
      {"256.0.0.1", false},
      {"127.1", false},
      {"1.2.3.4.5", false},
      {"localhost", false},
      {"", false},
      {"fe80::1%eth0", false},
      {std::string("127.0.0.1\0x", 11), false},  // inet_pton would stop at the NUL
  };
  for (const auto& [text, valid] : cases) {
    const std::string& shown = text;  // clang 14: a lambda (CAPTURE) cannot use a binding
    CAPTURE(shown);
    CHECK(isIpLiteral(text) == valid);
  }
}

TEST_CASE("without a redis section there is no Redis stage") {
  CHECK_FALSE(load(kUpstreams)->redis.has_value());
}

TEST_CASE("redis keys left out take their documented defaults") {
  auto c = load("redis:\n  address: 127.0.0.1\n" + kUpstreams);
  REQUIRE(c->redis.has_value());
  const ocsp::conf::Redis& r = *c->redis;
  REQUIRE(r.address.has_value());
  CHECK(r.address->host == "127.0.0.1");
  CHECK(r.address->port == 6379);
  CHECK(r.unix_socket.empty());
  CHECK(r.sentinels.empty());
  CHECK(r.master_name.empty());
  CHECK(r.password.empty());
  CHECK(r.db == 0);
  CHECK(r.key_prefix == "ocsp-proxy:");
  CHECK(r.connect_timeout_ms == 500);
  CHECK(r.command_timeout_ms == 250);
  CHECK(r.reconnect_max_backoff_ms == 5'000);
}

TEST_CASE("every redis key is stored in the config") {
  auto c = load(
      "redis:\n"
      "  sentinels: [\"127.0.0.1:26380\", \"[::1]\", localhost]\n"
      "  master_name: cache-1\n"
      "  password: \"s3cret: yes\"\n"
      "  db: 15\n"
      "  key_prefix: \"\"\n"
      "  connect_timeout: 2s\n"
      "  command_timeout: 40ms\n"
      "  reconnect_max_backoff: 1m\n" +
      kUpstreams);
  const ocsp::conf::Redis& r = *c->redis;
  CHECK_FALSE(r.address.has_value());
  REQUIRE(r.sentinels.size() == 3);
  CHECK(r.sentinels[0].host == "127.0.0.1");
  CHECK(r.sentinels[0].port == 26380);
  CHECK(r.sentinels[1].host == "::1");
  CHECK(r.sentinels[1].port == 26379);
  CHECK(r.sentinels[2].host == "localhost");
  CHECK(r.sentinels[2].port == 26379);
  CHECK(r.master_name == "cache-1");
  CHECK(r.password == "s3cret: yes");
  CHECK(r.db == 15);
  CHECK(r.key_prefix.empty());
  CHECK(r.connect_timeout_ms == 2'000);
  CHECK(r.command_timeout_ms == 40);
  CHECK(r.reconnect_max_backoff_ms == 60'000);

  auto unix_socket = load("redis: {unix_socket: /run/redis/redis.sock}\n" + kUpstreams);
  CHECK(unix_socket->redis->unix_socket == "/run/redis/redis.sock");
  auto v6 = load("redis: {address: \"[2001:db8::7]:7000\"}\n" + kUpstreams);
  CHECK(v6->redis->address->host == "2001:db8::7");
  CHECK(v6->redis->address->port == 7000);
}

TEST_CASE("redis errors name the file, the line and the dotted key path") {
  const std::string not_address = "not an address (expected HOST, HOST:PORT or [IPv6]:PORT): ";
  checkErrors({
      {"redis:\n" + kUpstreams, "F:1: redis: one of address, unix_socket or sentinels is required"},
      {"redis:\n  db: 1\n" + kUpstreams,
       "F:2: redis: one of address, unix_socket or sentinels is required"},
      {"redis: 127.0.0.1:6379\n" + kUpstreams, "F:1: redis: expected a map: \"127.0.0.1:6379\""},
      {"redis:\n  adress: 127.0.0.1\n" + kUpstreams, "F:2: redis.adress: unknown key"},
      {"redis:\n  address: redis.internal:6379\n" + kUpstreams,
       "F:2: redis.address: host must be an IP address or localhost: \"redis.internal:6379\""},
      {"redis:\n  address: \"::1\"\n" + kUpstreams,
       "F:2: redis.address: " + not_address + "\"::1\""},
      {"redis:\n  address: \"[::1]6379\"\n" + kUpstreams,
       "F:2: redis.address: " + not_address + "\"[::1]6379\""},
      {"redis:\n  address: \"127.0.0.1:\"\n" + kUpstreams,
       "F:2: redis.address: " + not_address + "\"127.0.0.1:\""},
      {"redis:\n  address: 127.0.0.1:0\n" + kUpstreams,
       "F:2: redis.address: port out of range (expected 1..65535): \"127.0.0.1:0\""},
      {"redis:\n  address: 127.0.0.1:65536\n" + kUpstreams,
       "F:2: redis.address: port out of range (expected 1..65535): \"127.0.0.1:65536\""},
      {"redis:\n  unix_socket: redis.sock\n" + kUpstreams,
       "F:2: redis.unix_socket: not an absolute path: \"redis.sock\""},
      {"redis:\n  unix_socket: /" + std::string(107, 'x') + "\n" + kUpstreams,
       "F:2: redis.unix_socket: too long for a unix socket path (at most 107 bytes)"},
      {"redis:\n  address: 127.0.0.1\n  unix_socket: /run/redis.sock\n" + kUpstreams,
       "F:3: redis.unix_socket: conflicts with redis.address (set exactly one of address, "
       "unix_socket, sentinels)"},
      {"redis:\n  sentinels: [127.0.0.1]\n  master_name: m\n  address: 127.0.0.1\n" + kUpstreams,
       "F:2: redis.sentinels: conflicts with redis.address (set exactly one of address, "
       "unix_socket, sentinels)"},
      {"redis:\n  sentinels: []\n" + kUpstreams, "F:2: redis.sentinels: must not be empty"},
      {"redis:\n  sentinels: [127.0.0.1, example.com]\n" + kUpstreams,
       "F:2: redis.sentinels[1]: host must be an IP address or localhost: \"example.com\""},
      {"workers: 2\nredis:\n  sentinels: [127.0.0.1]\n" + kUpstreams,
       "F:3: redis.master_name: required with sentinels"},
      {"redis:\n  address: 127.0.0.1\n  master_name: m\n" + kUpstreams,
       "F:3: redis.master_name: only valid with sentinels"},
      {"redis:\n  sentinels: [127.0.0.1]\n  master_name: \"my master\"\n" + kUpstreams,
       "F:3: redis.master_name: not a valid name (expected letters, digits, '_', '.' and '-'): "
       "\"my master\""},
      {"redis:\n  address: 127.0.0.1\n  password: \"\"\n" + kUpstreams,
       "F:3: redis.password: must not be empty"},
      {"redis:\n  address: 127.0.0.1\n  password: [hunter2]\n" + kUpstreams,
       "F:3: redis.password: expected a string"},
      {"redis:\n  address: 127.0.0.1\n  db: 16\n" + kUpstreams,
       "F:3: redis.db: out of range (expected 0..15): \"16\""},
      {"redis:\n  address: 127.0.0.1\n  connect_timeout: 0ms\n" + kUpstreams,
       "F:3: redis.connect_timeout: must be greater than 0: \"0ms\""},
      {"redis:\n  address: 127.0.0.1\n  command_timeout: 250\n" + kUpstreams,
       "F:3: redis.command_timeout: not a duration (expected e.g. 250ms, 10s, 5m, 1h, 7d): "
       "\"250\""},
      {"redis:\n  address: 127.0.0.1\n  reconnect_max_backoff: 50ms\n" + kUpstreams,
       "F:3: redis.reconnect_max_backoff: must be at least 100ms: \"50ms\""},
  });
}

TEST_CASE("a redis password never appears in an error message") {
  const std::string error =
      errorOf("redis:\n  address: 127.0.0.1\n  password: hunter2\n  db: 99\n" + kUpstreams);
  CHECK(error == "F:4: redis.db: out of range (expected 0..15): \"99\"");
  CHECK(error.find("hunter2") == std::string::npos);
}

TEST_CASE("without forward and crl sections both take their documented defaults") {
  auto c = load(kUpstreams);
  CHECK(c->forward.enabled);
  CHECK(c->forward.unknown_issuer == UnknownIssuerPolicy::Pass);
  CHECK(c->forward.aia_fqdns.empty());
  CHECK(c->forward.trust_store == "/etc/ssl/certs");
  CHECK(c->forward.aia_max_bytes == 256u << 10);
  CHECK(c->forward.aia_ttl_s == 86400);
  CHECK(c->forward.aia_memory_bytes == 16u << 20);
  CHECK(c->crl.fqdns.empty());
  CHECK(c->crl.urls.empty());
  CHECK(c->crl.max_bytes == 64u << 20);
  CHECK(c->crl.memory_bytes == 256u << 20);
  CHECK(c->crl.unknown_issuer == UnknownIssuerPolicy::Pass);
  CHECK(c->crl.issuers.empty());

  auto empty = load("forward:\ncrl: {}\n" + kUpstreams);
  CHECK(empty->forward.trust_store == "/etc/ssl/certs");
  CHECK(empty->crl.max_bytes == 64u << 20);
}

TEST_CASE("every forward and crl key is stored in the config") {
  TempDir dir;
  dir.copy(root("GlobalSign_Root_CA.pem"), "roots.pem");
  auto c = load(
      "forward:\n"
      "  enabled: false\n"
      "  unknown_issuer: refuse\n"
      "  aia_fqdns: [Cacerts.DigiCert.com, \"aia.a.test:8080\"]\n"
      "  trust_store: roots.pem\n"
      "  aia_max_bytes: 64KiB\n"
      "  aia_ttl: 2h\n"
      "  aia_memory_bytes: 0\n"
      "crl:\n"
      "  fqdns: [crl3.digicert.com, \"CRL.A.test:8080\"]\n"
      "  urls:\n"
      "    - http://crl3.digicert.com/root.crl\n"
      "  max_bytes: 1MiB\n"
      "  memory_bytes: 0\n"
      "  unknown_issuer: refuse\n"
      "  issuers: [$REAL/certifi-mozilla-roots/GlobalSign_Root_CA.pem]\n" +
          kUpstreams,
      dir.path());
  CHECK_FALSE(c->forward.enabled);
  CHECK(c->forward.unknown_issuer == UnknownIssuerPolicy::Refuse);
  CHECK(hostPorts(c->forward.aia_fqdns) ==
        std::vector<std::string>{"cacerts.digicert.com:80", "aia.a.test:8080"});
  CHECK(c->forward.trust_store == dir.path() + "/roots.pem");
  CHECK(c->forward.aia_max_bytes == 64u << 10);
  CHECK(c->forward.aia_ttl_s == 7200);
  CHECK(c->forward.aia_memory_bytes == 0);
  CHECK(hostPorts(c->crl.fqdns) ==
        std::vector<std::string>{"crl3.digicert.com:80", "crl.a.test:8080"});
  CHECK(c->crl.urls == std::vector<std::string>{"http://crl3.digicert.com/root.crl"});
  CHECK(c->crl.max_bytes == 1u << 20);
  CHECK(c->crl.memory_bytes == 0);
  CHECK(c->crl.unknown_issuer == UnknownIssuerPolicy::Refuse);
  CHECK(fileNames(c->crl.issuers) == std::vector<std::string>{"GlobalSign_Root_CA.pem"});
}

TEST_CASE("the host and port of every crl.urls entry is added to crl.fqdns once") {
  auto c = load(
      "crl:\n"
      "  fqdns: [crl.a.test]\n"
      "  urls:\n"
      "    - http://crl.a.test/a.crl\n"
      "    - http://CRL.b.test:8080/b.crl\n"
      "    - https://crl.c.test/c.crl\n"
      "    - http://crl.b.test:8080/b2.crl\n"
      "    - http://crl.a.test:80/a2.crl\n" +
      kUpstreams);
  CHECK(hostPorts(c->crl.fqdns) ==
        std::vector<std::string>{"crl.a.test:80", "crl.b.test:8080", "crl.c.test:443"});
  CHECK(c->crl.urls.size() == 5);
}

TEST_CASE("forward and crl errors name the file, the line and the dotted key path") {
  const std::string fqdn_required =
      "an FQDN is required, not an IP address (firewalls allow these hosts by name): ";
  const std::string not_address = "not an address (expected FQDN or FQDN:PORT): ";
  checkErrors({
      {"forward: 5\n" + kUpstreams, "F:1: forward: expected a map: \"5\""},
      {"forward:\n  enable: true\n" + kUpstreams, "F:2: forward.enable: unknown key"},
      {"forward:\n  enabled: yes\n" + kUpstreams,
       "F:2: forward.enabled: must be one of true, false: \"yes\""},
      {"forward:\n  unknown_issuer: drop\n" + kUpstreams,
       "F:2: forward.unknown_issuer: must be one of pass, refuse: \"drop\""},
      {"forward:\n  aia_fqdns: []\n" + kUpstreams, "F:2: forward.aia_fqdns: must not be empty"},
      {"forward:\n  aia_max_bytes: 0\n" + kUpstreams,
       "F:2: forward.aia_max_bytes: must be greater than 0: \"0\""},
      {"forward:\n  aia_ttl: 59s\n" + kUpstreams,
       "F:2: forward.aia_ttl: must be at least 1m: \"59s\""},
      {"forward:\n  aia_memory_bytes: lots\n" + kUpstreams,
       "F:2: forward.aia_memory_bytes: not a size (expected bytes or e.g. 64KiB, 256MiB, 1GiB): "
       "\"lots\""},
      {"forward:\n  aia_fqdns: [192.0.2.1]\n" + kUpstreams,
       "F:2: forward.aia_fqdns[0]: " + fqdn_required + "\"192.0.2.1\""},
      {"forward:\n  aia_fqdns: [\"192.0.2.1:80\"]\n" + kUpstreams,
       "F:2: forward.aia_fqdns[0]: " + fqdn_required + "\"192.0.2.1:80\""},
      {"forward:\n  aia_fqdns: [\"::1\"]\n" + kUpstreams,
       "F:2: forward.aia_fqdns[0]: " + fqdn_required + "\"::1\""},
      {"forward:\n  aia_fqdns: [\"[::1]:80\"]\n" + kUpstreams,
       "F:2: forward.aia_fqdns[0]: " + fqdn_required + "\"[::1]:80\""},
      {"forward:\n  aia_fqdns: [\"aia.a.test:0\"]\n" + kUpstreams,
       "F:2: forward.aia_fqdns[0]: port out of range (expected 1..65535): \"aia.a.test:0\""},
      {"forward:\n  aia_fqdns: [\"aia.a.test:65536\"]\n" + kUpstreams,
       "F:2: forward.aia_fqdns[0]: port out of range (expected 1..65535): "
       "\"aia.a.test:65536\""},
      {"forward:\n  aia_fqdns: [\"aia.a.test:http\"]\n" + kUpstreams,
       "F:2: forward.aia_fqdns[0]: " + not_address + "\"aia.a.test:http\""},
      {"forward:\n  aia_fqdns: [\"http://aia.a.test\"]\n" + kUpstreams,
       "F:2: forward.aia_fqdns[0]: " + not_address + "\"http://aia.a.test\""},
      {"forward:\n  aia_fqdns: [aia_1.a.test]\n" + kUpstreams,
       "F:2: forward.aia_fqdns[0]: not a host name: \"aia_1.a.test\""},
      {"forward:\n  aia_fqdns:\n    - aia.a.test\n    - \"AIA.a.test:80\"\n" + kUpstreams,
       "F:4: forward.aia_fqdns[1]: duplicate host \"aia.a.test:80\""},
      {"forward:\n  trust_store: \"\"\n" + kUpstreams,
       "F:2: forward.trust_store: must not be empty"},
      {"forward:\n  trust_store: [a]\n" + kUpstreams,
       "F:2: forward.trust_store: expected a string"},
      {"forward:\n  trust_store: missing\n" + kUpstreams,
       "F:2: forward.trust_store: cannot read \"/nonexistent/missing\": No such file or "
       "directory"},
      {"forward:\n  trust_store: /dev/null\n" + kUpstreams,
       "F:2: forward.trust_store: not a file or directory: \"/dev/null\""},
      {"crl: [a]\n" + kUpstreams, "F:1: crl: expected a map"},
      {"crl:\n  url: []\n" + kUpstreams, "F:2: crl.url: unknown key"},
      {"crl:\n  fqdns: crl.a.test\n" + kUpstreams,
       "F:2: crl.fqdns: expected a list: \"crl.a.test\""},
      {"crl:\n  fqdns: [192.0.2.1]\n" + kUpstreams,
       "F:2: crl.fqdns[0]: " + fqdn_required + "\"192.0.2.1\""},
      {"crl:\n  fqdns: [crl.a.test, \"crl.a.test:80\"]\n" + kUpstreams,
       "F:2: crl.fqdns[1]: duplicate host \"crl.a.test:80\""},
      {"crl:\n  urls: []\n" + kUpstreams, "F:2: crl.urls: must not be empty"},
      {"crl:\n  urls:\n    - http://user:pw@crl.a.test/a.crl\n" + kUpstreams,
       "F:3: crl.urls[0]: must not contain user information (user:password@)"},
      {"crl:\n  urls:\n    - http://192.0.2.1/a.crl\n" + kUpstreams,
       "F:3: crl.urls[0]: " + fqdn_required + "\"http://192.0.2.1/a.crl\""},
      {"crl:\n  urls:\n    - http://[2001:db8::1]/a.crl\n" + kUpstreams,
       "F:3: crl.urls[0]: " + fqdn_required + "\"http://[2001:db8::1]/a.crl\""},
      {"crl:\n  urls:\n    - http://crl_1.a.test/a.crl\n" + kUpstreams,
       "F:3: crl.urls[0]: not a host name: \"crl_1.a.test\""},
      {"crl:\n  urls:\n    - http://crl.a.test/a.crl\n    - http://crl.a.test/a.crl\n" + kUpstreams,
       "F:4: crl.urls[1]: duplicate URL \"http://crl.a.test/a.crl\""},
      {"crl:\n  max_bytes: 0\n" + kUpstreams, "F:2: crl.max_bytes: must be greater than 0: \"0\""},
      {"crl:\n  max_bytes: 64MB\n" + kUpstreams,
       "F:2: crl.max_bytes: not a size (expected bytes or e.g. 64KiB, 256MiB, 1GiB): \"64MB\""},
      {"crl:\n  memory_bytes: lots\n" + kUpstreams,
       "F:2: crl.memory_bytes: not a size (expected bytes or e.g. 64KiB, 256MiB, 1GiB): "
       "\"lots\""},
      {"crl:\n  unknown_issuer: allow\n" + kUpstreams,
       "F:2: crl.unknown_issuer: must be one of pass, refuse: \"allow\""},
      {"crl:\n  issuers: []\n" + kUpstreams, "F:2: crl.issuers: must not be empty"},
      {"crl:\n  issuers: [none.pem]\n" + kUpstreams,
       "F:2: crl.issuers[0]: cannot read \"none.pem\": No such file or directory"},
      {"crl:\n  issuers: [/dev/null]\n" + kUpstreams,
       "F:2: crl.issuers[0]: not a file or directory: \"/dev/null\""},
  });
}

TEST_CASE("a crl.urls entry the URL parser rejects is reported with the parser's reason") {
  for (const std::string bad : {"ftp://crl.a.test/a.crl", "crl.a.test/a.crl",
                                "http://crl.a.test:0/a.crl", "http://crl.a.test/a crl"}) {
    CAPTURE(bad);
    auto parsed = ocsp::parseHttpUrl(bad);
    REQUIRE_FALSE(parsed.ok());
    CHECK(errorOf("crl:\n  urls:\n    - \"" + bad + "\"\n" + kUpstreams) ==
          "F:3: crl.urls[0]: not a valid URL (" + parsed.error().detail + "): \"" + bad + "\"");
  }
}

TEST_CASE("forward.trust_store may be a directory and is not checked when forward is off") {
  TempDir dir;
  dir.mkdir("certs");
  CHECK(load("forward:\n  trust_store: certs\n" + kUpstreams, dir.path())->forward.trust_store ==
        dir.path() + "/certs");
  auto off = load("forward:\n  enabled: false\n  trust_store: missing\n" + kUpstreams);
  CHECK(off->forward.trust_store == "/nonexistent/missing");
}

TEST_CASE("a host that is both an OCSP upstream and a CRL host on the same port is rejected") {
  const std::string both =
      "\"ocsp.a.test:80\" is both an OCSP upstream and a CRL host (upstream \"a\")";
  checkErrors({
      {"crl:\n  fqdns:\n    - crl.a.test\n    - OCSP.a.test\n" + kUpstreams,
       "F:4: crl.fqdns[1]: " + both},
      {"crl:\n  urls:\n    - http://crl.a.test/a.crl\n    - http://ocsp.a.test/a.crl\n" +
           kUpstreams,
       "F:4: crl.urls[1]: " + both},
      {"crl:\n  fqdns: [ocsp.a.test]\n"
       "upstreams:\n"
       "  - {name: a, fqdns: [ocsp.a.test], port: 80, issuers: [$REAL/aws-lc-ocsp/ca_cert.pem]}\n",
       "F:2: crl.fqdns[0]: " + both},
  });
  auto other_port = load(
      "crl:\n  fqdns: [\"ocsp.a.test:8080\"]\n  urls:\n"
      "    - https://ocsp.a.test/a.crl\n" +
      kUpstreams);
  CHECK(hostPorts(other_port->crl.fqdns) ==
        std::vector<std::string>{"ocsp.a.test:8080", "ocsp.a.test:443"});
}

TEST_CASE("crl.issuers load like upstream issuers, may repeat an upstream's, and are kept once") {
  TempDir dir;
  dir.copy(caCert(), "issuers/ca.pem");
  auto c = load(
      "crl:\n  issuers: [issuers/ca.pem, issuers, $REAL/aws-lc-ocsp/ca_cert.pem]\n" + kUpstreams,
      dir.path());
  REQUIRE(c->crl.issuers.size() == 1);
  CHECK(c->crl.issuers[0].path == dir.path() + "/issuers/ca.pem");
  CHECK(c->upstreams[0].issuers.size() == 1);
}

TEST_CASE("an expired crl issuer loads with an issuer_not_valid_now warning") {
  const std::string expired = realData("aws-lc-ocsp/ocsp_expired_cert.pem");
  StderrCapture log;
  auto loaded = parse("crl:\n  issuers: [" + expired + "]\n" + kUpstreams);
  REQUIRE_MESSAGE(loaded.ok(), loaded.error().detail);
  CHECK(log.text().find("event=issuer_not_valid_now file=" + expired + " crl=issuers") !=
        std::string::npos);
}

TEST_CASE("a resolve entry for a CRL or AIA host is in use") {
  StderrCapture log;
  auto loaded = parse(
      "resolve:\n  crl.a.test: 192.0.2.1\n  aia.a.test: 192.0.2.2\n"
      "forward:\n  aia_fqdns: [aia.a.test]\n"
      "crl:\n  urls:\n    - http://crl.a.test/a.crl\n" +
      kUpstreams);
  REQUIRE_MESSAGE(loaded.ok(), loaded.error().detail);
  CHECK(log.text().find("resolve_unused") == std::string::npos);
}

TEST_CASE("host names are lower-cased at load, so pins and the allow-list match any spelling") {
  // RFC 4343 §3: DNS names compare case-insensitively. A pin written "OCSP.A.Test" must pin
  // the upstream "ocsp.A.TEST", and a client's "http://ocsp.a.test/" must reach it.
  StderrCapture log;
  auto c = load(
      "resolve:\n  OCSP.A.Test: 192.0.2.1\n"
      "upstreams:\n"
      "  - name: a\n"
      "    fqdns: [ocsp.A.TEST]\n"
      "    issuers: [$REAL/aws-lc-ocsp/ca_cert.pem]\n");
  CHECK(c->resolve == std::map<std::string, std::string>{{"ocsp.a.test", "192.0.2.1"}});
  CHECK(c->upstreams[0].fqdns == std::vector<std::string>{"ocsp.a.test"});
  CHECK(log.text().find("resolve_unused") == std::string::npos);
  for (const char* spelling : {"ocsp.a.test", "OCSP.A.TEST", "Ocsp.a.Test"}) {
    CAPTURE(spelling);
    ocsp::FetchRequest req;
    ocsp::pinAddress(req, c->resolve, spelling, 80);
    CHECK(req.resolve == std::vector<std::string>{"ocsp.a.test:80:192.0.2.1"});
  }
  ocsp::AllowList allow(*c);
  auto url = ocsp::parseHttpUrl("http://OCSP.a.test/MFEw");
  REQUIRE(url.ok());
  auto target = allow.classify(*url);
  REQUIRE_MESSAGE(target.ok(), target.error().detail);
  CHECK(target->kind == ocsp::TargetKind::Ocsp);
  CHECK(errorOf("resolve:\n  ocsp.a.test: 192.0.2.1\n  OCSP.A.TEST: 192.0.2.2\n" + kUpstreams) ==
        "F:3: resolve.ocsp.a.test: duplicate key");
}

namespace {

using ocsp::test::Identity;
using ocsp::test::issue;

std::string pemOf(const ocsp::X509Ptr& cert) {
  ocsp::BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_X509(bio.get(), cert.get()) == 1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

// A generated PKI, one PEM file per certificate in a temp dir: root.pem issued issuing.pem (a
// CA) and leaf.pem (not a CA); other-root.pem is unrelated; twin-root.pem has root's name but
// a key of its own; by-leaf.pem is a CA certificate the leaf signed (the leaf's keyUsage has no
// keyCertSign); tampered.pem is issuing.pem with a broken signature; reissued-root.pem has
// root's name and key. bundle.pem holds root and other-root.
struct Pki {
  TempDir dir;
  Identity root = issue({.cn = "root", .ca = true}, nullptr);
  Identity issuing = issue({.cn = "issuing", .ca = true}, &root);
  Identity leaf = issue({.cn = "leaf"}, &issuing);
  Identity other_root = issue({.cn = "other root", .ca = true}, nullptr);
  Identity twin_root = issue({.cn = "root", .ca = true}, nullptr);
  Identity by_leaf = issue({.cn = "by leaf", .ca = true}, &leaf);
  Identity reissued_root = issue({.cn = "root", .ca = true, .key = root.key.get()}, nullptr);

  Pki() {
    dir.write("root.pem", pemOf(root.cert));
    dir.write("issuing.pem", pemOf(issuing.cert));
    dir.write("leaf.pem", pemOf(leaf.cert));
    dir.write("other-root.pem", pemOf(other_root.cert));
    dir.write("twin-root.pem", pemOf(twin_root.cert));
    dir.write("by-leaf.pem", pemOf(by_leaf.cert));
    dir.write("reissued-root.pem", pemOf(reissued_root.cert));
    dir.write("bundle.pem", pemOf(root.cert) + pemOf(other_root.cert));
    std::string der = ocsp::toDer(issuing.cert.get(), i2d_X509);
    der.back() = static_cast<char>(der.back() ^ 0x01);  // the last byte of the signature
    dir.write("tampered.der", der);
  }
};

std::string spkiHex(const ocsp::conf::Distrusted& d) { return ocsp::toHex(d.spki_sha256); }

}  // namespace

TEST_CASE("without revocation_log, watch and distrust they take their documented defaults") {
  auto c = load(kUpstreams);
  CHECK(c->revocation_log.empty());
  CHECK(c->watch.interval_s == 3600);
  CHECK(c->watch.expiry_warning_s == 30 * 86400);
  CHECK(c->watch.on_revoked_issuer == RevokedIssuerPolicy::Flag);
  CHECK(c->watch.intermediates.empty());
  CHECK(c->distrust.empty());

  for (const std::string section :
       {"watch:\n", "watch: {}\n", "watch:\n  intermediates:\n", "watch:\n  intermediates: []\n"}) {
    CAPTURE(section);
    auto empty = load(section + kUpstreams);
    CHECK(empty->watch.interval_s == 3600);
    CHECK(empty->watch.intermediates.empty());
  }
}

TEST_CASE("every watch key is stored, with certificates from PEM or DER files") {
  Pki pki;
  const std::string pkits = "pyca-cryptography-vectors/PKITS/";
  pki.dir.copy(realData(pkits + "deltaCRLCA1Cert.crt"), "pkits/ca1.crt");
  pki.dir.copy(realData(pkits + "TrustAnchorRootCertificate.crt"), "pkits/anchor.crt");
  auto c = load(
      "watch:\n"
      "  interval: 10s\n"
      "  expiry_warning: 14d\n"
      "  on_revoked_issuer: refuse\n"
      "  intermediates:\n"
      "    - name: issuing\n"
      "      cert: issuing.pem\n"
      "      parent: root.pem\n"
      "      ocsp_url: http://ocsp.root.example:8080/\n"
      "    - {name: pkits-ca1, cert: pkits/ca1.crt, parent: pkits/anchor.crt}\n" +
          kUpstreams,
      pki.dir.path());
  const ocsp::conf::Watch& w = c->watch;
  CHECK(w.interval_s == 10);
  CHECK(w.expiry_warning_s == 14 * 86400);
  CHECK(w.on_revoked_issuer == RevokedIssuerPolicy::Refuse);
  REQUIRE(w.intermediates.size() == 2);
  CHECK(w.intermediates[0].name == "issuing");
  CHECK(w.intermediates[0].cert_path == pki.dir.path() + "/issuing.pem");
  CHECK(X509_cmp(w.intermediates[0].cert.get(), pki.issuing.cert.get()) == 0);
  CHECK(X509_cmp(w.intermediates[0].parent.get(), pki.root.cert.get()) == 0);
  CHECK(w.intermediates[0].ocsp_url == "http://ocsp.root.example:8080/");
  CHECK(w.intermediates[1].ocsp_url.empty());  // the certificate's AIA
  CHECK(w.intermediates[1].name == "pkits-ca1");
  CHECK(w.intermediates[1].cert_path == pki.dir.path() + "/pkits/ca1.crt");
  CHECK(ocsp::subjectLine(w.intermediates[1].cert.get()) ==
        "CN=deltaCRL CA1,O=Test Certificates 2011,C=US");
  CHECK(ocsp::subjectLine(w.intermediates[1].parent.get()) ==
        "CN=Trust Anchor,O=Test Certificates 2011,C=US");
}

TEST_CASE("a watched intermediate's parent may be a re-issue of its issuer (same name and key)") {
  Pki pki;
  auto c = load(
      "watch:\n  intermediates:\n"
      "    - {name: a, cert: issuing.pem, parent: reissued-root.pem}\n" +
          kUpstreams,
      pki.dir.path());
  CHECK(c->watch.intermediates.size() == 1);
}

TEST_CASE("watch errors name the file, the line and the dotted key path") {
  Pki pki;
  pki.dir.write("junk.pem", "not a certificate\n");
  pki.dir.mkdir("sub");
  const std::string head = "watch:\n  intermediates:\n    - name: a\n";
  const std::string at = "watch.intermediates[0]";
  std::vector<ErrorCase> cases = {
      {"watch: 5\n", "F:1: watch: expected a map: \"5\""},
      {"watch:\n  intervall: 1h\n", "F:2: watch.intervall: unknown key"},
      {"watch:\n  interval: 9s\n", "F:2: watch.interval: must be at least 10s: \"9s\""},
      {"watch:\n  interval: 10500ms\n",
       "F:2: watch.interval: not a whole number of seconds: \"10500ms\""},
      {"watch:\n  interval: 60\n",
       "F:2: watch.interval: not a duration (expected e.g. 250ms, 10s, 5m, 1h, 7d): \"60\""},
      {"watch:\n  expiry_warning: 1month\n",
       "F:2: watch.expiry_warning: not a duration (expected e.g. 250ms, 10s, 5m, 1h, 7d): "
       "\"1month\""},
      {"watch:\n  on_revoked_issuer: drop\n",
       "F:2: watch.on_revoked_issuer: must be one of flag, refuse: \"drop\""},
      {"watch:\n  intermediates: issuing.pem\n",
       "F:2: watch.intermediates: expected a list: \"issuing.pem\""},
      {"watch:\n  intermediates: [issuing.pem]\n",
       "F:2: " + at + ": expected a map: \"issuing.pem\""},
      {"watch:\n  intermediates:\n    - cert: issuing.pem\n      parent: root.pem\n",
       "F:3: " + at + ".name: required"},
      {head + "      parent: root.pem\n", "F:3: " + at + ".cert: required"},
      {head + "      cert: issuing.pem\n", "F:3: " + at + ".parent: required"},
      {"watch:\n  intermediates:\n    - {name: \"a b\", cert: issuing.pem, parent: root.pem}\n",
       "F:3: " + at +
           ".name: not a valid name (expected letters, digits, '_', '.' and '-'): "
           "\"a b\""},
      {head + "      cert: none.pem\n      parent: root.pem\n",
       "F:4: " + at + ".cert: cannot read \"none.pem\": No such file or directory"},
      {head + "      cert: \"\"\n      parent: root.pem\n",
       "F:4: " + at + ".cert: must not be empty"},
      {head + "      cert: [issuing.pem]\n", "F:4: " + at + ".cert: expected a string"},
      {head + "      cert: sub\n      parent: root.pem\n",
       "F:4: " + at + ".cert: not a file: \"sub\""},
      {head + "      cert: junk.pem\n      parent: root.pem\n",
       "F:4: " + at + ".cert: no certificate in \"junk.pem\" (expected PEM or DER X.509)"},
      {head + "      cert: bundle.pem\n      parent: root.pem\n",
       "F:4: " + at + ".cert: expected exactly one certificate in \"bundle.pem\", found 2"},
      {head + "      cert: issuing.pem\n      parent: bundle.pem\n",
       "F:5: " + at + ".parent: expected exactly one certificate in \"bundle.pem\", found 2"},
      {head + "      cert: issuing.pem\n      parent: none.pem\n",
       "F:5: " + at + ".parent: cannot read \"none.pem\": No such file or directory"},
      {head + "      cert: issuing.pem\n      parent: root.pem\n      ocsp_url: http://10.0.0.1/\n",
       "F:6: " + at +
           ".ocsp_url: an FQDN is required, not an IP address (firewalls allow these hosts by "
           "name): \"http://10.0.0.1/\""},
      {head + "      cert: issuing.pem\n      parent: root.pem\n      ocsp_url: ocsp.example\n",
       "F:6: " + at +
           ".ocsp_url: not a valid URL (not an absolute URL (expected http://host/...)): "
           "\"ocsp.example\""},
  };
  for (auto& c : cases) c.yaml += kUpstreams;
  checkErrors(cases, pki.dir.path());
}

TEST_CASE("a watched intermediate must be a CA certificate that its parent issued and signed") {
  Pki pki;
  auto entry = [](const std::string& cert, const std::string& parent) {
    return "watch:\n  intermediates:\n    - name: a\n      cert: " + cert +
           "\n      parent: " + parent + "\n" + kUpstreams;
  };
  const std::string issuing = "F:4: watch.intermediates[0].cert: \"CN=issuing,O=ocsp-proxy tests\"";
  checkErrors(
      {
          {entry("leaf.pem", "issuing.pem"),
           "F:4: watch.intermediates[0].cert: not a CA certificate: \"CN=leaf,O=ocsp-proxy "
           "tests\""},
          {entry("issuing.pem", "other-root.pem"),
           issuing + " is not issued by parent \"CN=other root,O=ocsp-proxy tests\" (subject "
                     "issuer mismatch)"},
          {entry("issuing.pem", "twin-root.pem"),
           issuing + " is not issued by parent \"CN=root,O=ocsp-proxy tests\" (authority and "
                     "subject key identifier mismatch)"},
          {entry("tampered.der", "root.pem"),
           issuing + " is not issued by parent \"CN=root,O=ocsp-proxy tests\" (signature does "
                     "not verify with the parent's key)"},
          {entry("by-leaf.pem", "leaf.pem"),
           "F:4: watch.intermediates[0].cert: \"CN=by leaf,O=ocsp-proxy tests\" is not issued by "
           "parent \"CN=leaf,O=ocsp-proxy tests\" (key usage does not include certificate "
           "signing)"},
          {entry("root.pem", "root.pem"),
           "F:5: watch.intermediates[0].parent: is the same certificate as cert (a self-signed "
           "root is not revoked; watch the intermediates it issued)"},
      },
      pki.dir.path());
}

TEST_CASE("watched intermediates have unique names and are each watched once") {
  Pki pki;
  pki.dir.copy(pki.dir.path() + "/issuing.pem", "copy/issuing.pem");
  const std::string first =
      "watch:\n  intermediates:\n    - {name: a, cert: issuing.pem, parent: root.pem}\n";
  checkErrors(
      {
          {first + "    - {name: a, cert: tampered.der, parent: other-root.pem}\n" + kUpstreams,
           "F:4: watch.intermediates[1].name: duplicate intermediate name \"a\""},
          {first + "    - {name: b, cert: copy/issuing.pem, parent: reissued-root.pem}\n" +
               kUpstreams,
           "F:4: watch.intermediates[1].cert: certificate \"CN=issuing,O=ocsp-proxy tests\" is "
           "already watched as \"a\""},
      },
      pki.dir.path());
}

namespace {

// Valid from 2023 for decades: valid whenever the tests run (the loader asks the real clock).
constexpr int64_t kPast = 1'700'000'000;
constexpr int64_t kFar = ocsp::test::kT + 40 * 365 * ocsp::test::kDay;

// A CA certificate `cn` that is valid now, issued by `issuer` (self-signed if null).
Identity validCa(const std::string& cn, const Identity* issuer, EVP_PKEY* key = nullptr) {
  return issue({.cn = cn, .ca = true, .not_before = kPast, .not_after = kFar, .key = key},
               issuer);
}

// A catalogue directory as a CA's bundle is: catalogue/root.pem (self-signed, "Zorg Root"),
// catalogue/issuing-a.pem and issuing-b.pem (CAs the root issued), catalogue/sub.pem (a CA
// issuing-a issued), catalogue/leaf.pem (not a CA), catalogue/expired.pem (a CA the root
// issued, expired in 2025), catalogue/orphan.pem (a CA whose issuer is nowhere in the config).
// Outside it: stranger-root.pem, the orphan's issuer.
struct Catalogue {
  TempDir dir;
  Identity root = validCa("Zorg Root", nullptr);
  Identity issuing_a = validCa("Zorg Issuing CA - A", &root);
  Identity issuing_b = validCa("Zorg Issuing CA - B", &root);
  Identity sub = validCa("Zorg Sub CA", &issuing_a);
  Identity leaf = issue({.cn = "zorg.example", .not_before = kPast, .not_after = kFar}, &issuing_a);
  Identity expired = issue({.cn = "Zorg Old CA",
                            .ca = true,
                            .not_before = 1'700'000'000,   // 2023-11
                            .not_after = 1'750'000'000},  // 2025-06
                           &root);
  Identity stranger_root = validCa("Stranger Root", nullptr);
  Identity orphan = validCa("Stranger CA", &stranger_root);

  Catalogue() {
    const std::pair<const char*, const Identity*> files[] = {
        {"root", &root},       {"issuing-a", &issuing_a}, {"issuing-b", &issuing_b},
        {"sub", &sub},         {"leaf", &leaf},           {"expired", &expired},
        {"orphan", &orphan}};
    for (const auto& [name, id] : files) {
      dir.write("catalogue/" + std::string(name) + ".pem", pemOf(id->cert));
    }
    dir.write("stranger-root.pem", pemOf(stranger_root.cert));
  }
};

// Each watched intermediate as "name < parent's CN line", in order.
std::vector<std::string> watched(const Config& c) {
  std::vector<std::string> out;
  for (const auto& ca : c.watch.intermediates) {
    out.push_back(ca.name + " < " + ocsp::subjectLine(ca.parent.get()));
  }
  return out;
}

std::string fingerprint8(const Identity& id) {
  return ocsp::toHex(ocsp::sha256(ocsp::toDer(id.cert.get(), i2d_X509))).substr(0, 8);
}

}  // namespace

TEST_CASE("watch.issuers watches every intermediate of its files and directories, each under "
          "the parent that issued it, and warns once about those it skips") {
  Catalogue cat;
  StderrCapture log;
  auto c = load("watch:\n  issuers: [catalogue]\n" + kUpstreams, cat.dir.path());
  // Files in name order; the root is only a parent; the sub-CA's parent is an intermediate.
  CHECK(watched(*c) == std::vector<std::string>{
                           "Zorg-Issuing-CA-A < CN=Zorg Root,O=ocsp-proxy tests",
                           "Zorg-Issuing-CA-B < CN=Zorg Root,O=ocsp-proxy tests",
                           "Zorg-Sub-CA < CN=Zorg Issuing CA - A,O=ocsp-proxy tests",
                       });
  CHECK(c->watch.intermediates[0].cert_path == cat.dir.path() + "/catalogue/issuing-a.pem");
  CHECK(c->watch.intermediates[0].ocsp_url.empty());  // the certificate's AIA
  CHECK(X509_cmp(c->watch.intermediates[2].cert.get(), cat.sub.cert.get()) == 0);
  REQUIRE(c->watch.skipped.size() == 3);
  CHECK(c->watch.skipped[0].path == cat.dir.path() + "/catalogue/expired.pem");
  CHECK(log.count({"level=warn", "event=watch_issuers_skipped", "file=F", "count=3", "expired=1",
                   "no_parent=1", "not_ca=1",
                   "first=\"CN=Zorg Old CA,O=ocsp-proxy tests (expired); CN=zorg.example,"
                   "O=ocsp-proxy tests (not a CA); CN=Stranger CA,O=ocsp-proxy tests (no parent "
                   "found)\""}) == 1);
  CHECK(log.text().find("\n", log.text().find("watch_issuers_skipped")) + 1 == log.text().size());

  // Without anything skipped, no warning.
  StderrCapture quiet;
  load("watch:\n  issuers: [catalogue/issuing-b.pem, catalogue/root.pem]\n" + kUpstreams,
       cat.dir.path());
  CHECK(quiet.text().find("watch_issuers_skipped") == std::string::npos);
}

TEST_CASE("watch.issuers finds parents in upstreams[].issuers and crl.issuers too") {
  Catalogue cat;
  const std::string upstreams =
      "upstreams:\n  - name: a\n    fqdns: [ocsp.a.test]\n    issuers: [catalogue/root.pem]\n";
  auto c = load("watch:\n  issuers: [catalogue/issuing-b.pem, catalogue/orphan.pem]\n" + upstreams +
                    "crl:\n  issuers: [stranger-root.pem]\n",
                cat.dir.path());
  CHECK(watched(*c) == std::vector<std::string>{
                           "Zorg-Issuing-CA-B < CN=Zorg Root,O=ocsp-proxy tests",
                           "Stranger-CA < CN=Stranger Root,O=ocsp-proxy tests",
                       });
  CHECK(c->watch.skipped.empty());
}

TEST_CASE("an intermediate is watched once: a watch.intermediates entry wins, a certificate "
          "listed twice is one entry") {
  Catalogue cat;
  cat.dir.copy(cat.dir.path() + "/catalogue/issuing-b.pem", "copy/issuing-b.pem");
  auto c = load(
      "watch:\n"
      "  intermediates:\n"
      "    - {name: mine, cert: catalogue/issuing-a.pem, parent: catalogue/root.pem,\n"
      "       ocsp_url: http://ocsp.mirror.test/}\n"
      "  issuers: [catalogue, copy/issuing-b.pem, catalogue/issuing-b.pem]\n" +
          kUpstreams,
      cat.dir.path());
  CHECK(watched(*c) == std::vector<std::string>{
                           "mine < CN=Zorg Root,O=ocsp-proxy tests",
                           "Zorg-Issuing-CA-B < CN=Zorg Root,O=ocsp-proxy tests",
                           "Zorg-Sub-CA < CN=Zorg Issuing CA - A,O=ocsp-proxy tests",
                       });
  CHECK(c->watch.intermediates[0].ocsp_url == "http://ocsp.mirror.test/");
}

TEST_CASE("names from watch.issuers are the CN made plain, and unique whatever the load order") {
  Catalogue cat;
  Identity dutch = validCa("Staat der Nederlanden Private Services CA - G1", &cat.root);
  Identity accents = validCa("Zorg\xC3\xA9 \xE2\x80\x94 CA (test)/1", &cat.root);
  Identity twin = validCa("Zorg Issuing CA - B", &cat.root);
  Identity named_mine = validCa("mine", &cat.root);
  CHECK(ocsp::conf::watchNameOf(dutch.cert.get()) ==
        "Staat-der-Nederlanden-Private-Services-CA-G1");
  CHECK(ocsp::conf::watchNameOf(accents.cert.get()) == "Zorg-CA-test-1");
  Identity no_cn = issue({.cn = "", .ca = true}, &cat.root);
  CHECK(ocsp::conf::watchNameOf(no_cn.cert.get()) == "ca");
  Identity dashes = issue({.cn = "-UZI-register -- CA G3-", .ca = true}, &cat.root);
  CHECK(ocsp::conf::watchNameOf(dashes.cert.get()) == "UZI-register-CA-G3");

  cat.dir.write("more/twin.pem", pemOf(twin.cert));
  cat.dir.write("more/mine.pem", pemOf(named_mine.cert));
  const std::string b = "Zorg-Issuing-CA-B-" + fingerprint8(cat.issuing_b);
  const std::string b_twin = "Zorg-Issuing-CA-B-" + fingerprint8(twin);
  const std::string mine = "mine-" + fingerprint8(named_mine);
  for (const std::string order : {"[catalogue/issuing-b.pem, more]", "[more, catalogue/issuing-b.pem]"}) {
    CAPTURE(order);
    auto c = load(
        "watch:\n"
        "  intermediates:\n"
        "    - {name: mine, cert: catalogue/issuing-a.pem, parent: catalogue/root.pem}\n"
        "  issuers: " + order + "\n" + kUpstreams,
        cat.dir.path());
    std::vector<std::string> names;
    for (const auto& ca : c->watch.intermediates) names.push_back(ca.name);
    std::sort(names.begin(), names.end());
    std::vector<std::string> expected = {b, b_twin, "mine", mine};
    std::sort(expected.begin(), expected.end());
    CHECK(names == expected);
  }
}

TEST_CASE("among cross-signs and re-issues of a parent the pick is the same whatever the order: "
          "valid, self-signed, latest notAfter") {
  Catalogue cat;
  Identity other_root = validCa("Other Root", nullptr);
  // Zorg Root's key and name, cross-signed by Other Root, expiring sooner than the root.
  Identity cross = issue({.cn = "Zorg Root", .ca = true, .not_before = kPast,
                          .not_after = kFar - ocsp::test::kDay, .key = cat.root.key.get()},
                         &other_root);
  // A re-issue of the root (same name and key) that expired.
  Identity old_root = issue({.cn = "Zorg Root", .ca = true, .not_before = 1'600'000'000,
                             .not_after = 1'700'000'000, .key = cat.root.key.get()},
                            nullptr);
  cat.dir.write("x/0-cross.pem", pemOf(cross.cert));
  cat.dir.write("x/1-old-root.pem", pemOf(old_root.cert));
  cat.dir.write("x/2-issuing-b.pem", pemOf(cat.issuing_b.cert));
  cat.dir.write("other-root.pem", pemOf(other_root.cert));
  for (const std::string issuers : {"[x, catalogue/root.pem, other-root.pem]",
                                    "[other-root.pem, catalogue/root.pem, x]"}) {
    CAPTURE(issuers);
    auto c = load("watch:\n  issuers: " + issuers + "\n" + kUpstreams, cat.dir.path());
    REQUIRE(c->watch.intermediates.size() == 2);
    for (const auto& ca : c->watch.intermediates) {
      if (X509_cmp(ca.cert.get(), cat.issuing_b.cert.get()) == 0) {
        CHECK(X509_cmp(ca.parent.get(), cat.root.cert.get()) == 0);
      } else {
        CHECK(X509_cmp(ca.cert.get(), cross.cert.get()) == 0);  // a cross-sign is watched too
        CHECK(X509_cmp(ca.parent.get(), other_root.cert.get()) == 0);
      }
    }
  }
  // Without the root itself: the cross-sign, still valid, rather than the expired re-issue.
  auto c = load("watch:\n  issuers: [x, other-root.pem]\n" + kUpstreams, cat.dir.path());
  REQUIRE(c->watch.intermediates.size() == 2);
  CHECK(X509_cmp(c->watch.intermediates[1].cert.get(), cat.issuing_b.cert.get()) == 0);
  CHECK(X509_cmp(c->watch.intermediates[1].parent.get(), cross.cert.get()) == 0);
}

TEST_CASE("watch.issuers errors name the file, the line and the dotted key path") {
  Catalogue cat;
  cat.dir.mkdir("empty");
  cat.dir.write("junk.pem", "not a certificate\n");
  checkErrors(
      {
          {"watch:\n  issuers: catalogue\n" + kUpstreams,
           "F:2: watch.issuers: expected a list: \"catalogue\""},
          {"watch:\n  issuers: [catalogue, missing]\n" + kUpstreams,
           "F:2: watch.issuers[1]: cannot read \"missing\": No such file or directory"},
          {"watch:\n  issuers:\n    - catalogue\n    - empty\n" + kUpstreams,
           "F:4: watch.issuers[1]: no certificate files (*.pem, *.crt, *.cer) in directory "
           "\"empty\""},
          {"watch:\n  issuers: [junk.pem]\n" + kUpstreams,
           "F:2: watch.issuers[0]: no certificate in \"junk.pem\" (expected PEM or DER X.509)"},
      },
      cat.dir.path());
}

// Real intermediates (tests/data/real/cfssl-trust-intermediates/SOURCES.md) under their
// Mozilla roots, as the issuer catalogue holds them: the Dutch government's (PKIoverheid) with
// UZI-register's and KPN's (two certificates of one name), QuoVadis', and GlobalSign's with
// its root R3 also cross-signed by R1 (twice, one name). At a fixed time, since real
// certificates expire.
TEST_CASE("real intermediates are watched under their real parents, with their CN as name") {
  const std::string dir = realData("cfssl-trust-intermediates/");
  auto c = load(
      "upstreams:\n"
      "  - name: roots\n"
      "    fqdns: [ocsp.a.test]\n"
      "    issuers: [$REAL/certifi-mozilla-roots/Staat_der_Nederlanden_Root_CA_G3.pem,\n"
      "              $REAL/certifi-mozilla-roots/QuoVadis_Root_CA_1_G3.pem,\n"
      "              $REAL/certifi-mozilla-roots/GlobalSign_Root_CA_R3.pem,\n"
      "              $REAL/certifi-mozilla-roots/GlobalSign_Root_CA.pem]\n");
  Config config = *c;
  std::string why;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".pem") continue;
    for (auto& cert : ocsp::readCertificates(entry.path().string(), &why)) {
      config.watch.issuers.push_back({entry.path().string(), ocsp::shareX509(std::move(cert))});
    }
  }
  std::sort(config.watch.issuers.begin(), config.watch.issuers.end(),
            [](const auto& a, const auto& b) { return a.path < b.path; });
  REQUIRE(config.watch.issuers.size() == 9);
  ocsp::conf::addWatchedIssuers(config, 1'796'000'000);  // 2026-11-29
  std::vector<std::string> got = watched(config);
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<std::string>{
                   "GlobalSign-445eec78 < CN=GlobalSign Root CA,OU=Root CA,O=GlobalSign nv-sa,C=BE",
                   "GlobalSign-RSA-OV-SSL-CA-2018 < CN=GlobalSign,O=GlobalSign,OU=GlobalSign Root CA - R3",
                   "GlobalSign-c94fedda < CN=GlobalSign Root CA,OU=Root CA,O=GlobalSign nv-sa,C=BE",
                   "KPN-BV-PKIoverheid-Organisatie-Server-CA-G3-5679a431 < CN=Staat der Nederlanden Organisatie Services CA - G3,O=Staat der Nederlanden,C=NL",
                   "KPN-BV-PKIoverheid-Organisatie-Server-CA-G3-7e082bbc < CN=Staat der Nederlanden Organisatie Services CA - G3,O=Staat der Nederlanden,C=NL",
                   "QuoVadis-Issuing-CA-G5 < CN=QuoVadis Root CA 1 G3,O=QuoVadis Limited,C=BM",
                   "Staat-der-Nederlanden-Organisatie-Services-CA-G3 < CN=Staat der Nederlanden Root CA - G3,O=Staat der Nederlanden,C=NL",
                   "UZI-register-Medewerker-niet-op-naam-CA-G3 < CN=Staat der Nederlanden Organisatie Services CA - G3,O=Staat der Nederlanden,C=NL",
               });
  for (const auto& ca : config.watch.intermediates) {
    if (ca.name == "GlobalSign-RSA-OV-SSL-CA-2018") {  // the self-signed R3, not a cross-sign
      CHECK(X509_self_signed(ca.parent.get(), 0) == 1);
    }
  }
  REQUIRE(config.watch.skipped.size() == 1);
  CHECK(config.watch.skipped[0].subject ==
        "CN=GlobalSign Extended Validation CA - SHA256 - G3,O=GlobalSign nv-sa,C=BE");
  CHECK(config.watch.skipped[0].reason == "expired");  // on 2026-09-21
}

TEST_CASE("revocation_log is stdout, or a file in an existing directory, made absolute") {
  TempDir dir;
  dir.mkdir("logs");
  dir.write("logs/old.jsonl", "{}\n");
  CHECK(load("revocation_log: \"-\"\n" + kUpstreams)->revocation_log == "-");
  CHECK(load("revocation_log: logs/revocations.jsonl\n" + kUpstreams, dir.path())->revocation_log ==
        dir.path() + "/logs/revocations.jsonl");
  CHECK(load("revocation_log: logs/old.jsonl\n" + kUpstreams, dir.path())->revocation_log ==
        dir.path() + "/logs/old.jsonl");
  CHECK(load("revocation_log: " + dir.path() + "/logs/r.jsonl\n" + kUpstreams)->revocation_log ==
        dir.path() + "/logs/r.jsonl");
  // A config read from the working directory: the log stays put if the proxy changes directory.
  CHECK(load("revocation_log: r.jsonl\n" + kUpstreams, "")->revocation_log ==
        (fs::current_path() / "r.jsonl").string());
}

TEST_CASE("a revocation_log whose directory is missing is rejected with the reason") {
  TempDir dir;
  dir.mkdir("logs");
  dir.write("file.txt", "not a directory\n");
  std::vector<ErrorCase> cases = {
      {"revocation_log:\n", "F:1: revocation_log: missing value"},
      {"revocation_log: \"\"\n", "F:1: revocation_log: must not be empty"},
      {"revocation_log: [a.jsonl]\n", "F:1: revocation_log: expected a string"},
      {"revocation_log: missing/r.jsonl\n", "F:1: revocation_log: cannot use directory \"" +
                                                dir.path() +
                                                "/missing\": No such file or directory"},
      {"revocation_log: file.txt/r.jsonl\n",
       "F:1: revocation_log: not a directory: \"" + dir.path() + "/file.txt\""},
      {"workers: 1\nrevocation_log: logs\n",
       "F:2: revocation_log: is a directory, not a file: \"" + dir.path() + "/logs\""},
  };
  for (auto& c : cases) c.yaml += kUpstreams;
  checkErrors(cases, dir.path());
}

TEST_CASE("distrust gives one entry per key, by certificate or by SPKI SHA-256") {
  Pki pki;
  pki.dir.write("roots.pem", ocsp::test::readFile(root("GlobalSign_Root_CA.pem")) +
                                 ocsp::test::readFile(root("DigiCert_Global_Root_CA.pem")));
  pki.dir.write("root-twice.pem", pemOf(pki.root.cert) + pemOf(pki.reissued_root.cert));
  auto c = load(
      "distrust:\n"
      "  - name: roots\n"
      "    cert: roots.pem\n"
      "  - name: test-root\n"
      "    cert: root-twice.pem\n"
      "  - name: by-hash\n"
      "    spki_sha256: 00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n" +
          kUpstreams,
      pki.dir.path());
  REQUIRE(c->distrust.size() == 4);
  const auto& d = c->distrust;
  // Independently: openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum
  CHECK(d[0].name == "roots");
  CHECK(spkiHex(d[0]) == "2bcee858158cf5465fc9d76f0dfa312fef25a4dca8501da9b46b67d1fbfa1b64");
  CHECK(d[0].subject == "CN=GlobalSign Root CA,OU=Root CA,O=GlobalSign nv-sa,C=BE");
  CHECK(d[1].name == "roots");
  CHECK(spkiHex(d[1]) == "aff988906dde12955d9bebbf928fdcc31cce328d5b9384f21c8941ca26e20391");
  CHECK(d[1].subject == "CN=DigiCert Global Root CA,OU=www.digicert.com,O=DigiCert Inc,C=US");
  // A re-issued certificate of the same key is the same distrusted key.
  CHECK(d[2].name == "test-root");
  CHECK(d[2].subject == "CN=root,O=ocsp-proxy tests");
  CHECK(d[2].spki_sha256.size() == 32);
  CHECK(d[3].name == "by-hash");
  CHECK(spkiHex(d[3]) == "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
  CHECK(d[3].subject.empty());
}

TEST_CASE("spki_sha256 is 64 hex digits in either case, with or without colons between bytes") {
  const std::string hex = "00112233445566778899aabbccddeeff0123456789ABCDEF0123456789abcdef";
  std::string colons;
  for (size_t i = 0; i < hex.size(); i += 2) colons += (i == 0 ? "" : ":") + hex.substr(i, 2);
  const std::string lower = "00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef";
  for (const std::string& good : {hex, lower, colons}) {
    CAPTURE(good);
    auto c = load("distrust:\n  - {name: a, spki_sha256: \"" + good + "\"}\n" + kUpstreams);
    REQUIRE(c->distrust.size() == 1);
    CHECK(spkiHex(c->distrust[0]) == lower);
  }
  const std::string not_hex =
      "not hex (expected 64 hex digits, optionally with colons between bytes): ";
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"zz" + hex.substr(2), not_hex},
      {hex.substr(1), not_hex},
      {"0x" + hex.substr(2), not_hex},
      {"", not_hex},
      {colons + ":", not_hex},
      {":" + colons, not_hex},
      {"001:1" + hex.substr(4), not_hex},
      {colons.substr(0, 5) + colons.substr(6), not_hex},  // "00:1122:..."
      {hex.substr(2), "expected 32 bytes (a SHA-256 hash), got 31: "},
      {hex + "00", "expected 32 bytes (a SHA-256 hash), got 33: "},
      {colons.substr(3), "expected 32 bytes (a SHA-256 hash), got 31: "},
  };
  for (const auto& [text, error] : bad) {
    const std::string& shown = text;  // clang 14: a lambda (CAPTURE) cannot use a binding
    CAPTURE(shown);
    CHECK(errorOf("distrust:\n  - name: a\n    spki_sha256: \"" + text + "\"\n" + kUpstreams) ==
          "F:3: distrust[0].spki_sha256: " + error + "\"" + text + "\"");
  }
}

TEST_CASE("distrust errors name the file, the line and the dotted key path") {
  Pki pki;
  pki.dir.write("junk.pem", "not a certificate\n");
  const std::string hex(64, 'a');
  const std::string root_spki = ocsp::toHex(
      ocsp::sha256(ocsp::toDer(X509_get_X509_PUBKEY(pki.root.cert.get()), i2d_X509_PUBKEY)));
  std::vector<ErrorCase> cases = {
      {"distrust: {a: 1}\n", "F:1: distrust: expected a list"},
      {"distrust: []\n", "F:1: distrust: must not be empty"},
      {"distrust:\n  - diginotar\n", "F:2: distrust[0]: expected a map: \"diginotar\""},
      {"distrust:\n  - name: a\n", "F:2: distrust[0]: one of cert or spki_sha256 is required"},
      {"distrust:\n  - spki_sha256: " + hex + "\n", "F:2: distrust[0].name: required"},
      {"distrust:\n  - name: a\n    cert: root.pem\n    spki_sha256: " + hex + "\n",
       "F:4: distrust[0].spki_sha256: conflicts with distrust[0].cert (set exactly one of cert, "
       "spki_sha256)"},
      {"distrust:\n  - name: a\n    certs: root.pem\n", "F:3: distrust[0].certs: unknown key"},
      {"distrust:\n  - {name: \"dig notar\", spki_sha256: " + hex + "}\n",
       "F:2: distrust[0].name: not a valid name (expected letters, digits, '_', '.' and '-'): "
       "\"dig notar\""},
      {"distrust:\n  - name: a\n    cert: none.pem\n",
       "F:3: distrust[0].cert: cannot read \"none.pem\": No such file or directory"},
      {"distrust:\n  - name: a\n    cert: junk.pem\n",
       "F:3: distrust[0].cert: no certificate in \"junk.pem\" (expected PEM or DER X.509)"},
      {"distrust:\n  - {name: a, spki_sha256: " + hex + "}\n  - {name: a, cert: root.pem}\n",
       "F:3: distrust[1].name: duplicate distrust name \"a\""},
      {"distrust:\n  - {name: a, cert: bundle.pem}\n  - {name: b, cert: reissued-root.pem}\n",
       "F:3: distrust[1].cert: key of \"CN=root,O=ocsp-proxy tests\" is already distrusted by "
       "\"a\""},
      {"distrust:\n  - {name: a, cert: bundle.pem}\n  - {name: b, cert: other-root.pem}\n",
       "F:3: distrust[1].cert: key of \"CN=other root,O=ocsp-proxy tests\" is already distrusted "
       "by \"a\""},
      {"distrust:\n  - {name: a, cert: root.pem}\n  - {name: b, spki_sha256: " + root_spki + "}\n",
       "F:3: distrust[1].spki_sha256: key is already distrusted by \"a\""},
  };
  for (auto& c : cases) c.yaml += kUpstreams;
  checkErrors(cases, pki.dir.path());
}

TEST_CASE("a distrust entry without mode or dates enforces always; mode, dates and groups load") {
  const std::string hex(64, 'a');
  auto c = load("distrust:\n"
                "  - {name: now, spki_sha256: " + hex + "}\n"
                "  - name: staged\n"
                "    spki_sha256: " + std::string(64, 'b') + "\n"
                "    mode: warn\n"
                "    enforce_from: 2027-03-01\n"
                "    clients:\n"
                "      - name: m2m\n"
                "        cidrs: [10.20.0.0/16, \"2001:db8::/32\", 192.0.2.7]\n"
                "        enforce_from: 2027-06-01T08:00:00+02:00\n"
                "  - {name: watched, spki_sha256: " + std::string(64, 'c') + ", mode: log}\n" +
                kUpstreams);
  REQUIRE(c->distrust.size() == 3);
  using ocsp::conf::DistrustStage;
  const auto& now = c->distrust[0].schedule;
  CHECK(now.mode == DistrustStage::Enforce);
  CHECK_FALSE(now.enforce_from.has_value());
  const auto& staged = c->distrust[1].schedule;
  CHECK(staged.mode == DistrustStage::Warn);
  CHECK(staged.enforce_from == 1803859200);  // date -u -d 2027-03-01 +%s
  REQUIRE(staged.clients.size() == 1);
  CHECK(staged.clients[0].name == "m2m");
  CHECK(staged.clients[0].enforce_from == 1811829600);  // date -u -d 2027-06-01T06:00:00Z +%s
  REQUIRE(staged.clients[0].cidrs.size() == 3);
  CHECK(ocsp::cidrText(staged.clients[0].cidrs[1]) == "2001:db8::/32");
  CHECK(ocsp::cidrText(staged.clients[0].cidrs[2]) == "192.0.2.7/32");
  CHECK(c->distrust[2].schedule.mode == DistrustStage::Log);
  CHECK_FALSE(c->distrust[2].schedule.enforce_from.has_value());
}

TEST_CASE("distrust stage errors name the file, the line and the dotted key path") {
  const std::string entry = "distrust:\n  - name: a\n    spki_sha256: " + std::string(64, 'a') + "\n";
  const std::string group = "    clients:\n      - name: g\n        cidrs: [10.0.0.0/8]\n";
  std::vector<ErrorCase> cases = {
      {entry + "    mode: audit\n",
       "F:4: distrust[0].mode: must be one of log, warn, enforce: \"audit\""},
      {entry + "    mode: log\n    enforce_from: 2027-02-30\n",
       "F:5: distrust[0].enforce_from: not a date (expected YYYY-MM-DD, 00:00 UTC, or an RFC "
       "3339 time such as 2027-03-01T08:00:00Z): \"2027-02-30\""},
      {entry + "    mode: log\n    enforce_from: 2027-03-01 08:00\n",
       "F:5: distrust[0].enforce_from: not a date (expected YYYY-MM-DD, 00:00 UTC, or an RFC "
       "3339 time such as 2027-03-01T08:00:00Z): \"2027-03-01 08:00\""},
      {entry + "    enforce_from: 2027-03-01\n",
       "F:4: distrust[0].enforce_from: needs mode: log or warn (the stage before this date)"},
      {entry + "    mode: enforce\n    enforce_from: 2027-03-01\n",
       "F:4: distrust[0].mode: must be log or warn with enforce_from (from that date on the "
       "entry enforces)"},
      {entry + "    mode: warn\n" + group + "        enforce_from: 2027-03-01\n",
       "F:6: distrust[0].clients: needs enforce_from on the entry (a group keeps mode until a "
       "later date)"},
      {entry + "    mode: warn\n    enforce_from: 2027-03-01\n" + group +
           "        enforce_from: 2027-02-28T23:59:59Z\n",
       "F:9: distrust[0].clients[0].enforce_from: is earlier than distrust[0].enforce_from "
       "(2027-03-01T00:00:00Z)"},
      {entry + "    mode: warn\n    enforce_from: 2027-03-01\n    clients:\n"
               "      - {name: g, cidrs: [10.20.0.1/16], enforce_from: 2027-04-01}\n",
       "F:7: distrust[0].clients[0].cidrs[0]: address has bits set past the prefix length (the "
       "block is 10.20.0.0/16): \"10.20.0.1/16\""},
      {entry + "    mode: warn\n    enforce_from: 2027-03-01\n    clients:\n"
               "      - {name: g, cidrs: [10.20.0.0/33], enforce_from: 2027-04-01}\n",
       "F:7: distrust[0].clients[0].cidrs[0]: prefix length must be 0..32: \"10.20.0.0/33\""},
      {entry + "    mode: warn\n    enforce_from: 2027-03-01\n    clients:\n"
               "      - {name: g, cidrs: [\"2001:db8::/129\"], enforce_from: 2027-04-01}\n",
       "F:7: distrust[0].clients[0].cidrs[0]: prefix length must be 0..128: \"2001:db8::/129\""},
      {entry + "    mode: warn\n    enforce_from: 2027-03-01\n    clients:\n"
               "      - {name: g, cidrs: [hospital.example/24], enforce_from: 2027-04-01}\n",
       "F:7: distrust[0].clients[0].cidrs[0]: not an IPv4 or IPv6 address block (expected "
       "ADDRESS/LENGTH): \"hospital.example/24\""},
      {entry + "    mode: warn\n    enforce_from: 2027-03-01\n    clients:\n"
               "      - {name: g, cidrs: [10.0.0.0/8], enforce_from: 2027-04-01}\n"
               "      - {name: g, cidrs: [10.0.0.0/8], enforce_from: 2027-05-01}\n",
       "F:8: distrust[0].clients[1].name: duplicate group name \"g\""},
      {entry + "    mode: warn\n    enforce_from: 2027-03-01\n    clients:\n"
               "      - {name: g, enforce_from: 2027-04-01}\n",
       "F:7: distrust[0].clients[0].cidrs: required"},
      {entry + "    mode: warn\n    enforce_from: 2027-03-01\n    clients:\n"
               "      - {name: g, cidrs: [10.0.0.0/8]}\n",
       "F:7: distrust[0].clients[0].enforce_from: required"},
  };
  for (auto& c : cases) c.yaml += kUpstreams;
  checkErrors(cases);
}

TEST_CASE("limit errors name the file, the line and the dotted key path") {
  CHECK(errorOf("limits:\n  max_connections: 0\n" + std::string(kUpstreams)).rfind(
            "F:2: limits.max_connections: ", 0) == 0);
  CHECK(errorOf("limits:\n  max_headers: many\n" + std::string(kUpstreams)).rfind(
            "F:2: limits.max_headers: ", 0) == 0);
  CHECK(errorOf("limits:\n  rate_per_client: -1\n" + std::string(kUpstreams)).rfind(
            "F:2: limits.rate_per_client: ", 0) == 0);
  CHECK(errorOf("limits:\n  drain_timeout: 0s\n" + std::string(kUpstreams)).rfind(
            "F:2: limits.drain_timeout: ", 0) == 0);
}

// The reload column of the schema (conf/yaml_schema.h Apply): the keys a SIGHUP cannot apply
// are the ones held by what lives as long as the process (proxy/server.cc: the listening
// sockets, the worker pool, the two caches, the revocation log and its buffer).
TEST_CASE(
    "the restart-only keys are the listeners, workers, cache sizes, the cache snapshot and "
    "revocation log") {
  std::vector<std::string> keys = ocsp::conf::restartOnlyKeys();
  std::sort(keys.begin(), keys.end());
  CHECK(keys == std::vector<std::string>{"cache.memory_bytes", "cache.snapshot_interval",
                                         "cache.snapshot_max_bytes", "crl.memory_bytes",
                                         "forward.aia_memory_bytes", "limits.revocation_log_buffer",
                                         "listen.admin", "listen.ocsp", "revocation_log", "state_dir",
                                         "workers"});
}

TEST_CASE("a reload keeps the running value of every restart-only key and takes the others") {
  auto running = load(
      "listen: {ocsp: '127.0.0.1:8080', admin: '127.0.0.1:9090'}\n"
      "workers: 2\n"
      "limits: {revocation_log_buffer: 1MiB, upstream_timeout: 5s}\n"
      "cache: {memory_bytes: 1MiB, refresh_percent: 50, snapshot_interval: 1m,"
      " snapshot_max_bytes: 1MiB}\n"
      "crl: {memory_bytes: 1MiB}\n"
      "forward: {aia_memory_bytes: 1MiB}\n"
      "state_dir: /var/lib/a\n"
      "nonce: ignore\n" +
      kUpstreams);
  auto loaded = load(
      "listen: {ocsp: '127.0.0.1:8081', admin: '[::1]:9091'}\n"
      "workers: 3\n"
      "limits: {revocation_log_buffer: 2MiB, upstream_timeout: 7s}\n"
      "cache: {memory_bytes: 2MiB, refresh_percent: 80, snapshot_interval: 2m,"
      " snapshot_max_bytes: 2MiB}\n"
      "crl: {memory_bytes: 2MiB}\n"
      "forward: {aia_memory_bytes: 2MiB}\n"
      "revocation_log: '-'\n"
      "state_dir: none\n"
      "nonce: passthrough\n" +
      kUpstreams);
  Config fresh = *loaded;

  std::vector<std::string> kept = ocsp::conf::keepRestartOnlyValues(fresh, *running);
  std::sort(kept.begin(), kept.end());
  std::vector<std::string> every = ocsp::conf::restartOnlyKeys();
  std::sort(every.begin(), every.end());
  CHECK(kept == every);
  // The restart-only keys have their running values back ...
  CHECK(fresh.listen_ocsp.port == 8080);
  CHECK(fresh.listen_admin.host == "127.0.0.1");
  CHECK(fresh.listen_admin.port == 9090);
  CHECK(fresh.workers == 2);
  CHECK(fresh.limits.revocation_log_buffer == 1u << 20);
  CHECK(fresh.cache.memory_bytes == 1u << 20);
  CHECK(fresh.cache.snapshot_interval_s == 60);
  CHECK(fresh.cache.snapshot_max_bytes == 1u << 20);
  CHECK(fresh.crl.memory_bytes == 1u << 20);
  CHECK(fresh.forward.aia_memory_bytes == 1u << 20);
  CHECK(fresh.revocation_log.empty());
  CHECK(fresh.state_dir == "/var/lib/a");
  // ... and the keys a reload applies differ in the new generation.
  CHECK(fresh.limits.upstream_timeout_ms == 7'000);
  CHECK(fresh.cache.refresh_percent == 80);
  CHECK(fresh.nonce == NoncePolicy::Passthrough);
  // The new generation's components are built from the fresh values.
  const ocsp::WorkerOptions next = ocsp::workerOptions(fresh);
  CHECK(next.upstream.timeout_ms == 7'000);
  CHECK(next.upstream.freshness.refresh_fraction == doctest::Approx(0.8));
  CHECK(next.policy.nonce == NoncePolicy::Passthrough);
  CHECK(ocsp::memoryCacheBytes(fresh) == 1u << 20);

  // Nothing changed: nothing kept, nothing to report.
  Config same = *running;
  CHECK(ocsp::conf::keepRestartOnlyValues(same, *running).empty());
}

TEST_CASE("the config file is named on a command line as --config FILE or --config=FILE") {
  std::string a0 = "ocsp-proxy", a1 = "--config", a2 = "/etc/a.yaml", a3 = "--config=/etc/b.yaml",
              a4 = "--configx", a5 = "--config";
  char* argv[] = {a0.data(), a1.data(), a2.data(), a3.data(), a4.data(), a5.data()};
  const int argc = 6;
  std::string path = "default";
  int i = 1;
  REQUIRE(ocsp::conf::configPathOption(argc, argv, i, &path));
  CHECK(path == "/etc/a.yaml");
  CHECK(i == 2);  // moved to FILE: the caller's loop goes on after it
  i = 3;
  REQUIRE(ocsp::conf::configPathOption(argc, argv, i, &path));
  CHECK(path == "/etc/b.yaml");
  CHECK(i == 3);
  i = 4;  // another option
  CHECK_FALSE(ocsp::conf::configPathOption(argc, argv, i, &path));
  i = 5;  // --config without its FILE
  CHECK_FALSE(ocsp::conf::configPathOption(argc, argv, i, &path));
  CHECK(path == "/etc/b.yaml");
}

TEST_CASE("responder.unknown_issuer is discover unless refuse is chosen") {
  CHECK(load(kUpstreams)->responder.unknown_issuer ==
        ocsp::conf::ResponderUnknownIssuerPolicy::Discover);
  CHECK(load("responder:\n  unknown_issuer: refuse\n" + std::string(kUpstreams))
            ->responder.unknown_issuer == ocsp::conf::ResponderUnknownIssuerPolicy::Refuse);
  checkErrors({{"responder:\n  unknown_issuer: pass\n" + std::string(kUpstreams),
                "F:2: responder.unknown_issuer: must be one of discover, refuse: \"pass\""},
               {"responder:\n  discover: true\n" + std::string(kUpstreams),
                "F:2: responder.discover: unknown key"}});
}

TEST_CASE("state_dir defaults to /var/lib/ocsp-proxy, is made absolute, and none turns it off") {
  TempDir dir;
  CHECK(load(kUpstreams)->state_dir == "/var/lib/ocsp-proxy");
  CHECK(load("state_dir: none\n" + std::string(kUpstreams))->state_dir.empty());
  // Not checked at load time: a missing directory costs only the state (a warning at start).
  CHECK(load("state_dir: state/\n" + std::string(kUpstreams), dir.path())->state_dir ==
        dir.path() + "/state/");
  checkErrors({{"state_dir: \"\"\n" + std::string(kUpstreams),
                "F:1: state_dir: must not be empty (use none to keep no state)"},
               {"state_dir: [a]\n" + std::string(kUpstreams), "F:1: state_dir: expected a string"}});
}

// --- The CRL bridge's keys (conf/config_bridge.h) --------------------------------------------

namespace {

// An upstream answered from its CRL alone, with the bridge section appended by the caller.
const std::string kCrlUpstream =
    "upstreams:\n"
    "  - name: uzi\n"
    "    fqdns: []\n"
    "    revocation_source: crl\n"
    "    crls: [http://crl.uzi.test/uzi.crl]\n"
    "    issuers: [$REAL/aws-lc-ocsp/ca_cert.pem]\n";

// A responder key (mode 0600) and its OCSP-signing certificate, valid now, in `dir`.
struct ResponderFiles {
  std::string key;
  std::string cert;
};
ResponderFiles writeResponder(const TempDir& dir, const std::string& name = "responder") {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  ocsp::test::CertSpec spec;
  spec.cn = "bridge responder";
  spec.ocsp_signing = true;
  spec.not_before = now - 86400;
  spec.not_after = now + 30 * 86400;
  ocsp::test::Identity id = ocsp::test::issue(spec, nullptr);
  ResponderFiles files;
  files.cert = dir.write(name + ".pem", "");
  files.key = dir.write(name + ".key", "");
  FILE* f = std::fopen(files.cert.c_str(), "w");
  REQUIRE(f != nullptr);
  PEM_write_X509(f, id.cert.get());
  std::fclose(f);
  f = std::fopen(files.key.c_str(), "w");
  REQUIRE(f != nullptr);
  PEM_write_PrivateKey(f, id.key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  fs::permissions(files.key, fs::perms::owner_read | fs::perms::owner_write);
  return files;
}

std::string bridgeSection(const ResponderFiles& files, const std::string& more = "") {
  return "crl_bridge:\n  key: " + files.key + "\n  cert: " + files.cert + "\n" + more;
}

}  // namespace

TEST_CASE("an upstream answered from its CRL needs no FQDN; its CRLs are kept warm and allowed") {
  TempDir dir;
  const ResponderFiles files = writeResponder(dir);
  StderrCapture log;
  auto c = load(kCrlUpstream + bridgeSection(files, "  known_serials: [" + dir.path() + "]\n"));
  const ocsp::conf::Upstream& up = c->upstreams[0];
  CHECK(up.fqdns.empty());
  CHECK(up.revocation_source == ocsp::conf::RevocationSource::Crl);
  CHECK(up.crls == std::vector<std::string>{"http://crl.uzi.test/uzi.crl"});
  CHECK(c->crl.urls == std::vector<std::string>{"http://crl.uzi.test/uzi.crl"});
  CHECK(hostPorts(c->crl.fqdns) == std::vector<std::string>{"crl.uzi.test:80"});
  REQUIRE(c->crl_bridge);
  CHECK(c->crl_bridge->unlisted == ocsp::conf::UnlistedPolicy::Unknown);
  CHECK(c->crl_bridge->known_serials == std::vector<std::string>{dir.path()});
  REQUIRE(c->crl_bridge->credentials != nullptr);
  CHECK(c->crl_bridge->credentials->subject.find("bridge responder") != std::string::npos);
  CHECK(log.count({"crl_bridge_unlisted_good"}) == 0);
  // Every key of the bridge reloads (the key is read again at each load).
  for (const std::string& key : ocsp::conf::restartOnlyKeys()) {
    CAPTURE(key);
    CHECK(key.find("crl_bridge") == std::string::npos);
    CHECK(key.find("upstreams") == std::string::npos);
  }
}

TEST_CASE("revocation_source defaults to ocsp, and a CRL listed twice is fetched once") {
  TempDir dir;
  const ResponderFiles files = writeResponder(dir);
  auto c = load("crl:\n  urls: [http://crl.uzi.test/uzi.crl]\n" + kCrlUpstream +
                "  - name: a\n    fqdns: [ocsp.a.test]\n    revocation_source: ocsp-then-crl\n"
                "    crls: [http://crl.a.test/a.crl]\n"
                "    issuers: [$REAL/certifi-mozilla-roots/DigiCert_Assured_ID_Root_CA.pem]\n"
                "  - name: b\n    fqdns: [ocsp.b.test]\n"
                "    issuers: [$REAL/certifi-mozilla-roots/DigiCert_Assured_ID_Root_G2.pem]\n" +
                bridgeSection(files));
  CHECK(c->upstreams[1].revocation_source == ocsp::conf::RevocationSource::OcspThenCrl);
  CHECK(c->upstreams[2].revocation_source == ocsp::conf::RevocationSource::Ocsp);
  CHECK(c->crl.urls ==
        std::vector<std::string>{"http://crl.uzi.test/uzi.crl", "http://crl.a.test/a.crl"});
}

TEST_CASE("crl_bridge.unlisted: good is accepted with a warning at every load") {
  TempDir dir;
  const ResponderFiles files = writeResponder(dir);
  StderrCapture log;
  auto c = load(kCrlUpstream + bridgeSection(files, "  unlisted: good\n"));
  CHECK(c->crl_bridge->unlisted == ocsp::conf::UnlistedPolicy::Good);
  CHECK(log.count({"level=warn", "event=crl_bridge_unlisted_good"}) == 1);
}

TEST_CASE("the CRL bridge's keys: each mistake named with file, line and key") {
  TempDir dir;
  const ResponderFiles files = writeResponder(dir);
  const std::string bridge = bridgeSection(files);
  const std::string a = "upstreams:\n  - name: a\n    issuers: [$REAL/aws-lc-ocsp/ca_cert.pem]\n";
  checkErrors({
      {a + "    fqdns: [ocsp.a.test]\n    revocation_source: sometimes\n",
       "F:5: upstreams[0].revocation_source: must be one of ocsp, crl, ocsp-then-crl: "
       "\"sometimes\""},
      {a + "    fqdns: [ocsp.a.test]\n    crls: [http://crl.a.test/a.crl]\n",
       "F:5: upstreams[0].crls: only used with revocation_source crl or ocsp-then-crl (this "
       "upstream's answers come from its OCSP responders)"},
      {a + "    fqdns: []\n    revocation_source: ocsp-then-crl\n"
           "    crls: [http://crl.a.test/a.crl]\n" + bridge,
       "F:4: upstreams[0].fqdns: must not be empty (only an upstream with revocation_source: "
       "crl has no OCSP responder)"},
      {a + "    revocation_source: crl\n" + bridge,
       "F:4: upstreams[0].revocation_source: crl needs the CRLs to answer from: list them in "
       "upstreams[0].crls (or crl.urls)"},
      {a + "    revocation_source: crl\n    crls: [http://crl.a.test/a.crl]\n",
       "F:4: upstreams[0].revocation_source: crl needs the crl_bridge section (the key and "
       "certificate that sign the answers built from CRLs)"},
      {a + "    revocation_source: crl\n"
           "    crls: [http://crl.a.test/a.crl, http://crl.a.test/a.crl]\n" + bridge,
       "F:5: upstreams[0].crls[1]: duplicate URL \"http://crl.a.test/a.crl\""},
      {a + "    revocation_source: crl\n    crls: [http://192.0.2.1/a.crl]\n" + bridge,
       "F:5: upstreams[0].crls[0]: an FQDN is required, not an IP address (firewalls allow "
       "these hosts by name): \"http://192.0.2.1/a.crl\""},
      {a + "    fqdns: [crl.a.test]\n    revocation_source: ocsp-then-crl\n"
           "    crls: [http://crl.a.test/a.crl]\n" + bridge,
       "F:6: upstreams[0].crls[0]: \"crl.a.test:80\" is both an OCSP upstream and a CRL host "
       "(upstream \"a\")"},
      {kCrlUpstream + "crl_bridge:\n  cert: " + files.cert + "\n",
       "F:8: crl_bridge.key: required"},
      {kCrlUpstream + "crl_bridge:\n  key: " + files.key + "\n",
       "F:8: crl_bridge.cert: required"},
      {kCrlUpstream + bridge + "  unlisted: maybe\n",
       "F:10: crl_bridge.unlisted: must be one of unknown, good: \"maybe\""},
      {kCrlUpstream + bridge + "  known_serials: [missing]\n",
       "F:10: crl_bridge.known_serials[0]: cannot read \"missing\": No such file or directory"},
      {kCrlUpstream + bridge + "  known_serials: []\n",
       "F:10: crl_bridge.known_serials: must not be empty"},
      {kCrlUpstream + "crl_bridge:\n  key: " + dir.path() + "/none.key\n  cert: " + files.cert +
           "\n",
       "F:8: crl_bridge.key: " + dir.path() + "/none.key: cannot open: No such file or directory"},
  });
}

TEST_CASE("a responder key others may read is refused at its line, with the chmod that fixes it") {
  TempDir dir;
  const ResponderFiles files = writeResponder(dir);
  fs::permissions(files.key, fs::perms::group_read | fs::perms::others_read, fs::perm_options::add);
  CHECK(errorOf(kCrlUpstream + bridgeSection(files)) ==
        "F:8: crl_bridge.key: " + files.key +
            " has mode 0644 (readable or writable by group or others); fix: chmod 600 " +
            files.key);
  // The certificate of another key.
  const ResponderFiles other = writeResponder(dir, "other");
  ResponderFiles mixed{files.key, other.cert};
  fs::permissions(files.key, fs::perms::group_read | fs::perms::others_read,
                  fs::perm_options::remove);
  CHECK(errorOf(kCrlUpstream + bridgeSection(mixed)).starts_with("F:9: crl_bridge.cert: "));
}
