#pragma once
// Routes a CertID to the upstream that answers for its issuer (DESIGN.md §2 PolicySource).
// Built once per config from every upstream's issuer certificates: for each issuer and each
// hash algorithm a client may use (SHA-1, SHA-256, SHA-384, SHA-512) it precomputes
// issuerNameHash and issuerKeyHash as RFC 6960 §4.1.1 defines them. Immutable; thread-safe.
#include <memory>
#include <string>
#include <unordered_map>

#include "conf/config.h"
#include "core/ocsp_types.h"

namespace ocsp {

class IssuerIndex {
 public:
  explicit IssuerIndex(const conf::Config& config);

  // The route for this CertID's issuer, or nullptr if no configured issuer matches.
  std::shared_ptr<const Route> find(const CertIdInfo& id) const;

  size_t issuerCount() const { return issuer_count_; }

 private:
  static std::string indexKey(int nid, std::string_view name_hash, std::string_view key_hash);
  std::unordered_map<std::string, std::shared_ptr<const Route>> routes_;
  size_t issuer_count_ = 0;
};

}  // namespace ocsp
