#pragma once
// Requests already decoded on one worker, by their exact bytes (a POST body or a GET path):
// a repeated request (the common case: many clients asking about the same certificates)
// skips DER parsing and reuses the decoded query instead of building a new one (issue 7).
//
// Bounded: at most `capacity` requests; when full, CLOCK (second chance) picks the one to
// drop: a request asked for again since the hand last passed survives one more round. A
// working set smaller than the capacity is never evicted, whatever its order.
// Admission: a request is remembered from its second sighting on (a doorkeeper of 65,536
// 32-bit fingerprints in buckets of 8, 256 KiB), so requests that come once (a scan, a cache
// being filled) neither take memory nor push out the ones that repeat. Requests that share a
// bucket keep each other's first sighting (one slot per bucket was each hash's before: in a
// cyclic working set of 10,000, 14 % were never admitted).
//
// Sharing: take() hands out the remembered query itself when nothing else holds it (the
// previous request with these bytes is answered), with its per-request fields reset, and a
// copy when a lookup still in flight holds it. So a query is never changed under a lookup.
// Requests with a nonce are never remembered (each differs). Loop thread only.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/ocsp_types.h"

namespace ocsp {

class RequestMemo {
 public:
  static constexpr size_t kDefaultCapacity = 16'384;
  explicit RequestMemo(size_t capacity = kDefaultCapacity);

  // The query remembered for `request`, ready for a new lookup, or null.
  std::shared_ptr<OcspQuery> take(std::string_view request);
  // Remembers `query` as the decoding of `request` if these bytes were seen before (nothing
  // if it carries a nonce).
  void remember(std::string_view request, const std::shared_ptr<OcspQuery>& query);

  size_t size() const { return index_.size(); }
  size_t capacity() const { return capacity_; }

 private:
  struct Slot {
    std::string request;  // the key's bytes
    std::shared_ptr<OcspQuery> query;
    bool referenced = false;
  };
  size_t capacity_;
  std::vector<Slot> slots_;
  size_t hand_ = 0;
  std::unordered_map<std::string_view, size_t> index_;  // views into slots_[i].request
  static constexpr size_t kDoorkeeperSlots = 65'536;
  static constexpr size_t kDoorkeeperWays = 8;  // slots per bucket (32 bytes)
  std::vector<uint32_t> seen_;  // fingerprints of requests seen once, in buckets by hash
  size_t doorkeeper_turn_ = 0;  // the slot a full bucket gives up next
};

// Clears what one request set on a query (mode, client, forward target, routing, flags), so
// that it can carry another request with the same bytes.
void resetPerRequest(OcspQuery& query);

}  // namespace ocsp
