#pragma once
// What the proxy has learned about each upstream's nonces under `nonce: passthrough`
// (docs/ARCHITECTURE.md §3), so that a request with a nonce is served from the cache when
// the CA would have ignored its nonce anyway, and goes to the CA when the CA echoes nonces.
// Rules:
//   - an upstream is "ignoring" for kForgetAfterS seconds after it answered a request that
//     carried a nonce with a valid answer without one (most CDN responders: RFC 5019);
//     meanwhile such requests are ordinary lookups: answered from the caches, coalesced, and
//     sent upstream without the nonce (the CA would not have used it);
//   - an answer that echoes the nonce ends that at once; and once kForgetAfterS passed, the
//     next request with a nonce is forwarded with it again, so a CA that starts echoing is
//     noticed within that time;
//   - unknown upstreams (nothing learned yet) are treated as echoing: the nonce goes to them.
// One log line per change (event=upstream_nonce state=ignored|echoed upstream=...).
// Keyed by upstream name, so that it survives reloads. Shared by all workers; thread-safe.
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/clock.h"

namespace ocsp {

class NonceEcho {
 public:
  static constexpr int64_t kForgetAfterS = 3600;

  // `clock` must outlive this object.
  explicit NonceEcho(const Clock& clock) : clock_(clock) {}

  // Did `upstream` answer a nonce without echoing it within the last kForgetAfterS seconds?
  bool ignores(const std::string& upstream) const;
  // A valid answer from `upstream` to a request that carried a nonce; `echoed`: it carried
  // that nonce.
  void answered(const std::string& upstream, bool echoed);

 private:
  const Clock& clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, int64_t> ignoring_until_;  // absent: echoes (or unknown)
};

}  // namespace ocsp
