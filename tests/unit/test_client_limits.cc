// Client limits (http/client_limits.h): the per-address token bucket and the connection gate.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "http/client_limits.h"

using ocsp::ConnectionGate;
using ocsp::RateLimiter;

TEST_CASE("a client gets its burst at once, then the rate, and other clients are not affected") {
  RateLimiter rl;
  int64_t t = 1'000'000;
  for (int i = 0; i < 5; ++i) CHECK(rl.allow("192.0.2.1", 2, 5, t));
  CHECK_FALSE(rl.allow("192.0.2.1", 2, 5, t));
  CHECK(rl.allow("192.0.2.2", 2, 5, t));  // its own bucket
  CHECK_FALSE(rl.allow("192.0.2.1", 2, 5, t + 499));  // half a token back
  CHECK(rl.allow("192.0.2.1", 2, 5, t + 500));        // one token at 2/s
  CHECK_FALSE(rl.allow("192.0.2.1", 2, 5, t + 500));
  // A long pause refills up to the burst, not beyond.
  t += 60'000;
  for (int i = 0; i < 5; ++i) CHECK(rl.allow("192.0.2.1", 2, 5, t));
  CHECK_FALSE(rl.allow("192.0.2.1", 2, 5, t));
}

TEST_CASE("without a burst the bucket holds one second of the rate; rate 0 lets all through") {
  RateLimiter rl;
  for (int i = 0; i < 3; ++i) CHECK(rl.allow("c", 3, 0, 0));
  CHECK_FALSE(rl.allow("c", 3, 0, 0));
  for (int i = 0; i < 1000; ++i) CHECK(rl.allow("d", 0, 0, 0));
  CHECK(rl.trackedClients() == 1);  // "d" was never tracked
}

TEST_CASE("buckets that filled up again are forgotten, so a scan does not grow the table") {
  RateLimiter rl;
  for (int i = 0; i < 10'000; ++i) rl.allow("10.0." + std::to_string(i), 10, 0, 0);
  CHECK(rl.trackedClients() == 10'000);
  // Two seconds later each of the 16 shards sweeps on its next use.
  for (int i = 0; i < 200; ++i) rl.allow("10.1." + std::to_string(i), 10, 0, 2'000);
  CHECK(rl.trackedClients() == 200);
}

TEST_CASE("the rate holds across threads: no more tokens than the bucket had") {
  RateLimiter rl;
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) allowed += rl.allow("one", 100, 250, 5'000) ? 1 : 0;
    });
  }
  for (auto& th : threads) th.join();
  CHECK(allowed.load() == 250);
}

TEST_CASE("the connection gate refuses past the maximum and counts every connection it saw") {
  ConnectionGate gate;
  CHECK(gate.enter(2));
  CHECK(gate.enter(2));
  CHECK_FALSE(gate.enter(2));  // counted all the same, until it leaves
  CHECK(gate.open() == 3);
  gate.leave();
  CHECK_FALSE(gate.enter(2));  // two still open plus this one
  gate.leave();
  gate.leave();
  CHECK(gate.enter(2));
  CHECK(gate.open() == 2);
}
