#pragma once
// A cached OCSP answer (docs/ARCHITECTURE.md §3, §4): the bytes exactly as the upstream sent
// them, the fields read from them once validated, and the pre-rendered RFC 5019 §6.2 header
// values; how it is sealed into one block, ordered against another answer for the same
// CertIDs, and given its freshness times.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/entry_der.h"

namespace ocsp {

enum class CertStatus : uint8_t { Good, Revoked, Unknown };
const char* certStatusName(CertStatus s);

struct Revocation {
  int64_t time = 0;
  int reason = -1;  // CRLReason, -1 when absent
};

// Short text of a known maximum length kept inline (no heap block per field): the
// pre-rendered header values of a cache entry. Longer input is cut at N.
template <size_t N>
class FixedText {
 public:
  FixedText& operator=(std::string_view s) {
    len_ = static_cast<uint8_t>(s.size() < N ? s.size() : N);
    std::memcpy(buf_, s.data(), len_);
    return *this;
  }
  std::string_view view() const { return std::string_view(buf_, len_); }
  operator std::string_view() const { return view(); }  // NOLINT: used as text
  size_t size() const { return len_; }
  friend bool operator==(const FixedText& a, std::string_view b) { return a.view() == b; }

 private:
  static_assert(N < 256);
  char buf_[N] = {};
  uint8_t len_ = 0;
};

// A short text that many entries repeat (the upstream FQDN that answered): one copy per
// distinct value for the whole process, and a pointer per entry. The pool is bounded
// (kMaxDistinct values; later new values all read "(other)"), since values read from Redis
// come from other instances. Thread-safe.
class InternedText {
 public:
  static constexpr size_t kMaxDistinct = 4096;
  InternedText() = default;
  InternedText& operator=(std::string_view s);
  std::string_view view() const { return text_ != nullptr ? *text_ : std::string_view(); }
  operator std::string_view() const { return view(); }  // NOLINT: used as text
  size_t size() const { return view().size(); }
  bool empty() const { return view().empty(); }
  void clear() { text_ = nullptr; }
  friend bool operator==(const InternedText& a, std::string_view b) { return a.view() == b; }

 private:
  const std::string* text_ = nullptr;
};

// An HTTP-date (RFC 9110 §5.6.7, always 29 characters) kept inline, or nothing.
class HttpDateText {
 public:
  static constexpr size_t kSize = 29;
  HttpDateText& operator=(std::string_view s);  // anything but 29 characters clears it
  std::string_view view() const { return buf_[0] != '\0' ? std::string_view(buf_, kSize) : ""; }
  operator std::string_view() const { return view(); }  // NOLINT: used as text
  size_t size() const { return view().size(); }
  friend bool operator==(const HttpDateText& a, std::string_view b) { return a.view() == b; }

 private:
  char buf_[kSize] = {};
};

// A validated upstream answer exactly as served. Immutable once built (sealEntry); shared by
// the caches and every in-flight reply.
struct OcspEntry {
  EntryDer der;                // byte-identical to what the upstream sent
  int64_t produced_at = 0;
  int64_t this_update = 0;
  int64_t next_update = 0;     // 0 when the response had none
  int64_t fetched_at = 0;
  int64_t fresh_until = 0;     // docs/ARCHITECTURE.md §4: min(nextUpdate, thisUpdate + max_age)
  int64_t refresh_at = 0;      // from here on a hit also fetches a newer answer (§4)
  int64_t hard_expiry = 0;     // never served at or after this (nextUpdate or no-nextUpdate ttl)
  std::optional<Revocation> revocation;
  InternedText upstream_fqdn;   // the FQDN that answered, or kCrlBridgeOrigin
  // Pre-rendered RFC 5019 §6.2 header values, computed once per entry, inline.
  FixedText<34> etag;          // "\"<32 hex>\""
  HttpDateText last_modified;  // HTTP-date of thisUpdate
  HttpDateText expires;        // HTTP-date of fresh_until
  CertStatus status = CertStatus::Good;  // of the first SingleResponse
  bool cacheable = true;       // false for nonce passthrough and unvalidated answers
  bool validated = true;       // false only under forward.unknown_issuer: pass

  size_t footprint() const;    // bytes this entry costs the memory cache
};
// The upstream_fqdn of an answer the CRL bridge built from a CRL and signed with the proxy's
// own responder key (docs/ARCHITECTURE.md §8), wherever it is served from later (the caches,
// Redis): not a host name, so it cannot be an upstream FQDN.
inline constexpr std::string_view kCrlBridgeOrigin = "crl-bridge";

// Every cached answer carries one: the small fields are packed after the header text.
static_assert(sizeof(OcspEntry) <= 200);

// Whether `offered` may replace `held`, an answer for the same CertIDs, in any cache. RFC
// 6960 gives answers no sequence number: thisUpdate, then producedAt, orders them. An older
// answer never replaces a newer one (a replayed answer, or a CDN edge serving an old one,
// must not undo a revocation); at equal times a revoked answer is kept over one that is not.
bool supersedes(const OcspEntry& offered, const OcspEntry& held);
// Logs what came of that rule for one key (event older_answer_refused or revocation_lifted,
// at warn): where the offered answer came from, which cache holds the other, what was done.
void logAnswerOrder(std::string_view event, std::string_view key, std::string_view from,
                    std::string_view store, const OcspEntry& offered, const OcspEntry& held,
                    std::string_view action);

// An answer that arrives already past its refresh point is not refreshed again sooner than
// this after its fetch (finishEntry), so that hits do not each start one.
inline constexpr int64_t kMinRefreshIntervalS = 60;

// Fills fresh_until/hard_expiry/refresh_at and the pre-rendered headers from the time fields
// (README "Keeping answers while parts fail"): hard_expiry is nextUpdate, or without one
// no_next_update_ttl_s after the answer's signed times; fresh_until caps it at thisUpdate +
// max_age_s; refresh_at is refresh_fraction into [thisUpdate, fresh_until), but no sooner than
// the fetch plus an interval (see kMinRefreshIntervalS).
struct FreshnessPolicy {
  int64_t max_age_s = 0;            // 0 = no cap beyond nextUpdate
  int64_t no_next_update_ttl_s = 300;
  double refresh_fraction = 0.5;    // refresh once this share of [thisUpdate, fresh_until) passed
};
// `der_sha256`: SHA-256 of e.der (32 raw bytes) when the caller has it already; else computed.
void finishEntry(OcspEntry& e, const FreshnessPolicy& policy, std::string_view der_sha256 = {});

}  // namespace ocsp
