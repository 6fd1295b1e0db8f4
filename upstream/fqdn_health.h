#pragma once
// Per-FQDN circuit breaker: a dead FQDN is skipped, then probed again. Shared by
// all workers; thread-safe.
//   closed     requests go through; `failures_to_open` consecutive failures open it;
//   open       requests skip this FQDN until the backoff has passed;
//   half-open  after the backoff one request (the probe) goes through: success closes the
//              circuit, failure reopens it with the backoff doubled (up to max_backoff_ms).
// A failure reported while the circuit is open and no probe is in flight comes from a request
// sent before it opened; it changes nothing (else every request in flight at the moment the
// circuit opens would double the backoff: 10 of them would make 2 s into 60 s).
// One log line per state change (event=circuit state=open|closed fqdn=...).
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace ocsp {

class FqdnHealth {
 public:
  struct Policy {
    int failures_to_open = 3;
    int64_t base_backoff_ms = 2'000;
    // A CA back from an outage is found at the next probe: at most this long after it
    // returned (one request per FQDN this often while it is down costs nothing).
    int64_t max_backoff_ms = 5'000;
  };
  explicit FqdnHealth(Policy policy) : policy_(policy) {}
  FqdnHealth() : FqdnHealth(Policy{}) {}

  // May a request go to `fqdn` now? True when closed, or when open with its backoff passed
  // and no probe in flight (the caller's request becomes the probe).
  bool allow(const std::string& fqdn, int64_t now_ms);
  void success(const std::string& fqdn);
  void failure(const std::string& fqdn, int64_t now_ms);

  struct View {
    std::string fqdn;
    const char* state;  // "closed" | "open" | "half_open"
    int consecutive_failures;
    int64_t retry_in_ms;
  };
  std::vector<View> snapshot(int64_t now_ms) const;

 private:
  struct State {
    int failures = 0;
    bool open = false;
    bool probing = false;
    int64_t backoff_ms = 0;
    int64_t retry_at_ms = 0;
  };
  Policy policy_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, State> states_;
};

}  // namespace ocsp
