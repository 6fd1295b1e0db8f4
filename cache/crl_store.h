#pragma once
// In-process CRL cache (docs/ARCHITECTURE.md §8): the CRLs fetched through the forward proxy and
// those kept warm from crl.urls, keyed by URL, bounded in bytes with LRU eviction. A CRL is served
// from here until its nextUpdate and never after (an entry past hard_expiry is dropped).
// The same store class holds the caIssuers documents (DocKind::CaIssuers) in a store of their
// own: served until forward.aia_ttl after the download, never past their first notAfter.
// Entries are immutable and shared with the replies that are sending them.
// Thread-safe: one mutex (CRLs are few and their hits rare next to OCSP's).
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "pki/ca_issuers_document.h"
#include "pki/crl.h"

namespace ocsp {

// The kinds of document the CRL chain carries (docs/ARCHITECTURE.md §8): CRLs, and the
// caIssuers certificates (RFC 5280 §4.2.2.1) that clients building chains download through the
// forward proxy. Each kind has a service, a store, Redis keys and log events of its own; the
// stages are the same, only the parse step and the freshness rule differ.
enum class DocKind : uint8_t { Crl, CaIssuers };

// "crl" or "ca_issuers": the kind's Redis key part and the prefix of its log events.
const char* docKindName(DocKind kind);
// The kind's log event `what`: docEvent(DocKind::Crl, "fetched") is "crl_fetched".
std::string docEvent(DocKind kind, const char* what);

struct CrlEntry {
  DocKind kind = DocKind::Crl;
  std::string url;            // as fetched: scheme://authority/target
  std::string bytes;          // byte-identical to what the CA served (DER or PEM)
  ParsedCrl crl;              // kind Crl
  CaIssuersDocument ca_issuers;  // kind CaIssuers
  int64_t fetched_at = 0;
  int64_t refresh_at = 0;     // from here on the CRL is fetched again in the background
  int64_t hard_expiry = 0;    // nextUpdate, or fetched_at + cache.no_next_update_ttl
  // Pre-rendered HTTP header values (RFC 5019 §6.2 style, as for OCSP answers).
  std::string etag;           // "\"<sha256 hex>\""
  std::string last_modified;  // HTTP-date of issued()
  std::string expires;        // HTTP-date of hard_expiry

  // When the document was made: a CRL's thisUpdate; for caIssuers, the latest notBefore of
  // its certificates (the download cannot be older). Orders two downloads of one URL and
  // answers If-Modified-Since.
  int64_t issued() const { return kind == DocKind::Crl ? crl.this_update : ca_issuers.not_before; }
  size_t footprint() const {
    return sizeof(*this) + url.size() + bytes.size() + crl.revoked.footprint() +
           ca_issuers.subject.size();
  }
};

// Fills refresh_at, hard_expiry and the header values from the parsed document and its bytes:
// `e.bytes` must be set first (the ETag is their SHA-256, so two different CRLs never share
// one and a client's If-None-Match for an older CRL gets the newer one).
//   - a CRL is kept until its nextUpdate, or `ttl_s` (cache.no_next_update_ttl) after the
//     fetch without one; `refresh_fraction` of [thisUpdate, hard_expiry) passes before a
//     refresh (cache.refresh_percent);
//   - a caIssuers document is kept `ttl_s` (forward.aia_ttl) after the fetch, never past the
//     earliest notAfter of its certificates (a document holding an expired certificate is
//     served to the clients waiting for it but not kept); `refresh_fraction` of
//     [fetched_at, hard_expiry) passes before a refresh.
void finishCrlEntry(CrlEntry& e, int64_t ttl_s, double refresh_fraction);

class CrlStore {
 public:
  // `max_bytes` bounds the sum of CrlEntry::footprint(); 0 stores nothing.
  explicit CrlStore(size_t max_bytes) : max_bytes_(max_bytes) {}

  // The entry if present and `now` < hard_expiry; an expired one is removed.
  std::shared_ptr<const CrlEntry> get(const std::string& url, int64_t now);
  // Inserts or replaces; evicts least recently used CRLs until it fits. A CRL larger than
  // the whole bound is not stored. An evicted entry still before its hard_expiry when
  // `entry` was fetched (its fetched_at) counts in Stats::valid_evictions.
  void put(std::shared_ptr<const CrlEntry> entry);

  struct Stats {
    size_t entries = 0;
    size_t bytes = 0;
    uint64_t evictions = 0;
    uint64_t valid_evictions = 0;  // of those, entries still valid (put()): the bound bites
  };
  Stats stats() const;
  size_t maxBytes() const { return max_bytes_; }
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
  uint64_t valid_evictions_ = 0;
};

}  // namespace ocsp
