#pragma once
// Routes a CertID to the upstream that answers for its issuer (docs/ARCHITECTURE.md §2
// PolicySource, §3 Route). Built once per config from every upstream's issuer certificates: for
// each issuer and each hash algorithm a client may use (SHA-1, SHA-256, SHA-384, SHA-512) it
// precomputes issuerNameHash and issuerKeyHash as RFC 6960 §4.1.1 defines them.
//
// A route whose issuer key is on the distrust list (docs/ARCHITECTURE.md §9) carries the entry's
// name; PolicySource refuses it.
//
// Issuers completed at run time through AIA (forward mode, and responder-mode discovery,
// docs/ARCHITECTURE.md §9) are learned into a second table under a reader/writer lock; the
// configured table is immutable and read without a lock. Each learned issuer keeps how it came
// (LearnedFrom) and when it was learned, for /status and the state file. A new issuer learned
// at run time is logged once (event=issuer_learned); restored ones are logged by whoever
// restores them. Thread-safe.
#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "conf/config.h"
#include "core/source.h"

namespace ocsp {

// How a learned issuer came to this process: completed through AIA for a forward-mode query or
// for a responder-mode discovery, or read back from the state file or from Redis.
enum class LearnedFrom { Aia, Discovery, State, Redis };
const char* learnedFromName(LearnedFrom from);

struct LearnedIssuer {
  std::shared_ptr<const Route> route;  // never null; its issuer is the certificate
  int64_t learned_at = 0;              // seconds since the epoch, when it was first learned
  LearnedFrom from = LearnedFrom::Aia;
};

class IssuerIndex {
 public:
  explicit IssuerIndex(const conf::Config& config);

  // The route for this CertID's issuer (configured first, then learned), or nullptr.
  std::shared_ptr<const Route> find(const CertIdInfo& id) const;

  // Adds an issuer that was verified to chain to the trust store, answered for by upstream
  // `upstream_index`. Learning the same certificate twice keeps the first (and logs once).
  std::shared_ptr<const Route> learn(SharedX509 issuer, size_t upstream_index,
                                     const std::string& upstream_name,
                                     LearnedFrom from = LearnedFrom::Aia, int64_t now = 0);
  // Adds an issuer learned before (an earlier generation, the state file, Redis) that the
  // caller verified again, keeping its learned_at and `from`; not logged. Same rule for a
  // certificate learned already.
  std::shared_ptr<const Route> restore(const LearnedIssuer& prior, size_t upstream_index);
  // Called, on the thread that learned it, after each issuer added by learn() or restore(),
  // with that issuer (the state file is written then, its serial is known to be issued). Set
  // before the index is shared between threads.
  void onLearned(std::function<void(const LearnedIssuer&)> listener) {
    on_learned_ = std::move(listener);
  }

  // Every issuer certificate, configured and learned (CRL signature candidates).
  std::vector<SharedX509> allIssuers() const;

  size_t issuerCount() const { return issuer_count_; }
  size_t learnedCount() const;
  // The issuers learned so far, in the order learned (a reload hands them to the new index).
  std::vector<LearnedIssuer> learned() const;
  // True if a configured issuer has `cert`'s subject and key (for restoring: an issuer the
  // config names now is not learned again).
  bool isConfigured(X509* cert) const;
  // True if `cert` was learned (or restored) already.
  bool isLearned(X509* cert) const;
  // distrust[].name for this certificate's key, or "".
  std::string distrustName(X509* cert) const;

 private:
  struct Candidate {
    int hash_nid;
    std::string issuer_name_hash;
    std::shared_ptr<const Route> route;
  };
  using Table = std::unordered_map<std::string, std::vector<Candidate>>;
  static void add(Table& table, const std::shared_ptr<const Route>& route);
  static std::shared_ptr<const Route> lookup(const Table& table, const CertIdInfo& id);
  // Adds `route`'s issuer unless its certificate is learned already; the route held.
  std::shared_ptr<const Route> insert(LearnedIssuer entry, bool* added);
  // Keyed by issuerKeyHash as the CertID carries it, so that a lookup on the request path
  // hashes the request's own string and builds nothing; the few candidates per key (one per
  // hash algorithm that yields this key hash) are told apart by algorithm and name hash.
  Table routes_;
  std::unordered_map<std::string, std::string> distrusted_;  // SPKI SHA-256 -> distrust name
  std::vector<SharedX509> configured_;
  size_t issuer_count_ = 0;

  mutable std::shared_mutex learned_mu_;
  Table learned_;
  std::vector<LearnedIssuer> learned_routes_;
  std::function<void(const LearnedIssuer&)> on_learned_;
};

}  // namespace ocsp
