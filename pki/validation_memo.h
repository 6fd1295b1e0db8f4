#pragma once
// Remembers successful validations (pki/validator.h) so that the same response bytes,
// checked again for the same question, cost a hash instead of a parse and a signature check.
// Redis hands the same DER to every instance and worker again and again (cache/redis_source.h
// re-validates every value it reads); a memo hit redoes only the checks that depend on `now`
// (recheckTimes: the delegated responder's validity, thisUpdate, nextUpdate), so its answer,
// error code included, is the one validateResponse would give at that `now`.
//
// Key: SHA-256 over the DER's SHA-256 (ValidationInput::der_sha256 when the caller has it),
// the issuer certificate's SHA-256 fingerprint (never its bare pointer: a freed X509's address
// is reused; each thread remembers the fingerprints of its last 4 issuers while holding a
// reference to them), the local responder's fingerprint when one is given (an answer accepted
// because one responder signed it is never a hit for another, nor for none), every requested
// CertID's fields in order, without_issuer and clock_skew_s. Never looked up nor stored: inputs with expected_nonce (a
// nonce answer is single-use) and inputs validateResponse refuses as a caller bug. Only
// successes are stored: a failure is judged again each time.
//
// Bounds: at most `capacity` entries (about 210 bytes each: 65,536 take about 14 MB), split
// evenly over up to 16 shards of at least 1,024 entries, each with its own mutex; a full
// shard evicts by CLOCK (second chance: an entry hit since the hand last passed survives one
// more round; a new entry starts unmarked). Capacity 0 disables the memo: every call
// validates.
//
// Thread-safety: every method may be called from any thread. validateResponse runs outside
// the locks; two threads missing on the same key both validate and the later store wins.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "pki/validator.h"

namespace ocsp {

class ValidationMemo {
 public:
  static constexpr size_t kDefaultCapacity = 65'536;

  explicit ValidationMemo(size_t capacity = kDefaultCapacity);
  ValidationMemo(const ValidationMemo&) = delete;
  ValidationMemo& operator=(const ValidationMemo&) = delete;

  // validateResponse(in), answered from the memo when this DER was accepted before for the
  // same issuer, local responder, CertIDs, without_issuer and skew.
  Result<ValidatedResponse> validate(const ValidationInput& in);

  struct Stats {
    uint64_t hits = 0;       // answered from the memo (time checks redone, maybe failing)
    uint64_t misses = 0;     // not in the memo: validated in full (stored if accepted)
    uint64_t skipped = 0;    // never memoised: nonce, or no issuer / no CertIDs (caller bug)
    uint64_t evictions = 0;  // entries dropped to make room
    size_t size = 0;         // entries held now
  };
  Stats stats() const;
  // The bound on size (the constructor's capacity, rounded down to a multiple of the shards).
  size_t capacity() const { return shard_capacity_ * shards_.size(); }

 private:
  using Key = std::array<unsigned char, 32>;  // SHA-256, see the header comment
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  struct Slot {
    Key key{};
    ValidatedResponse value;
    bool referenced = false;  // hit since the CLOCK hand last passed
  };
  struct Shard {
    mutable std::mutex mu;
    std::vector<Slot> slots;                         // grows to shard_capacity_, then reused
    std::unordered_map<Key, size_t, KeyHash> index;  // key -> position in slots
    size_t hand = 0;                                 // CLOCK hand: next eviction candidate
  };

  Shard& shardFor(const Key& key);
  std::optional<ValidatedResponse> find(const Key& key);  // marks the entry referenced
  void store(const Key& key, const ValidatedResponse& value);

  size_t shard_capacity_ = 0;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
  std::atomic<uint64_t> skipped_{0};
  std::atomic<uint64_t> evictions_{0};
};

// The memo every RedisSource of the process shares by default (kDefaultCapacity entries).
// Created on first use and never destroyed, so that no worker thread can outlive it.
ValidationMemo& sharedValidationMemo();

}  // namespace ocsp
