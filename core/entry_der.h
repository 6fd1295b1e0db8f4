#pragma once
// The DER of a cache entry (core/ocsp_entry.h) and the process-wide pool of trailing bytes
// that many entries repeat.
//
// Most answers are signed by a delegated responder and carry its certificate last:
// OCSPResponse = SEQUENCE { responseStatus, [0] EXPLICIT SEQUENCE { responseType, OCTET STRING
// { BasicOCSPResponse } } }, and BasicOCSPResponse = SEQUENCE { tbsResponseData,
// signatureAlgorithm, signature, [0] EXPLICIT certs OPTIONAL }. So `certs` is the end of the
// whole DER, and every answer of one responder ends with the same ~1 KB. sealEntry() keeps
// the bytes before it in the entry's own block and the `certs` element once per process,
// shared and counted (docs/ARCHITECTURE.md §3). The two parts concatenated are the bytes the
// upstream sent, exactly: the reply writes them one after the other.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace ocsp {

struct OcspEntry;
// The immutable shared form of a built entry: the entry, its DER and the shared_ptr control
// block in one allocation. Every entry the caches hold goes through it.
std::shared_ptr<const OcspEntry> sealEntry(OcspEntry&& entry);

// The size of the `certs` element that ends `der` when `der` is an OCSPResponse whose
// BasicOCSPResponse has one and every length on the way down parses and ends exactly where it
// must; 0 otherwise (such DER is kept whole, never refused).
size_t trailingCertsSize(std::string_view der);

// The pool of shared trailing bytes. Bounded (kMaxValues distinct values, kMaxBytes in all),
// since answers read from Redis come from other instances: past the bound new values stay in
// the entry's own block, as when they are not shared at all. A value is freed with the last
// entry that uses it. Thread-safe.
namespace shared_der {
constexpr size_t kMaxValues = 4096;
constexpr size_t kMaxBytes = size_t{8} << 20;
// Trailing parts shorter than this stay inline: the pointer and pool entry would cost more
// than the bytes.
constexpr size_t kMinShared = 128;
struct Value;  // one shared value and its count of users (core/entry_der.cc)
struct Stats {
  size_t values = 0;  // distinct values held
  size_t bytes = 0;   // their bytes
  size_t users = 0;   // entries pointing to them
};
Stats stats();
}  // namespace shared_der

// The DER of a cache entry. While an entry is being built it either owns a heap copy or
// borrows the caller's bytes (borrow(): the upstream's body, a Redis reply), which must stay
// valid until sealEntry(); sealEntry() copies the bytes into the same block as the entry and
// its shared_ptr control block, so a cached answer is one allocation (README "Performance"),
// except that a trailing `certs` element is taken from the shared pool instead (see above).
// Copying always makes an owned contiguous copy, so a copy never points into another entry's
// block or the pool.
//
// There is no implicit view of the bytes: a sealed DER may be in two parts. prefix() and
// suffix() give the parts without a copy (the reply path); bytes() and appendTo() the whole.
class EntryDer {
 public:
  EntryDer() = default;
  EntryDer(const EntryDer& other) { assign(other.bytes()); }
  EntryDer(EntryDer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)),
        state_(std::exchange(other.state_, State::Empty)) {}
  EntryDer& operator=(const EntryDer& other) {
    if (this != &other) assign(other.bytes());
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

  // The bytes held with the entry (all of them unless sealEntry() shared a suffix), and the
  // shared suffix (empty when none): prefix() + suffix() is the DER.
  std::string_view prefix() const { return std::string_view(data_, size_); }
  std::string_view suffix() const;
  // The whole DER, copied.
  std::string bytes() const;
  void appendTo(std::string& out) const;
  // The whole DER without a copy, when it is in one part (always, before sealEntry()).
  bool contiguous() const { return state_ != State::InlineShared; }
  // The whole DER without a copy, for bytes in one part (decoded or being built); throws
  // std::logic_error for a split one.
  std::string_view whole() const;
  size_t size() const { return size_ + suffix().size(); }
  bool empty() const { return size_ == 0 && state_ != State::InlineShared; }
  // True once sealEntry() placed the bytes in the entry's own block (a suffix maybe shared).
  bool inline_with_entry() const {
    return state_ == State::Inline || state_ == State::InlineShared;
  }
  bool shares_suffix() const { return state_ == State::InlineShared; }
  friend bool operator==(const EntryDer& a, std::string_view b);
  friend bool operator==(const EntryDer& a, const EntryDer& b) { return a == std::string_view(b.bytes()); }

 private:
  // InlineShared: the prefix is in the entry's block, preceded there by the pool value's
  // address (kept out of the entry itself so that an entry without one is no larger).
  enum class State : uint8_t { Empty, Owned, Borrowed, Inline, InlineShared };
  using Shared = shared_der::Value;
  friend std::shared_ptr<const OcspEntry> sealEntry(OcspEntry&& entry);
  void assign(std::string_view bytes);
  void release() noexcept;
  const Shared* shared() const;
  // For sealEntry(): the pool value for the end of these bytes (counted as used), or null
  // when they are kept whole; how many bytes it covers; the bytes the entry's block needs.
  static const Shared* shareSuffix(std::string_view whole, size_t* suffix_size);
  static void unshare(const Shared* s) noexcept;
  static size_t blockBytes(size_t prefix_size, const Shared* s) {
    return prefix_size + (s != nullptr ? sizeof(s) : 0);
  }
  // Takes the bytes into `block` (blockBytes() long): the first `prefix_size` of `whole`,
  // and `s` (whose use it takes over) for the rest.
  void placeInline(char* block, std::string_view whole, size_t prefix_size, const Shared* s);

  const char* data_ = nullptr;
  uint32_t size_ = 0;  // of the prefix
  State state_ = State::Empty;
};

}  // namespace ocsp
