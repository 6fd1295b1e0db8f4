#include "upstream/fqdn_health.h"

#include <algorithm>

#include "core/log.h"

namespace ocsp {

bool FqdnHealth::allow(const std::string& fqdn, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = states_.find(fqdn);
  if (it == states_.end() || !it->second.open) return true;
  State& s = it->second;
  if (s.probing || now_ms < s.retry_at_ms) return false;
  s.probing = true;
  return true;
}

void FqdnHealth::success(const std::string& fqdn) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = states_.find(fqdn);
  if (it == states_.end()) return;
  if (it->second.open) logEvent(LogLevel::Info, "circuit", {{"state", "closed"}, {"fqdn", fqdn}});
  states_.erase(it);
}

void FqdnHealth::failure(const std::string& fqdn, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  State& s = states_[fqdn];
  ++s.failures;
  if (s.open) {
    if (!s.probing) return;  // sent before the circuit opened: not a probe
    // A failed probe: back off longer.
    s.probing = false;
    s.backoff_ms = std::min(s.backoff_ms * 2, policy_.max_backoff_ms);
    s.retry_at_ms = now_ms + s.backoff_ms;
    return;
  }
  if (s.failures >= policy_.failures_to_open) {
    s.open = true;
    s.backoff_ms = policy_.base_backoff_ms;
    s.retry_at_ms = now_ms + s.backoff_ms;
    logEvent(LogLevel::Warn, "circuit",
             {{"state", "open"}, {"fqdn", fqdn}, {"failures", std::to_string(s.failures)},
              {"retry_in_ms", std::to_string(s.backoff_ms)}});
  }
}

std::vector<FqdnHealth::View> FqdnHealth::snapshot(int64_t now_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<View> out;
  for (const auto& [fqdn, s] : states_) {
    const char* state = !s.open ? "closed" : (s.probing || now_ms >= s.retry_at_ms ? "half_open" : "open");
    out.push_back(View{fqdn, state, s.failures, s.open ? std::max<int64_t>(0, s.retry_at_ms - now_ms) : 0});
  }
  return out;
}

}  // namespace ocsp
