#include "proxy/request_memo.h"

#include <functional>

namespace ocsp {

namespace {

// A remembered request's memory: its key, its query with the query's own heap blocks (the
// DER again, the CertIDs), the shared_ptr control block, and the hash table's node and bucket.
constexpr size_t kEntryOverheadBytes = 64;

size_t queryBytes(const OcspQuery& q) {
  size_t n = sizeof(OcspQuery) + 16 + q.request_der.capacity() + q.client.capacity() +
             q.client_address.capacity() +
             q.cert_ids.capacity() * sizeof(CertIdInfo);
  for (const CertIdInfo& id : q.cert_ids) {
    n += id.issuer_name_hash.capacity() + id.issuer_key_hash.capacity() + id.serial.capacity() +
         id.der.capacity();
  }
  return n;
}

}  // namespace

std::atomic<size_t> RequestMemo::process_bytes_{0};

RequestMemo::RequestMemo(size_t capacity, size_t max_bytes)
    : capacity_(capacity), max_bytes_(max_bytes) {}

RequestMemo::~RequestMemo() {
  process_bytes_.fetch_sub(bytes_ + seen_.size() * sizeof(uint32_t), std::memory_order_relaxed);
}

void RequestMemo::account(size_t add, size_t remove) {
  bytes_ = bytes_ + add - remove;
  process_bytes_.fetch_add(add, std::memory_order_relaxed);
  process_bytes_.fetch_sub(remove, std::memory_order_relaxed);
}

void resetPerRequest(OcspQuery& query) {
  query.mode = Mode::Responder;
  query.client.clear();
  query.client_address.clear();
  query.forward_upstream.reset();
  query.forward_fqdn = 0;
}

std::shared_ptr<OcspQuery> RequestMemo::take(std::string_view request) {
  auto it = index_.find(request);
  if (it == index_.end()) return nullptr;
  Slot& slot = slots_[it->second];
  slot.referenced = true;
  // Held by the slot alone: the last request with these bytes is done with it.
  std::shared_ptr<OcspQuery> query = slot.query.use_count() == 1
                                         ? slot.query
                                         : std::make_shared<OcspQuery>(*slot.query);
  resetPerRequest(*query);
  return query;
}

void RequestMemo::drop(size_t at) {
  Slot& slot = slots_[at];
  index_.erase(slot.request);
  account(0, slot.bytes + slot.request.size());
  std::string().swap(slot.request);  // its block goes, not only its length
  slot.query.reset();
  slot.bytes = 0;
  slot.referenced = false;
}

size_t RequestMemo::evictOne() {
  for (;;) {
    const size_t at = hand_;
    hand_ = (hand_ + 1) % slots_.size();
    Slot& slot = slots_[at];
    if (!slot.query) continue;
    if (slot.referenced) {
      slot.referenced = false;
      continue;
    }
    drop(at);
    return at;
  }
}

void RequestMemo::remember(std::string_view request, const std::shared_ptr<OcspQuery>& query) {
  if (capacity_ == 0 || max_bytes_ == 0 || query->nonce ||
      request.size() > kMaxRememberedRequestBytes || index_.count(request) != 0) {
    return;
  }
  // The doorkeeper: the first sighting only leaves a fingerprint in one of the 8 slots of the
  // request's bucket; the second finds it there, frees the slot and admits. A full bucket
  // gives up its slots in turn, so requests that share a bucket and alternate (a cyclic
  // working set) do not wipe each other's first sighting forever. A fingerprint collision
  // admits early: harmless.
  if (seen_.empty()) {
    seen_.resize(kDoorkeeperSlots);
    // Fixed: reported with the memos, not part of the bound.
    process_bytes_.fetch_add(seen_.size() * sizeof(uint32_t), std::memory_order_relaxed);
  }
  const size_t h = std::hash<std::string_view>{}(request);
  const uint32_t fingerprint = static_cast<uint32_t>(h >> 32) | 1;  // never 0 (empty slot)
  uint32_t* bucket = &seen_[h % (kDoorkeeperSlots / kDoorkeeperWays) * kDoorkeeperWays];
  uint32_t* empty = nullptr;
  bool second_sighting = false;
  for (size_t i = 0; i < kDoorkeeperWays && !second_sighting; ++i) {
    if (bucket[i] == fingerprint) {
      bucket[i] = 0;
      second_sighting = true;
    } else if (bucket[i] == 0 && empty == nullptr) {
      empty = &bucket[i];
    }
  }
  if (!second_sighting) {
    if (empty == nullptr) {
      empty = &bucket[doorkeeper_turn_];
      doorkeeper_turn_ = (doorkeeper_turn_ + 1) % kDoorkeeperWays;
    }
    *empty = fingerprint;
    return;
  }
  // Counted with the request's own bytes (drop() subtracts them): the key is what varies.
  const size_t entry_bytes = sizeof(Slot) + kEntryOverheadBytes + queryBytes(*query);
  if (entry_bytes + request.size() > max_bytes_) return;
  while (bytes_ + entry_bytes + request.size() > max_bytes_) free_.push_back(evictOne());
  size_t at;
  if (!free_.empty()) {
    at = free_.back();
    free_.pop_back();
  } else if (slots_.size() < capacity_) {
    at = slots_.size();
    slots_.emplace_back();
  } else {
    at = evictOne();
  }
  Slot& slot = slots_[at];
  slot.request.assign(request);
  slot.query = query;
  slot.bytes = entry_bytes;
  slot.referenced = false;
  account(entry_bytes + request.size(), 0);
  index_.emplace(slot.request, at);
}

}  // namespace ocsp
