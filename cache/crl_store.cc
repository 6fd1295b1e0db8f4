#include "cache/crl_store.h"

#include "core/log.h"
#include "core/ossl.h"

namespace ocsp {

const char* docKindName(DocKind kind) { return kind == DocKind::Crl ? "crl" : "ca_issuers"; }

std::string docEvent(DocKind kind, const char* what) {
  return std::string(docKindName(kind)) + "_" + what;
}

void finishCrlEntry(CrlEntry& e, int64_t ttl_s, double refresh_fraction) {
  int64_t start = e.fetched_at;
  if (e.kind == DocKind::Crl) {
    e.hard_expiry = e.crl.next_update != 0 ? e.crl.next_update : e.fetched_at + ttl_s;
    start = std::min(e.crl.this_update, e.fetched_at);
  } else {
    // A certificate is no use to a client past its notAfter: neither is our copy of it.
    e.hard_expiry = std::min(e.fetched_at + ttl_s, e.ca_issuers.not_after);
  }
  int64_t span = e.hard_expiry - start;
  e.refresh_at = start + static_cast<int64_t>(static_cast<double>(span) * refresh_fraction);
  if (e.refresh_at < e.fetched_at) e.refresh_at = e.fetched_at;
  e.etag = "\"" + toHex(sha256(e.bytes)) + "\"";
  e.last_modified = httpDate(e.issued());
  e.expires = httpDate(e.hard_expiry);
}

std::shared_ptr<const CrlEntry> CrlStore::get(const std::string& url, int64_t now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_url_.find(url);
  if (it == by_url_.end()) return nullptr;
  if (now >= (*it->second)->hard_expiry) {
    eraseLocked(it);  // docs/ARCHITECTURE.md §8: never serve past nextUpdate
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return *it->second;
}

void CrlStore::put(std::shared_ptr<const CrlEntry> entry) {
  size_t size = entry->footprint();
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = by_url_.find(entry->url); it != by_url_.end()) eraseLocked(it);
  if (size > max_bytes_) return;
  while (bytes_ + size > max_bytes_ && !lru_.empty()) {
    if (lru_.back()->hard_expiry > entry->fetched_at) ++valid_evictions_;
    eraseLocked(by_url_.find(lru_.back()->url));
    ++evictions_;
  }
  bytes_ += size;
  lru_.push_front(entry);
  by_url_[entry->url] = lru_.begin();
}

void CrlStore::eraseLocked(std::unordered_map<std::string, Lru::iterator>::iterator it) {
  bytes_ -= (*it->second)->footprint();
  lru_.erase(it->second);
  by_url_.erase(it);
}

CrlStore::Stats CrlStore::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return Stats{by_url_.size(), bytes_, evictions_, valid_evictions_};
}

std::vector<std::shared_ptr<const CrlEntry>> CrlStore::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {lru_.begin(), lru_.end()};
}

}  // namespace ocsp
