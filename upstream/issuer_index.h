#pragma once
// Routes a CertID to the upstream that answers for its issuer (DESIGN.md §2 PolicySource).
// Built once per config from every upstream's issuer certificates: for each issuer and each
// hash algorithm a client may use (SHA-1, SHA-256, SHA-384, SHA-512) it precomputes
// issuerNameHash and issuerKeyHash as RFC 6960 §4.1.1 defines them. Immutable; thread-safe.
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

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
  struct Candidate {
    int hash_nid;
    std::string issuer_name_hash;
    std::shared_ptr<const Route> route;
  };
  // Keyed by issuerKeyHash as the CertID carries it, so that a lookup on the request path
  // hashes the request's own string and builds nothing; the few candidates per key (one per
  // hash algorithm that yields this key hash) are told apart by algorithm and name hash.
  std::unordered_map<std::string, std::vector<Candidate>> routes_;
  size_t issuer_count_ = 0;
};

}  // namespace ocsp
