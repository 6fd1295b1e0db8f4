#include "core/ocsp_entry.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <new>
#include <set>
#include <stdexcept>

#include "core/entry_arena.h"
#include "core/log.h"
#include "core/ossl.h"

namespace ocsp {

const char* certStatusName(CertStatus s) {
  switch (s) {
    case CertStatus::Good: return "good";
    case CertStatus::Revoked: return "revoked";
    case CertStatus::Unknown: return "unknown";
  }
  return "unknown";
}

InternedText& InternedText::operator=(std::string_view s) {
  if (s.empty()) {
    text_ = nullptr;
    return *this;
  }
  // Most values repeat the one before (one upstream answers most requests): no lock then.
  // Safe because pooled strings are never freed.
  thread_local const std::string* last = nullptr;
  if (last != nullptr && *last == s) {
    text_ = last;
    return *this;
  }
  static std::mutex mu;
  // Never freed: entries anywhere may point into it.
  static auto* pool = new std::set<std::string, std::less<>>();
  std::lock_guard<std::mutex> lock(mu);
  auto it = pool->find(s);
  if (it == pool->end()) {
    it = pool->size() < kMaxDistinct ? pool->emplace(s).first : pool->emplace("(other)").first;
  }
  text_ = last = &*it;
  return *this;
}

HttpDateText& HttpDateText::operator=(std::string_view s) {
  if (s.size() == kSize && s[0] != '\0') {
    std::memcpy(buf_, s.data(), kSize);
  } else {
    buf_[0] = '\0';
  }
  return *this;
}

namespace {
// allocate_shared's one allocation, made larger by the size sealEntry() asks for, from the
// entry arena (core/entry_arena.h: long-lived blocks apart from per-request ones); the extra
// bytes follow the control block (which ends with the entry). Stateless, so the control block
// stores nothing for it; the request passes through thread-local state because allocate_shared
// allocates exactly once, on the calling thread, before it returns.
thread_local size_t t_trailing_wanted = 0;
thread_local char* t_trailing = nullptr;

template <class T>
struct TrailingAllocator {
  using value_type = T;
  TrailingAllocator() = default;
  template <class U>
  TrailingAllocator(const TrailingAllocator<U>& /*other*/) noexcept {}  // NOLINT: rebinding
  T* allocate(size_t n) {
    const size_t base = n * sizeof(T);
    const size_t extra = std::exchange(t_trailing_wanted, 0);
    static_assert(alignof(T) <= 8, "the entry arena aligns blocks to 8 bytes");
    char* block = static_cast<char*>(entry_arena::allocate(base + extra));
    t_trailing = block + base;
    return reinterpret_cast<T*>(block);
  }
  void deallocate(T* p, size_t /*n*/) noexcept { entry_arena::deallocate(p); }
  template <class U>
  bool operator==(const TrailingAllocator<U>& /*other*/) const noexcept { return true; }
};
}  // namespace

std::shared_ptr<const OcspEntry> sealEntry(OcspEntry&& entry) {
  // Before sealing the DER is in one part; a copy of a sealed entry owns contiguous bytes.
  std::string joined;
  std::string_view whole = entry.der.prefix();
  if (!entry.der.contiguous()) {
    joined = entry.der.bytes();
    whole = joined;
  }
  size_t suffix_size = 0;
  const EntryDer::Shared* shared = EntryDer::shareSuffix(whole, &suffix_size);
  const size_t prefix_size = whole.size() - suffix_size;
  const size_t extra = whole.empty() ? 0 : EntryDer::blockBytes(prefix_size, shared);
  std::shared_ptr<OcspEntry> sealed;
  t_trailing_wanted = extra;
  try {
    sealed = std::allocate_shared<OcspEntry>(TrailingAllocator<OcspEntry>(), std::move(entry));
  } catch (...) {
    t_trailing_wanted = 0;
    EntryDer::unshare(shared);
    throw;
  }
  char* bytes = std::exchange(t_trailing, nullptr);
  // The moved-into entry's DER still refers to the same bytes (owned or borrowed), which
  // `whole` views; placeInline() copies them before letting them go.
  if (extra > 0) sealed->der.placeInline(bytes, whole, prefix_size, shared);
  return sealed;
}

size_t OcspEntry::footprint() const {
  // The DER dominates; headers and bookkeeping are counted so the byte bound is honest. A
  // sealed entry is one block of the entry arena: control block (16 bytes), entry, DER, and
  // the arena's 8-byte prefix and rounding to 16 (16 on average; the cache adds its own
  // allowance for the rest); an entry still being built has its DER apart.
  // A suffix shared with other entries (core/entry_der.h) is charged in full to each of them:
  // the byte bound stays an upper bound of what the entries cost, whatever they share.
  const size_t block = 16 + sizeof(OcspEntry) + 16;
  return block + der.size() + (der.inline_with_entry() || der.empty() ? 0 : 16);
  // (A borrowed DER is counted as if owned: footprint() is asked of sealed entries.)
}

bool supersedes(const OcspEntry& offered, const OcspEntry& held) {
  if (offered.this_update != held.this_update) return offered.this_update > held.this_update;
  if (offered.produced_at != held.produced_at) return offered.produced_at > held.produced_at;
  return offered.status == CertStatus::Revoked || held.status != CertStatus::Revoked;
}

void logAnswerOrder(std::string_view event, std::string_view key, std::string_view from,
                    std::string_view store, const OcspEntry& offered, const OcspEntry& held,
                    std::string_view action) {
  logEvent(LogLevel::Warn, event,
           {{"key", key},
            {"from", from},
            {"store", store},
            {"upstream_fqdn", offered.upstream_fqdn},
            {"offered_this_update", rfc3339(offered.this_update)},
            {"offered_status", certStatusName(offered.status)},
            {"held_this_update", rfc3339(held.this_update)},
            {"held_status", certStatusName(held.status)},
            {"action", action}});
}

void finishEntry(OcspEntry& e, const FreshnessPolicy& policy, std::string_view der_sha256) {
  // Written in place: a Redis hit builds these for every answer.
  Sha256Digest computed;
  if (der_sha256.size() != 32) {
    computed = e.der.contiguous() ? sha256Digest(e.der.prefix()) : sha256Digest(e.der.bytes());
    der_sha256 = asBytes(computed);
  }
  // docs/ARCHITECTURE.md §4: without nextUpdate the answer is kept only briefly. The period is
  // counted from the answer's own signed times (the later of thisUpdate and producedAt), never from
  // fetched_at alone: a fetch time is not signed, and one read from a shared store could
  // otherwise keep an answer alive for as long as its writer liked. A fetch earlier than the
  // signed times (a responder clock ahead of ours) counts from the fetch.
  if (e.next_update != 0) {
    e.hard_expiry = e.next_update;
  } else {
    const int64_t signed_at = std::max(e.this_update, e.produced_at);
    e.hard_expiry = std::min(signed_at, e.fetched_at) + policy.no_next_update_ttl_s;
  }
  e.fresh_until = e.hard_expiry;
  if (policy.max_age_s > 0 && e.this_update + policy.max_age_s < e.fresh_until) {
    e.fresh_until = e.this_update + policy.max_age_s;
  }
  e.refresh_at = e.this_update + static_cast<int64_t>(
                                     static_cast<double>(e.fresh_until - e.this_update) *
                                     policy.refresh_fraction);
  // An answer already past its refresh point when fetched (CDNs sign answers hours ahead of
  // serving them) would otherwise start a refresh on every hit. It is refreshed no sooner
  // than the same share of what is left of its freshness after the fetch (at most
  // kMinRefreshIntervalS), plus up to a tenth of that, spread by the answer's own hash so that
  // answers fetched together are not refreshed together. An answer fetched at its thisUpdate
  // keeps its refresh point.
  const int64_t left = std::max<int64_t>(0, e.fresh_until - e.fetched_at);
  const int64_t interval = std::min(
      kMinRefreshIntervalS,
      static_cast<int64_t>(static_cast<double>(left) * policy.refresh_fraction));
  if (e.refresh_at < e.fetched_at + interval) {
    const int64_t jitter = interval / 10 * static_cast<unsigned char>(der_sha256[0]) / 255;
    e.refresh_at = e.fetched_at + interval + jitter;
  }
  char etag[34];  // '"', the first 16 bytes in hex, '"'
  etag[0] = '"';
  hexInto(der_sha256.substr(0, 16), etag + 1);
  etag[33] = '"';
  e.etag = std::string_view(etag, sizeof(etag));
  char date[HttpDateText::kSize];
  e.last_modified = httpDateInto(e.this_update, date) ? std::string_view(date, sizeof(date)) : "";
  e.expires = httpDateInto(e.fresh_until, date) ? std::string_view(date, sizeof(date)) : "";
}

}  // namespace ocsp
