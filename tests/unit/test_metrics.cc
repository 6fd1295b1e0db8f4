#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/metrics.h"

namespace ocsp {
namespace {

// The lines of one metric in an exposition: from its # HELP to the next metric's.
std::string block(const std::string& text, std::string_view name) {
  std::string help = "# HELP " + std::string(name) + " ";
  size_t start = text.find(help);
  REQUIRE_MESSAGE(start != std::string::npos, name);
  size_t end = text.find("# HELP ", start + help.size());
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::string helpAndType(Metric m) {
  const MetricDef& def = metricDef(m);
  return "# HELP " + std::string(def.name) + " " + escapeHelpText(def.help) + "\n# TYPE " +
         std::string(def.name) + " " + std::string(metricTypeName(def.type)) + "\n";
}

// Runs `misuse` in a child process; returns what it wrote to stderr if it died of SIGABRT,
// or a note saying how else it ended.
std::string abortMessage(const std::function<void()>& misuse) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::signal(SIGABRT, SIG_DFL);  // not doctest's crash handler, inherited from the parent
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    misuse();
    _exit(0);
  }
  close(fds[1]);
  std::string text;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;)
    text.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT) return "did not abort";
  return text;
}

}  // namespace

TEST_CASE("every metric in the table is declared once, in table order, with HELP and TYPE") {
  Metrics metrics;
  std::string text = metrics.exposition();
  size_t previous = 0;
  for (size_t i = 0; i < kMetricCount; ++i) {
    std::string head = helpAndType(static_cast<Metric>(i));
    CAPTURE(head);
    size_t at = text.find(head);
    REQUIRE(at != std::string::npos);
    CHECK(text.find(head, at + 1) == std::string::npos);
    CHECK(at >= previous);
    previous = at;
  }
}

TEST_CASE(
    "a fresh registry shows label-less metrics at 0, labelled ones not at all, and build info") {
  Metrics metrics;
  std::istringstream lines(metrics.exposition());
  std::vector<std::string> samples;
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("#")) samples.push_back(line);
  }
  const std::vector<std::string> expected = {
      "ocsp_proxy_cache_misses_total 0",
      "ocsp_proxy_coalesced_total 0",
      "ocsp_proxy_snapshot_last_write_timestamp_seconds 0",
      "ocsp_proxy_shared_certs_values 0",
      "ocsp_proxy_shared_certs_bytes 0",
      "ocsp_proxy_known_serials 0",
      "process_resident_memory_bytes 0",
      "ocsp_proxy_build_info{version=\"" OCSP_PROXY_VERSION "\"} 1",
  };
  CHECK(samples == expected);
}

TEST_CASE("counters with and without labels render exactly, sorted by label values") {
  Metrics metrics;
  metrics.counter(Metric::CacheMisses).inc(3);
  metrics.counter(Metric::Requests, {"responder", "revoked"}).inc();
  metrics.counter(Metric::Requests, {"responder", "good"}).inc(41);
  metrics.counter(Metric::Requests, {"forward", "try_later"}).inc(2);
  metrics.counter(Metric::Requests, {"responder", "good"}).inc();
  std::string text = metrics.exposition();
  CHECK(block(text, "ocsp_proxy_cache_misses_total") ==
        helpAndType(Metric::CacheMisses) + "ocsp_proxy_cache_misses_total 3\n");
  CHECK(block(text, "ocsp_proxy_requests_total") ==
        helpAndType(Metric::Requests) +
            "ocsp_proxy_requests_total{mode=\"forward\",result=\"try_later\"} 2\n"
            "ocsp_proxy_requests_total{mode=\"responder\",result=\"good\"} 42\n"
            "ocsp_proxy_requests_total{mode=\"responder\",result=\"revoked\"} 1\n");
  // A labelled metric with no series yet has its HELP and TYPE only.
  CHECK(block(text, "ocsp_proxy_cache_hits_total") == helpAndType(Metric::CacheHits));
}

TEST_CASE("gauges are set, added to, and go negative") {
  Metrics metrics;
  metrics.gauge(Metric::IssuerExpirySeconds, {"QuoVadis Issuing CA G4"}).set(-3600);
  Gauge& entries = metrics.gauge(Metric::CacheEntries, {"ocsp"});
  entries.add(5);
  entries.add(-2);
  std::string text = metrics.exposition();
  CHECK(block(text, "ocsp_proxy_issuer_expiry_seconds") ==
        helpAndType(Metric::IssuerExpirySeconds) +
            "ocsp_proxy_issuer_expiry_seconds{name=\"QuoVadis Issuing CA G4\"} -3600\n");
  CHECK(block(text, "ocsp_proxy_cache_entries") ==
        helpAndType(Metric::CacheEntries) + "ocsp_proxy_cache_entries{cache=\"ocsp\"} 3\n");
}

TEST_CASE("histogram buckets are cumulative and end with +Inf, _sum and _count") {
  Metrics metrics;
  Histogram& h = metrics.histogram(Metric::UpstreamLatency, {"ocsp.digicert.com"});
  // Binary fractions so that _sum is exact; 0.25 and 0.5 sit on bucket bounds.
  for (double s : {0.00390625, 0.25, 0.5, 4.0, 64.0}) h.observe(s);
  CHECK(
      block(metrics.exposition(), "ocsp_proxy_upstream_latency_seconds") ==
      helpAndType(Metric::UpstreamLatency) +
          "ocsp_proxy_upstream_latency_seconds_bucket{fqdn=\"ocsp.digicert.com\",le=\"0.005\"} 1\n"
          "ocsp_proxy_upstream_latency_seconds_bucket{fqdn=\"ocsp.digicert.com\",le=\"0.01\"} 1\n"
          "ocsp_proxy_upstream_latency_seconds_bucket{fqdn=\"ocsp.digicert.com\",le=\"0.025\"} 1\n"
          "ocsp_proxy_upstream_latency_seconds_bucket{fqdn=\"ocsp.digicert.com\",le=\"0.05\"} 1\n"
          "ocsp_proxy_upstream_latency_seconds_bucket{fqdn=\"ocsp.digicert.com\",le=\"0.1\"} 1\n"
          "ocsp_proxy_upstream_latency_seconds_bucket{fqdn=\"ocsp.digicert.com\",le=\"0.25\"} 2\n"
          "ocsp_proxy_upstream_latency_seconds_bucket{fqdn=\"ocsp.digicert.com\",le=\"0.5\"} 3\n"
          "ocsp_proxy_upstream_latency_seconds_bucket{fqdn=\"ocsp.digicert.com\",le=\"1\"} 3\n"
          "ocsp_proxy_upstream_latency_seconds_bucket{fqdn=\"ocsp.digicert.com\",le=\"2.5\"} 3\n"
          "ocsp_proxy_upstream_latency_seconds_bucket{fqdn=\"ocsp.digicert.com\",le=\"5\"} 4\n"
          "ocsp_proxy_upstream_latency_seconds_bucket{fqdn=\"ocsp.digicert.com\",le=\"10\"} 4\n"
          "ocsp_proxy_upstream_latency_seconds_bucket{fqdn=\"ocsp.digicert.com\",le=\"+Inf\"} 5\n"
          "ocsp_proxy_upstream_latency_seconds_sum{fqdn=\"ocsp.digicert.com\"} 68.75390625\n"
          "ocsp_proxy_upstream_latency_seconds_count{fqdn=\"ocsp.digicert.com\"} 5\n");
}

TEST_CASE("a NaN observation counts in +Inf only and an infinite sum is spelled +Inf") {
  Metrics metrics;
  Histogram& h = metrics.histogram(Metric::UpstreamLatency, {"x"});
  h.observe(std::numeric_limits<double>::quiet_NaN());
  CHECK(h.cumulativeCount(h.upperBounds().size() - 1) == 0);
  CHECK(h.count() == 1);
  Histogram& slow = metrics.histogram(Metric::UpstreamLatency, {"y"});
  slow.observe(std::numeric_limits<double>::infinity());
  std::string text = metrics.exposition();
  CHECK(text.find("ocsp_proxy_upstream_latency_seconds_sum{fqdn=\"x\"} NaN\n") !=
        std::string::npos);
  CHECK(text.find("ocsp_proxy_upstream_latency_seconds_sum{fqdn=\"y\"} +Inf\n") !=
        std::string::npos);
}

TEST_CASE(
    "label values escape backslash, double quote and newline; HELP escapes backslash and newline") {
  Metrics metrics;
  metrics.gauge(Metric::IntermediateRevoked, {"C:\\ca \"G4\"\nline2"}).set(1);
  CHECK(block(metrics.exposition(), "ocsp_proxy_intermediate_revoked") ==
        helpAndType(Metric::IntermediateRevoked) +
            "ocsp_proxy_intermediate_revoked{name=\"C:\\\\ca \\\"G4\\\"\\nline2\"} 1\n");
  CHECK(escapeHelpText("a\\b \"q\"\nc") == "a\\\\b \"q\"\\nc");
  CHECK(escapeLabelValue("a\\b \"q\"\nc") == "a\\\\b \\\"q\\\"\\nc");
}

// Series updated from different threads never share a cache line.
static_assert(alignof(Counter) == kCacheLineBytes && sizeof(Counter) == kCacheLineBytes);
static_assert(alignof(Gauge) == kCacheLineBytes && sizeof(Gauge) == kCacheLineBytes);
static_assert(alignof(Histogram) == kCacheLineBytes);

TEST_CASE("8 threads each adding 1M to one counter give the exact total") {
  Metrics metrics;
  Counter& hits = metrics.counter(Metric::CacheHits, {"memory"});
  constexpr int kThreads = 8;
  constexpr uint64_t kPerThread = 1'000'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&hits] {
      for (uint64_t i = 0; i < kPerThread; ++i) hits.inc();
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(hits.value() == kThreads * kPerThread);
  CHECK(block(metrics.exposition(), "ocsp_proxy_cache_hits_total")
            .ends_with("ocsp_proxy_cache_hits_total{layer=\"memory\"} 8000000\n"));
}

TEST_CASE("a resolved reference stays valid and shared while label sets are added and scraped") {
  Metrics metrics;
  Counter& first = metrics.counter(Metric::UpstreamRequests, {"digicert", "ocsp.digicert.com"});
  Histogram& latency = metrics.histogram(Metric::UpstreamLatency, {"ocsp.digicert.com"});
  std::thread adder([&metrics] {
    for (int i = 0; i < 5000; ++i) {
      std::string fqdn = "ocsp" + std::to_string(i) + ".example";
      metrics.counter(Metric::UpstreamRequests, {"other", fqdn}).inc();
      metrics.histogram(Metric::UpstreamLatency, {fqdn}).observe(0.01);
    }
  });
  std::thread scraper([&metrics] {
    for (int i = 0; i < 20; ++i) metrics.exposition();
  });
  for (int i = 0; i < 100000; ++i) {
    first.inc();
    latency.observe(0.02);
  }
  adder.join();
  scraper.join();
  CHECK(&metrics.counter(Metric::UpstreamRequests, {"digicert", "ocsp.digicert.com"}) == &first);
  CHECK(&metrics.histogram(Metric::UpstreamLatency, {"ocsp.digicert.com"}) == &latency);
  CHECK(first.value() == 100000);
  CHECK(latency.count() == 100000);
  CHECK(metrics.counter(Metric::UpstreamRequests, {"other", "ocsp4999.example"}).value() == 1);
}

TEST_CASE("collectors run at each exposition, before the metrics are rendered") {
  Metrics metrics;
  int runs = 0;
  metrics.addCollector([&runs](Metrics& m) {
    ++runs;
    m.gauge(Metric::CacheEntries, {"crl"}).set(runs * 10);
  });
  CHECK(runs == 0);
  CHECK(block(metrics.exposition(), "ocsp_proxy_cache_entries")
            .ends_with("ocsp_proxy_cache_entries{cache=\"crl\"} 10\n"));
  CHECK(block(metrics.exposition(), "ocsp_proxy_cache_entries")
            .ends_with("ocsp_proxy_cache_entries{cache=\"crl\"} 20\n"));
  CHECK(runs == 2);
}

TEST_CASE("a gauge collected each scrape shows only the label values its collector still sets") {
  Metrics metrics;
  metrics.collectedEachScrape(Metric::CircuitOpen);
  // What the running config names: a reload removes b.test.
  std::vector<std::string> fqdns = {"a.test", "b.test"};
  metrics.addCollector([&fqdns](Metrics& m) {
    for (const std::string& f : fqdns) m.gauge(Metric::CircuitOpen, {f}).set(1);
    m.gauge(Metric::CacheEntries, {"crl"}).set(static_cast<int64_t>(fqdns.size()));
  });
  // A gauge set outside any collector, not marked: it stays, as before.
  metrics.gauge(Metric::IssuerExpiring, {"gone-ca"}).set(1);
  CHECK(block(metrics.exposition(), "ocsp_proxy_circuit_open") ==
        helpAndType(Metric::CircuitOpen) +
            "ocsp_proxy_circuit_open{fqdn=\"a.test\"} 1\n"
            "ocsp_proxy_circuit_open{fqdn=\"b.test\"} 1\n");
  fqdns = {"a.test"};
  const std::string text = metrics.exposition();
  CHECK(block(text, "ocsp_proxy_circuit_open") ==
        helpAndType(Metric::CircuitOpen) + "ocsp_proxy_circuit_open{fqdn=\"a.test\"} 1\n");
  CHECK(block(text, "ocsp_proxy_issuer_expiring")
            .ends_with("ocsp_proxy_issuer_expiring{name=\"gone-ca\"} 1\n"));
  // Back in the config: shown again, with the value set now.
  fqdns = {"a.test", "b.test"};
  CHECK(block(metrics.exposition(), "ocsp_proxy_circuit_open")
            .ends_with("ocsp_proxy_circuit_open{fqdn=\"b.test\"} 1\n"));
}

TEST_CASE("a collector may add a collector, which runs from the next exposition on") {
  Metrics metrics;
  int inner_runs = 0;
  bool added = false;
  metrics.addCollector([&](Metrics& m) {
    if (added) return;
    added = true;
    m.addCollector([&inner_runs](Metrics&) { ++inner_runs; });
  });
  metrics.exposition();
  CHECK(inner_runs == 0);
  metrics.exposition();
  CHECK(inner_runs == 1);
}

TEST_CASE(
    "the wrong metric type or number of label values aborts with a message naming the metric") {
  CHECK(abortMessage([] {
          Metrics metrics;
          metrics.counter(Metric::CacheEntries, {"ocsp"});
        }) == "ocsp-proxy: metrics: ocsp_proxy_cache_entries: is a gauge, not a counter\n");
  CHECK(abortMessage([] {
          Metrics metrics;
          metrics.counter(Metric::Requests, {"responder"});
        }) == "ocsp-proxy: metrics: ocsp_proxy_requests_total: takes 2 label values, given 1\n");
  CHECK(
      abortMessage([] {
        Metrics metrics;
        metrics.histogram(Metric::UpstreamLatency);
      }) ==
      "ocsp-proxy: metrics: ocsp_proxy_upstream_latency_seconds: takes 1 label values, given 0\n");
}

}  // namespace ocsp
