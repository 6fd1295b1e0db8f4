#pragma once
// The values that flow through the request pipeline (docs/ARCHITECTURE.md §2, §3): what the client
// asked (OcspQuery), where it goes (Route), and what we answer with (OcspEntry, Answer).
#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/ossl.h"
#include "core/result.h"

namespace ocsp {

enum class CertStatus : uint8_t { Good, Revoked, Unknown };
const char* certStatusName(CertStatus s);

// One CertID as the client sent it. Bytes are raw (not hex). RFC 6960 §4.1.1.
struct CertIdInfo {
  int hash_nid = 0;               // NID of hashAlgorithm (NID_sha1, NID_sha256, ...)
  std::string issuer_name_hash;   // OCTET STRING contents
  std::string issuer_key_hash;    // OCTET STRING contents
  std::string serial;             // INTEGER contents (two's complement, as encoded)
  std::string der;                // DER of the whole CertID, to rebuild requests
};

// Extracts the fields of a CertID (RFC 6960 §4.1.1). False if it is not well formed.
bool certIdInfoFrom(const OCSP_CERTID* id, CertIdInfo* out);
// Same CertID: same hash algorithm, hashes, and serial number as an integer.
bool sameCertId(const CertIdInfo& a, const CertIdInfo& b);

// The request we send upstream under nonce policy `ignore`: these CertIDs, no nonce, no
// signature (RFC 5019 §2.1.1 profile). DER; empty on failure.
std::string encodeOcspRequest(const std::vector<CertIdInfo>& ids);

// Cache key: SHA-256 over the normalised CertID list (docs/ARCHITECTURE.md §3). A SHA-1 and a
// SHA-256 CertID for the same certificate are different keys.
using CacheKey = std::array<uint8_t, 32>;
CacheKey cacheKeyFor(const std::vector<CertIdInfo>& ids);
// Namespaced printable form: "ocsp:v1:<hex>".
std::string cacheKeyString(const CacheKey& key);
// The same, appended to `out` (no allocation once `out` has room).
void appendCacheKeyString(std::string& out, const CacheKey& key);

// noexcept and cheap: hash tables keyed by CacheKey then keep no copy of the hash per node.
struct CacheKeyHash {
  size_t operator()(const CacheKey& k) const noexcept {
    size_t h;
    static_assert(sizeof(h) <= sizeof(CacheKey));
    __builtin_memcpy(&h, k.data(), sizeof(h));
    return h;
  }
};

enum class Mode { Responder, Forward };

// An issuer the proxy knows, and the upstream that answers for it.
struct Route {
  size_t upstream_index = 0;
  std::string upstream_name;
  // Validates the upstream's answer (docs/ARCHITECTURE.md §7). Null only in forward mode for an
  // issuer nobody configured: UpstreamSource then completes it through AIA or applies
  // forward.unknown_issuer.
  SharedX509 issuer;
  std::string issuer_name;   // subject, for logs
  size_t first_fqdn = 0;     // the upstream FQDN tried first (forward mode: the URL's)
  std::string distrusted_as; // distrust[].name when the issuer's key is distrusted, else ""
};

struct OcspQuery {
  std::string request_der;          // exactly what the client sent
  std::vector<CertIdInfo> cert_ids; // at least one
  // id-pkix-ocsp-nonce extension value as X509_EXTENSION_get_data gives it (the DER of the
  // inner OCTET STRING, `04 len ...`), if the request had one (RFC 8954).
  std::optional<std::string> nonce;
  CacheKey key{};
  Mode mode = Mode::Responder;
  std::string client;               // "ip:port" for logs
  // Forward mode: the upstream the URL named (routed by its FQDN, docs/ARCHITECTURE.md §1).
  std::optional<size_t> forward_upstream;
  size_t forward_fqdn = 0;          // index into that upstream's fqdns
  // Set once by PolicySource, the first stage, before the query goes further down the chain;
  // read-only afterwards. `mutable` so that routing does not cost a copy of the query.
  mutable std::shared_ptr<const Route> route;
  // Nonce passthrough (docs/ARCHITECTURE.md §3): forward the client's DER as sent, answer uncached.
  mutable bool passthrough = false;
  // A background refresh (docs/ARCHITECTURE.md §4): shared caches below must not answer it with the
  // copy it is meant to replace; they still store the new answer.
  bool refresh = false;
};

struct Revocation {
  int64_t time = 0;
  int reason = -1;  // CRLReason, -1 when absent
};

// A validated upstream answer exactly as served. Immutable once built; shared by the cache
// and every in-flight reply.
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

struct OcspEntry;
// The immutable shared form of a built entry: the entry, its DER and the shared_ptr control
// block in one allocation. Every entry the caches hold goes through it.
std::shared_ptr<const OcspEntry> sealEntry(OcspEntry&& entry);

// The DER of a cache entry. While an entry is being built it either owns a heap copy or
// borrows the caller's bytes (borrow(): the upstream's body, a Redis reply), which must stay
// valid until sealEntry(); sealEntry() copies the bytes into the same block as the entry and
// its shared_ptr control block, so a cached answer is one allocation (README "Performance").
// Copying always makes an owned copy, so a copy never points into another entry's block.
class EntryDer {
 public:
  EntryDer() = default;
  EntryDer(const EntryDer& other) { assign(other.view()); }
  EntryDer(EntryDer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)),
        state_(std::exchange(other.state_, State::Empty)) {}
  EntryDer& operator=(const EntryDer& other) {
    if (this != &other) assign(other.view());
    return *this;
  }
  EntryDer& operator=(EntryDer&& other) noexcept;
  EntryDer& operator=(std::string_view bytes) {  // an owned copy
    assign(bytes);
    return *this;
  }
  ~EntryDer() { release(); }

  // Refers to `bytes` without a copy; they must outlive this object or its sealEntry().
  void borrow(std::string_view bytes);

  std::string_view view() const { return std::string_view(data_, size_); }
  operator std::string_view() const { return view(); }  // NOLINT: used as bytes
  const char* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // True once sealEntry() placed the bytes in the entry's own block.
  bool inline_with_entry() const { return state_ == State::Inline; }
  friend bool operator==(const EntryDer& a, std::string_view b) { return a.view() == b; }

 private:
  enum class State : uint8_t { Empty, Owned, Borrowed, Inline };
  friend std::shared_ptr<const OcspEntry> sealEntry(OcspEntry&& entry);
  void assign(std::string_view bytes);
  void release() noexcept;

  const char* data_ = nullptr;
  uint32_t size_ = 0;
  State state_ = State::Empty;
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
  InternedText upstream_fqdn;   // the FQDN that answered
  // Pre-rendered RFC 5019 §6.2 header values, computed once per entry, inline.
  FixedText<34> etag;          // "\"<32 hex>\""
  HttpDateText last_modified;  // HTTP-date of thisUpdate
  HttpDateText expires;        // HTTP-date of fresh_until
  CertStatus status = CertStatus::Good;  // of the first SingleResponse
  bool cacheable = true;       // false for nonce passthrough and unvalidated answers
  bool validated = true;       // false only under forward.unknown_issuer: pass

  size_t footprint() const;    // bytes this entry costs the memory cache
};
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

enum class AnswerSource { Memory, Redis, Upstream, Stale };
const char* answerSourceName(AnswerSource s);

struct Answer {
  std::shared_ptr<const OcspEntry> entry;
  AnswerSource source = AnswerSource::Upstream;
  // A coalesced waiter's copy of another lookup's answer: the leader's chain already stored
  // it (the in-process cache is shared), so stages must not store it again.
  bool coalesced = false;
};

// Called exactly once, on the worker thread that called lookup(). May be called before
// lookup() returns (synchronous hit). The callee may not assume the Source outlives the call.
using Reply = std::function<void(Result<Answer>)>;

// One stage of the request pipeline (docs/ARCHITECTURE.md §2). A stage that cannot answer calls the
// next; on the way back, stages store what passed validation.
class Source {
 public:
  virtual ~Source() = default;
  virtual void lookup(std::shared_ptr<const OcspQuery> query, Reply done) = 0;
};

}  // namespace ocsp
