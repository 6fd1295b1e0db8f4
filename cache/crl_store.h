#pragma once
// In-process CRL cache (docs/ARCHITECTURE.md §8): the CRLs fetched through the forward proxy and
// those kept warm from crl.urls, keyed by URL, bounded in bytes with LRU eviction. A CRL is served
// from here until its nextUpdate and never after (an entry past hard_expiry is dropped).
// Entries are immutable and shared with the replies that are sending them.
// Thread-safe: one mutex (CRLs are few and their hits rare next to OCSP's).
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "pki/crl.h"

namespace ocsp {

struct CrlEntry {
  std::string url;            // as fetched: scheme://authority/target
  std::string bytes;          // byte-identical to what the CA served (DER or PEM)
  ParsedCrl crl;
  int64_t fetched_at = 0;
  int64_t refresh_at = 0;     // from here on the CRL is fetched again in the background
  int64_t hard_expiry = 0;    // nextUpdate, or fetched_at + cache.no_next_update_ttl
  // Pre-rendered HTTP header values (RFC 5019 §6.2 style, as for OCSP answers).
  std::string etag;           // "\"<sha256 hex>\""
  std::string last_modified;  // HTTP-date of thisUpdate
  std::string expires;        // HTTP-date of hard_expiry

  size_t footprint() const { return sizeof(*this) + url.size() + bytes.size() + crl.revoked.footprint(); }
};

// Fills refresh_at, hard_expiry and the header values from the parsed CRL and its bytes:
// `e.bytes` must be set first (the ETag is their SHA-256, so two different CRLs never share
// one and a client's If-None-Match for an older CRL gets the newer one).
// `refresh_fraction` of [thisUpdate, hard_expiry) passes before a refresh (cache.refresh_percent).
void finishCrlEntry(CrlEntry& e, int64_t no_next_update_ttl_s, double refresh_fraction);

class CrlStore {
 public:
  // `max_bytes` bounds the sum of CrlEntry::footprint(); 0 stores nothing.
  explicit CrlStore(size_t max_bytes) : max_bytes_(max_bytes) {}

  // The entry if present and `now` < hard_expiry; an expired one is removed.
  std::shared_ptr<const CrlEntry> get(const std::string& url, int64_t now);
  // Inserts or replaces; evicts least recently used CRLs until it fits. A CRL larger than
  // the whole bound is not stored.
  void put(std::shared_ptr<const CrlEntry> entry);

  struct Stats {
    size_t entries = 0;
    size_t bytes = 0;
    uint64_t evictions = 0;
  };
  Stats stats() const;
  // Every entry held, most recently used first (for /status).
  std::vector<std::shared_ptr<const CrlEntry>> snapshot() const;

 private:
  using Lru = std::list<std::shared_ptr<const CrlEntry>>;
  void eraseLocked(std::unordered_map<std::string, Lru::iterator>::iterator it);

  const size_t max_bytes_;
  mutable std::mutex mu_;
  Lru lru_;  // front = most recently used
  std::unordered_map<std::string, Lru::iterator> by_url_;
  size_t bytes_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace ocsp
