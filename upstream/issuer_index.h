#pragma once
// Routes a CertID to the upstream that answers for its issuer (docs/ARCHITECTURE.md §2
// PolicySource, §3 Route). Built once per config from every upstream's issuer certificates: for
// each issuer and each hash algorithm a client may use (SHA-1, SHA-256, SHA-384, SHA-512) it
// precomputes issuerNameHash and issuerKeyHash as RFC 6960 §4.1.1 defines them.
//
// A route whose issuer key is on the distrust list (docs/ARCHITECTURE.md §9) carries the entry's
// name; PolicySource refuses it.
//
// Issuers completed at run time through AIA (forward mode, docs/ARCHITECTURE.md §9) are learned
// into a second table under a reader/writer lock; the configured table is immutable and read
// without a lock. Thread-safe.
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "conf/config.h"
#include "core/source.h"

namespace ocsp {

class IssuerIndex {
 public:
  explicit IssuerIndex(const conf::Config& config);

  // The route for this CertID's issuer (configured first, then learned), or nullptr.
  std::shared_ptr<const Route> find(const CertIdInfo& id) const;

  // Adds an issuer that was verified to chain to the trust store, answered for by upstream
  // `upstream_index`. Learning the same certificate twice keeps the first.
  std::shared_ptr<const Route> learn(SharedX509 issuer, size_t upstream_index,
                                     const std::string& upstream_name);

  // Every issuer certificate, configured and learned (CRL signature candidates).
  std::vector<SharedX509> allIssuers() const;

  size_t issuerCount() const { return issuer_count_; }
  size_t learnedCount() const;
  // The issuers learned so far (a reload hands them to the new index).
  std::vector<std::shared_ptr<const Route>> learnedRoutes() const;

 private:
  struct Candidate {
    int hash_nid;
    std::string issuer_name_hash;
    std::shared_ptr<const Route> route;
  };
  using Table = std::unordered_map<std::string, std::vector<Candidate>>;
  static void add(Table& table, const std::shared_ptr<const Route>& route);
  // distrust[].name for this certificate's key, or "".
  std::string distrustName(X509* cert) const;
  static std::shared_ptr<const Route> lookup(const Table& table, const CertIdInfo& id);
  // Keyed by issuerKeyHash as the CertID carries it, so that a lookup on the request path
  // hashes the request's own string and builds nothing; the few candidates per key (one per
  // hash algorithm that yields this key hash) are told apart by algorithm and name hash.
  Table routes_;
  std::unordered_map<std::string, std::string> distrusted_;  // SPKI SHA-256 -> distrust name
  std::vector<SharedX509> configured_;
  size_t issuer_count_ = 0;

  mutable std::shared_mutex learned_mu_;
  Table learned_;
  std::vector<std::shared_ptr<const Route>> learned_routes_;
};

}  // namespace ocsp
