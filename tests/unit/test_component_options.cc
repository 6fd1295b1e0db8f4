// The options each component gets from a Config (proxy/component_options.h): every key lands
// where it takes effect, converted once (percent to fraction, half of a memo budget each),
// and the defaults of a config that leaves a key out are those conf/config.h documents.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "conf/config.h"
#include "proxy/component_options.h"
#include "tests/unit/test_util.h"

namespace ocsp {
namespace {

// Two upstreams, so that per-upstream lists are checked in their order.
std::string withUpstreams(const std::string& yaml) {
  const std::string ca = test::realData("aws-lc-ocsp/ca_cert.pem");
  const std::string other = test::realData("certifi-mozilla-roots/DigiCert_Global_Root_G2.pem");
  return yaml +
         "upstreams:\n"
         "  - name: a\n"
         "    fqdns: [ocsp.a.test, ocsp2.a.test]\n"
         "    path: /a\n"
         "    issuers: [" + ca + "]\n"
         "  - name: b\n"
         "    fqdns: [ocsp.b.test]\n"
         "    issuers: [" + other + "]\n";
}

std::shared_ptr<const conf::Config> load(const std::string& yaml) {
  auto loaded = conf::parseConfig(withUpstreams(yaml), "F", "/nonexistent");
  REQUIRE_MESSAGE(loaded.ok(), loaded.error().detail);
  return *loaded;
}

const std::string kEveryKey =
    "limits:\n"
    "  max_request_bytes: 4KiB\n"
    "  max_header_bytes: 2KiB\n"
    "  client_timeout: 3s\n"
    "  request_timeout: 4s\n"
    "  upstream_timeout: 1500ms\n"
    "  max_upstream_response_bytes: 64KiB\n"
    "  max_connections: 100\n"
    "  max_headers: 20\n"
    "  rate_per_client: 7\n"
    "  rate_burst: 9\n"
    "  revocation_log_buffer: 1MiB\n"
    "  max_cert_ids_per_request: 3\n"
    "cache:\n"
    "  memory_bytes: 32MiB\n"
    "  max_age: 2h\n"
    "  no_next_update_ttl: 90s\n"
    "  clock_skew: 1m\n"
    "  refresh_percent: 75\n"
    "  request_memo_bytes: 1MiB\n"
    "crl:\n"
    "  memory_bytes: 8MiB\n"
    "nonce: passthrough\n"
    "forward:\n"
    "  enabled: false\n"
    "  unknown_issuer: refuse\n"
    "watch:\n"
    "  interval: 10m\n"
    "  expiry_warning: 2d\n"
    "  on_revoked_issuer: refuse\n"
    "resolve:\n"
    "  ocsp.a.test: 127.0.0.1\n"
    "redis:\n"
    "  address: 127.0.0.1:6390\n"
    "  key_prefix: 'p:'\n"
    "  command_timeout: 40ms\n";

TEST_CASE("refresh_percent becomes a fraction once, for every stage that judges freshness") {
  auto config = load("cache: {refresh_percent: 50, max_age: 1h, no_next_update_ttl: 2m}\n"
                     "redis: {address: 127.0.0.1}\n");
  const FreshnessPolicy f = freshnessOptions(*config);
  CHECK(f.refresh_fraction == doctest::Approx(0.5));
  CHECK(f.max_age_s == 3600);
  CHECK(f.no_next_update_ttl_s == 120);
  const WorkerOptions w = workerOptions(*config);
  CHECK(w.upstream.freshness.refresh_fraction == doctest::Approx(0.5));
  REQUIRE(w.redis.has_value());
  CHECK(w.redis->freshness.refresh_fraction == doctest::Approx(0.5));
  const CrlService::Options crl = crlServiceOptions(*config);
  CHECK(crl.refresh_fraction == doctest::Approx(0.5));
  CHECK(crl.no_next_update_ttl_s == 120);
  CHECK(freshnessOptions(*load("cache: {refresh_percent: 100}\n")).refresh_fraction ==
        doctest::Approx(1.0));
}

TEST_CASE("every key reaches the component that uses it, in its unit") {
  auto config = load(kEveryKey);
  const WorkerOptions w = workerOptions(*config);

  // The upstream stage and AIA completion share limits.upstream_timeout, in milliseconds.
  CHECK(w.upstream.timeout_ms == 1500);
  CHECK(w.completer.fetch_timeout_ms == 1500);
  CHECK(w.upstream.max_response_bytes == 64u * 1024);
  CHECK(w.upstream.unknown_issuer == conf::UnknownIssuerPolicy::Refuse);
  CHECK(w.upstream.clock_skew_s == 60);
  CHECK(w.upstream.freshness.refresh_fraction == doctest::Approx(0.75));
  CHECK(w.upstream.freshness.max_age_s == 7200);
  CHECK(w.upstream.freshness.no_next_update_ttl_s == 90);
  REQUIRE(w.upstream.upstreams.size() == 2);
  CHECK(w.upstream.upstreams[0].fqdns == std::vector<std::string>{"ocsp.a.test", "ocsp2.a.test"});
  CHECK(w.upstream.resolve.at("ocsp.a.test") == "127.0.0.1");
  CHECK(w.completer.resolve.at("ocsp.a.test") == "127.0.0.1");
  CHECK(w.completer.upstream_names == std::vector<std::string>{"a", "b"});

  REQUIRE(w.redis.has_value());
  CHECK(w.redis->server.key_prefix == "p:");
  CHECK(w.redis->server.command_timeout_ms == 40);
  CHECK(w.redis->server.address->port == 6390);
  CHECK(w.redis->clock_skew_s == 60);

  CHECK(w.policy.upstream_names == std::vector<std::string>{"a", "b"});
  CHECK(w.policy.nonce == conf::NoncePolicy::Passthrough);
  CHECK(w.policy.on_revoked_issuer == conf::RevokedIssuerPolicy::Refuse);

  CHECK(w.front.limits.max_request_bytes == 4096);
  CHECK(w.front.limits.max_header_bytes == 2048);
  CHECK(w.front.limits.request_timeout_ms == 4000);
  CHECK(w.front.limits.max_connections == 100);
  CHECK(w.front.limits.max_headers == 20);
  CHECK(w.front.limits.rate_per_client == 7);
  CHECK(w.front.limits.rate_burst == 9);
  CHECK(w.front.max_cert_ids_per_request == 3);
  CHECK(w.front.request_memo_bytes == 512u * 1024);  // half of 1MiB for each of GET and POST
  CHECK_FALSE(w.front.forward_enabled);

  CHECK(w.server.max_request_bytes == 4096);
  CHECK(w.server.max_header_bytes == 2048);
  CHECK(w.server.max_headers == 20);
  CHECK(w.server.client_timeout_ms == 3000);
  CHECK(w.server.request_timeout_ms == 4000);
  CHECK(w.server.max_connections == 100);
  CHECK(w.server.gate == nullptr);  // not config: the worker sets it

  const IssuerWatch::Options watch = issuerWatchOptions(*config);
  CHECK(watch.interval_s == 600);
  CHECK(watch.expiry_warning_s == 2 * 86400);
  CHECK(watch.on_revoked_issuer == conf::RevokedIssuerPolicy::Refuse);
  CHECK(watch.issuers.size() == 2);  // one per upstream, for the expiry report
  CHECK(watch.upstream_names == std::vector<std::string>{"a", "b"});

  const AdminOptions admin = adminOptions(*config);
  CHECK(admin.config_path == "F");
  REQUIRE(admin.upstreams.size() == 2);
  CHECK(admin.upstreams[0].name == "a");
  CHECK(admin.upstreams[0].fqdns == std::vector<std::string>{"ocsp.a.test", "ocsp2.a.test"});
  CHECK(admin.crl_memory_bytes == 8u << 20);

  CHECK(memoryCacheBytes(*config) == 32u << 20);
  CHECK(crlStoreBytes(*config) == 8u << 20);
  CHECK(revocationLogOptions(*config).max_pending_bytes == 1u << 20);
}

TEST_CASE("a config that leaves the keys out gives the documented defaults") {
  auto config = load("");
  const WorkerOptions w = workerOptions(*config);
  CHECK(w.upstream.timeout_ms == 5000);
  CHECK(w.completer.fetch_timeout_ms == 5000);
  CHECK(w.upstream.max_response_bytes == 1u << 20);
  CHECK(w.upstream.unknown_issuer == conf::UnknownIssuerPolicy::Pass);
  CHECK(w.upstream.clock_skew_s == 300);
  CHECK(w.upstream.freshness.refresh_fraction == doctest::Approx(0.5));
  CHECK(w.upstream.freshness.max_age_s == 7 * 86400);
  CHECK(w.upstream.freshness.no_next_update_ttl_s == 300);
  CHECK_FALSE(w.redis.has_value());  // no redis: section, no Redis stage
  CHECK(w.policy.nonce == conf::NoncePolicy::Ignore);
  CHECK(w.policy.on_revoked_issuer == conf::RevokedIssuerPolicy::Flag);
  CHECK(w.front.limits.max_connections == 4096);
  CHECK(w.front.limits.rate_per_client == 0);
  CHECK(w.front.max_cert_ids_per_request == 16);
  CHECK(w.front.request_memo_bytes == 8u << 20);
  CHECK(w.front.forward_enabled);
  CHECK(w.server.client_timeout_ms == 10'000);
  CHECK(w.server.request_timeout_ms == 10'000);
  CHECK(w.server.max_header_bytes == 8 * 1024);
  CHECK(w.server.max_headers == 64);
  CHECK(w.server.max_request_bytes == 16 * 1024);
  const IssuerWatch::Options watch = issuerWatchOptions(*config);
  CHECK(watch.interval_s == 3600);
  CHECK(watch.expiry_warning_s == 30 * 86400);
  CHECK(watch.intermediates.empty());
  CHECK(memoryCacheBytes(*config) == 256u << 20);
  CHECK(crlStoreBytes(*config) == 256u << 20);
  CHECK(revocationLogOptions(*config).max_pending_bytes == 8u << 20);
}

}  // namespace
}  // namespace ocsp
