// The per-FQDN circuit breaker (upstream/fqdn_health.h): when it opens, how long it stays
// open, the single probe, and what it logs. Time is passed in, never waited out.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "tests/unit/test_util.h"
#include "upstream/fqdn_health.h"

using namespace ocsp;
using test::StderrCapture;

namespace {

const FqdnHealth::View* viewOf(const std::vector<FqdnHealth::View>& views,
                               const std::string& fqdn) {
  for (const auto& v : views) {
    if (v.fqdn == fqdn) return &v;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("an FQDN's circuit opens after consecutive failures and is probed after backoff") {
  FqdnHealth health(FqdnHealth::Policy{3, 1000, 4000});
  const std::string f = "ocsp.example";
  int64_t t = 0;
  CHECK(health.allow(f, t));
  health.failure(f, t);
  health.failure(f, t);
  CHECK(health.allow(f, t));  // two failures: still closed
  health.failure(f, t);
  CHECK_FALSE(health.allow(f, t));  // open
  CHECK_FALSE(health.allow(f, t + 999));
  CHECK(health.allow(f, t + 1000));        // the probe
  CHECK_FALSE(health.allow(f, t + 1000));  // only one probe at a time
  health.failure(f, t + 1000);             // probe failed: backoff doubles
  CHECK_FALSE(health.allow(f, t + 2999));
  CHECK(health.allow(f, t + 3000));
  health.success(f);  // probe succeeded: closed
  CHECK(health.allow(f, t + 3000));
  CHECK(health.allow(f, t + 3000));
  CHECK(health.allow("other.example", t));
}

TEST_CASE("failures of requests in flight when the circuit opened do not lengthen its backoff") {
  FqdnHealth health(FqdnHealth::Policy{3, 1000, 4000});
  const std::string f = "ocsp.example";
  for (int i = 0; i < 6; ++i) CHECK(health.allow(f, 0));  // six requests in flight
  for (int i = 0; i < 3; ++i) health.failure(f, 10);      // the third opens the circuit
  for (int i = 0; i < 3; ++i) health.failure(f, 20);      // the other three, late
  CHECK_FALSE(health.allow(f, 1009));
  CHECK(health.allow(f, 1010));  // the probe, after the base backoff
  health.failure(f, 1010);       // a failed probe still doubles it
  CHECK_FALSE(health.allow(f, 3009));
  CHECK(health.allow(f, 3010));
}

TEST_CASE("a success resets the failure count") {
  FqdnHealth health(FqdnHealth::Policy{3, 1000, 4000});
  health.failure("a", 0);
  health.failure("a", 0);
  health.success("a");
  health.failure("a", 0);
  health.failure("a", 0);
  CHECK(health.allow("a", 0));
}

TEST_CASE("failed probes double the backoff up to max_backoff_ms") {
  FqdnHealth health(FqdnHealth::Policy{1, 1000, 3000});
  const std::string f = "ocsp.example";
  health.failure(f, 0);  // opens: retry at 1000
  int64_t t = 1000;
  for (int64_t expected : {2000, 3000, 3000, 3000}) {
    CAPTURE(expected);
    REQUIRE(health.allow(f, t));  // the probe
    health.failure(f, t);
    CHECK_FALSE(health.allow(f, t + expected - 1));
    t += expected;
  }
  CHECK(health.allow(f, t));
}

TEST_CASE("by default a dead FQDN is probed at least every 5 s, so a CA back is used soon") {
  FqdnHealth health;  // the policy every upstream runs with
  const std::string f = "ocsp.example";
  int64_t t = 0;
  for (int i = 0; i < 3; ++i) health.failure(f, t);  // opens
  CHECK_FALSE(health.allow(f, t + 1999));
  t += 2000;
  REQUIRE(health.allow(f, t));  // the first probe
  // An outage of ten minutes: each failed probe doubles the wait, never beyond 5 s.
  while (t < 600'000) {
    health.failure(f, t);
    int64_t next = t + 1;
    while (!health.allow(f, next)) ++next;  // the next probe
    CHECK(next - t <= 5'000);
    t = next;
  }
  health.success(f);
  CHECK(health.allow(f, t));
}

TEST_CASE("the snapshot names each FQDN's state, failures and time to the next probe") {
  FqdnHealth health(FqdnHealth::Policy{2, 1000, 4000});
  health.failure("flaky.example", 0);
  health.failure("dead.example", 0);
  health.failure("dead.example", 100);  // opens: retry at 1100
  auto at500 = health.snapshot(500);
  REQUIRE(viewOf(at500, "flaky.example") != nullptr);
  CHECK(std::string(viewOf(at500, "flaky.example")->state) == "closed");
  CHECK(viewOf(at500, "flaky.example")->consecutive_failures == 1);
  CHECK(viewOf(at500, "flaky.example")->retry_in_ms == 0);
  REQUIRE(viewOf(at500, "dead.example") != nullptr);
  CHECK(std::string(viewOf(at500, "dead.example")->state) == "open");
  CHECK(viewOf(at500, "dead.example")->consecutive_failures == 2);
  CHECK(viewOf(at500, "dead.example")->retry_in_ms == 600);
  CHECK(std::string(viewOf(health.snapshot(1100), "dead.example")->state) == "half_open");
  health.success("dead.example");
  CHECK(viewOf(health.snapshot(1100), "dead.example") == nullptr);  // healthy again: forgotten
}

TEST_CASE("one log line when a circuit opens and one when it closes, none per failure") {
  FqdnHealth health(FqdnHealth::Policy{3, 1000, 4000});
  const std::string f = "ocsp.example";
  StderrCapture log;
  for (int i = 0; i < 3; ++i) health.failure(f, 0);
  for (int i = 0; i < 5; ++i) health.failure(f, 10);  // late failures of requests in flight
  REQUIRE(health.allow(f, 1000));
  health.failure(f, 1000);  // failed probe: still open, no new line
  REQUIRE(health.allow(f, 3000));
  health.success(f);
  health.success(f);  // already closed: nothing to say
  CHECK(log.count({"event=circuit"}) == 2);
  CHECK(log.count({"event=circuit", "state=open", "fqdn=ocsp.example", "failures=3",
                   "retry_in_ms=1000"}) == 1);
  CHECK(log.count({"event=circuit", "state=closed", "fqdn=ocsp.example"}) == 1);
}
