#include "proxy/request_memo.h"

#include <functional>

namespace ocsp {

RequestMemo::RequestMemo(size_t capacity) : capacity_(capacity) {
  slots_.reserve(capacity_);
  index_.reserve(capacity_);
}

void resetPerRequest(OcspQuery& query) {
  query.mode = Mode::Responder;
  query.client.clear();
  query.forward_upstream.reset();
  query.forward_fqdn = 0;
  query.route.reset();
  query.passthrough = false;
  query.refresh = false;
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

void RequestMemo::remember(std::string_view request, const std::shared_ptr<OcspQuery>& query) {
  if (capacity_ == 0 || query->nonce || index_.count(request) != 0) return;
  // The doorkeeper: the first sighting only leaves a fingerprint in one of the 8 slots of the
  // request's bucket; the second finds it there, frees the slot and admits. A full bucket
  // gives up its slots in turn, so requests that share a bucket and alternate (a cyclic
  // working set) do not wipe each other's first sighting forever. A fingerprint collision
  // admits early: harmless.
  if (seen_.empty()) seen_.resize(kDoorkeeperSlots);
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
  size_t at;
  if (slots_.size() < capacity_) {
    at = slots_.size();
    slots_.emplace_back();
  } else {
    while (slots_[hand_].referenced) {
      slots_[hand_].referenced = false;
      hand_ = (hand_ + 1) % capacity_;
    }
    at = hand_;
    hand_ = (hand_ + 1) % capacity_;
    index_.erase(slots_[at].request);
  }
  Slot& slot = slots_[at];
  slot.request.assign(request);
  slot.query = query;
  slot.referenced = false;
  index_.emplace(slot.request, at);
}

}  // namespace ocsp
