#include "upstream/nonce_echo.h"

#include "core/log.h"

namespace ocsp {

bool NonceEcho::ignores(const std::string& upstream) const {
  std::lock_guard lock(mu_);
  auto it = ignoring_until_.find(upstream);
  return it != ignoring_until_.end() && clock_.now() < it->second;
}

void NonceEcho::answered(const std::string& upstream, bool echoed) {
  const int64_t now = clock_.now();
  bool changed = false;
  {
    std::lock_guard lock(mu_);
    if (echoed) {
      changed = ignoring_until_.erase(upstream) > 0;
    } else {
      // A lapsed "ignoring" confirmed again is no change: its line was logged when it began.
      changed = ignoring_until_.insert_or_assign(upstream, now + kForgetAfterS).second;
    }
  }
  if (!changed) return;
  logEvent(LogLevel::Info, "upstream_nonce",
           {{"upstream", upstream},
            {"state", echoed ? "echoed" : "ignored"},
            {"action", echoed ? "requests with a nonce go to the upstream"
                              : "requests with a nonce are answered from the cache"}});
}

}  // namespace ocsp
