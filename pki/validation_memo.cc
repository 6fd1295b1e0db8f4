#include "pki/validation_memo.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <utility>

#include "core/ossl.h"

namespace ocsp {
namespace {

constexpr size_t kMaxShards = 16;
// A small memo stays one shard, so that CLOCK sees all of it.
constexpr size_t kMinShardEntries = 1'024;

// Writes a key's fields into one byte stream, each with its length or fixed size so that no
// two different inputs give the same stream. The stream is hashed in one call: a call to
// EVP_DigestUpdate per field cost more than the hashing itself (a Redis hit hashes a key).
class KeyWriter {
 public:
  explicit KeyWriter(std::string& out) : out_(out) { out_.clear(); }
  void bytes(std::string_view b) {
    number(b.size());
    out_.append(b);
  }
  void number(uint64_t n) {
    char be[8];
    for (int i = 7; i >= 0; --i, n >>= 8) be[i] = static_cast<char>(n & 0xff);
    out_.append(be, sizeof(be));
  }

 private:
  std::string& out_;
};

// SHA-256 fingerprint of an issuer (or local responder) certificate. The few a thread meets are
// remembered with a reference held, so that a remembered address cannot be reused by another
// certificate while it is remembered.
bool certFingerprint(X509* cert, const EVP_MD* md, unsigned char out[32]) {
  struct Known {
    X509* cert = nullptr;
    unsigned char fingerprint[32] = {};
  };
  struct Remembered {
    std::array<Known, 4> known;
    size_t next = 0;
    ~Remembered() {
      for (Known& k : known) X509_free(k.cert);
    }
  };
  thread_local Remembered remembered;
  for (const Known& k : remembered.known) {
    if (k.cert == cert) {
      std::memcpy(out, k.fingerprint, 32);
      return true;
    }
  }
  unsigned int len = 0;
  if (X509_digest(cert, md, out, &len) != 1 || len != 32) return false;
  Known& slot = remembered.known[remembered.next];
  remembered.next = (remembered.next + 1) % remembered.known.size();
  X509_free(slot.cert);
  X509_up_ref(cert);
  slot.cert = cert;
  std::memcpy(slot.fingerprint, out, 32);
  return true;
}

// The memo key of `in` (see the header), or false if OpenSSL could not compute it.
bool keyOf(const ValidationInput& in, std::array<unsigned char, 32>* key) {
  ErrorQueueGuard clear_errors;  // a failure here only means "validate in full"
  const EVP_MD* md = sha256Md();
  if (md == nullptr) return false;
  unsigned char issuer_fingerprint[32];
  size_t fingerprint_len = 0;
  if (!in.without_issuer) {
    if (!certFingerprint(in.issuer, md, issuer_fingerprint)) return false;
    fingerprint_len = sizeof(issuer_fingerprint);
  }
  unsigned char local_fingerprint[32];
  size_t local_len = 0;
  if (in.local_responder != nullptr) {
    if (!certFingerprint(in.local_responder, md, local_fingerprint)) return false;
    local_len = sizeof(local_fingerprint);
  }
  Sha256Digest der_digest;
  std::string_view der_sha256 = in.der_sha256;
  if (der_sha256.size() != 32) {
    der_digest = sha256Digest(in.der);
    der_sha256 = asBytes(der_digest);
  }
  thread_local std::string stream;  // keeps its room: no allocation per key
  KeyWriter w(stream);
  w.bytes(der_sha256);  // the DER, through its SHA-256
  w.number(in.without_issuer ? 1 : 0);
  w.bytes(std::string_view(reinterpret_cast<const char*>(issuer_fingerprint), fingerprint_len));
  w.bytes(std::string_view(reinterpret_cast<const char*>(local_fingerprint), local_len));
  w.number(static_cast<uint64_t>(in.clock_skew_s));
  // The fields sameCertId compares (validator.cc matches with it); `der` may differ for the
  // same CertID and changes nothing.
  w.number(in.cert_ids->size());
  for (const CertIdInfo& id : *in.cert_ids) {
    w.number(static_cast<uint64_t>(id.hash_nid));
    w.bytes(id.issuer_name_hash);
    w.bytes(id.issuer_key_hash);
    w.bytes(id.serial);
  }
  *key = sha256Digest(stream);
  return true;
}

}  // namespace

size_t ValidationMemo::KeyHash::operator()(const Key& k) const {
  size_t h;
  static_assert(sizeof(h) <= sizeof(Key));
  std::memcpy(&h, k.data(), sizeof(h));
  return h;
}

ValidationMemo::ValidationMemo(size_t capacity) {
  const size_t shards = std::clamp<size_t>(capacity / kMinShardEntries, 1, kMaxShards);
  shard_capacity_ = capacity / shards;
  for (size_t i = 0; i < shards; ++i) {
    shards_.push_back(std::make_unique<Shard>());
    // Reserved up front: the index never rehashes on the request path.
    shards_.back()->index.reserve(shard_capacity_);
  }
}

// The key's last byte picks the shard; KeyHash uses its first bytes within the shard.
ValidationMemo::Shard& ValidationMemo::shardFor(const Key& key) {
  return *shards_[key.back() % shards_.size()];
}

Result<ValidatedResponse> ValidationMemo::validate(const ValidationInput& in) {
  Key key;
  if (in.expected_nonce || (in.issuer == nullptr && !in.without_issuer) || in.cert_ids == nullptr ||
      in.cert_ids->empty() || shard_capacity_ == 0 || !keyOf(in, &key)) {
    ++skipped_;
    return validateResponse(in);
  }
  if (auto remembered = find(key)) {
    ++hits_;
    Status times = recheckTimes(*remembered, in.now, in.clock_skew_s);
    if (!times.ok()) return times.error();
    return std::move(*remembered);
  }
  ++misses_;
  auto validated = validateResponse(in);
  if (validated.ok()) store(key, *validated);
  return validated;
}

std::optional<ValidatedResponse> ValidationMemo::find(const Key& key) {
  Shard& shard = shardFor(key);
  std::lock_guard lock(shard.mu);
  auto it = shard.index.find(key);
  if (it == shard.index.end()) return std::nullopt;
  Slot& slot = shard.slots[it->second];
  slot.referenced = true;
  return slot.value;
}

void ValidationMemo::store(const Key& key, const ValidatedResponse& value) {
  Shard& shard = shardFor(key);
  std::lock_guard lock(shard.mu);
  auto it = shard.index.find(key);
  if (it != shard.index.end()) {  // another thread validated it meanwhile
    shard.slots[it->second].value = value;
    return;
  }
  if (shard.slots.size() < shard_capacity_) {
    shard.index.emplace(key, shard.slots.size());
    shard.slots.push_back(Slot{key, value, false});
    return;
  }
  // CLOCK: pass over referenced entries once, clearing their mark; take the first unmarked.
  while (shard.slots[shard.hand].referenced) {
    shard.slots[shard.hand].referenced = false;
    shard.hand = (shard.hand + 1) % shard.slots.size();
  }
  Slot& victim = shard.slots[shard.hand];
  shard.index.erase(victim.key);
  ++evictions_;
  victim = Slot{key, value, false};
  shard.index.emplace(key, shard.hand);
  shard.hand = (shard.hand + 1) % shard.slots.size();
}

ValidationMemo::Stats ValidationMemo::stats() const {
  Stats s;
  s.hits = hits_;
  s.misses = misses_;
  s.skipped = skipped_;
  s.evictions = evictions_;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mu);
    s.size += shard->index.size();
  }
  return s;
}

ValidationMemo& sharedValidationMemo() {
  static ValidationMemo* const memo = new ValidationMemo();
  return *memo;
}

}  // namespace ocsp
