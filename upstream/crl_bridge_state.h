#pragma once
// What the CRL bridge (upstream/crl_bridge_source.h) learns while it answers, shared by the
// workers of one generation: which CRL URL holds each issuer's CRL (so a miss fetches that
// CRL, not every CRL of the upstream; shown in /status), and the states whose changes are
// logged once rather than per request (an upstream falling back to its CRL or coming back, a
// CRL becoming unavailable, a delta CRL that cannot be used). Thread-safe.
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ocsp {

class CrlBridgeState {
 public:
  struct IssuerCrl {
    std::string upstream;
    std::string issuer;  // subject, one line
    std::string url;
  };

  // The CRL URL remembered for the issuer with this key (issuerKeySha1), if any.
  std::optional<std::string> crlFor(std::string_view issuer_key_sha1) const;
  void remember(std::string_view issuer_key_sha1, IssuerCrl where);
  void forget(std::string_view issuer_key_sha1);
  // Sorted by upstream, then issuer.
  std::vector<IssuerCrl> issuerCrls() const;

  // Sets the named flag (`what` + "/" + `subject`) to `on`: true when that changed it (the
  // caller logs the change). A flag never set is off.
  bool change(std::string_view what, std::string_view subject, bool on);
  // True the first time `key` is noted: for problems logged once (a delta CRL's reason).
  bool first(std::string_view key);

 private:
  static constexpr size_t kMaxNoted = 10'000;  // bounds `noted_`: a CA may publish many deltas
  mutable std::mutex mu_;
  std::map<std::string, IssuerCrl, std::less<>> by_issuer_;
  std::map<std::string, bool, std::less<>> flags_;
  std::map<std::string, bool, std::less<>> noted_;
};

}  // namespace ocsp
