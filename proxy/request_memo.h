#pragma once
// Requests already decoded on one worker, by their exact bytes (a POST body or a GET path):
// a repeated request (the common case: many clients asking about the same certificates)
// skips DER parsing and reuses the decoded query instead of building a new one.
//
// Bounded in bytes and in entries: the remembered requests' bytes (the request, its decoded
// query with its copies of the DER, the table's overhead; see bytes()) never exceed
// `max_bytes`, and there are at most `capacity` of them. Requests longer than
// kMaxRememberedRequestBytes are never remembered: real OCSP requests are 70-120 bytes, a
// multi-CertID one a few hundred, and a client sending large distinct requests twice each
// must not grow the memo by their size (it would hold them for good). When a bound is
// reached, CLOCK (second chance) picks the request to drop: one asked for again since the
// hand last passed survives one more round. A working set within both bounds is never
// evicted, whatever its order.
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
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/source.h"

namespace ocsp {

class RequestMemo {
 public:
  static constexpr size_t kDefaultCapacity = 16'384;
  static constexpr size_t kDefaultMaxBytes = 8u << 20;  // cache.request_memo_bytes / 2
  static constexpr size_t kMaxRememberedRequestBytes = 1024;
  explicit RequestMemo(size_t capacity = kDefaultCapacity, size_t max_bytes = kDefaultMaxBytes);
  ~RequestMemo();
  RequestMemo(const RequestMemo&) = delete;
  RequestMemo& operator=(const RequestMemo&) = delete;

  // The query remembered for `request`, ready for a new lookup, or null.
  std::shared_ptr<OcspQuery> take(std::string_view request);
  // Remembers `query` as the decoding of `request` if these bytes were seen before (nothing
  // if it carries a nonce).
  void remember(std::string_view request, const std::shared_ptr<OcspQuery>& query);

  size_t size() const { return index_.size(); }
  size_t capacity() const { return capacity_; }
  // What the remembered requests hold (the sum that `max_bytes` bounds): their bytes, their
  // queries (counted by what they allocated) and a fixed overhead per entry for the table.
  size_t bytes() const { return bytes_; }
  // bytes() of every memo in the process plus their doorkeepers' fixed 256 KiB each: the
  // ocsp_proxy_cache_bytes{cache="request_memo"} gauge. Any thread.
  static size_t processBytes() { return process_bytes_.load(std::memory_order_relaxed); }

 private:
  struct Slot {
    std::string request;  // the key's bytes
    std::shared_ptr<OcspQuery> query;  // null: the slot is free
    size_t bytes = 0;                  // its share of bytes_
    bool referenced = false;
  };
  // Drops the request the CLOCK hand picks and returns its (now free) slot. Needs one.
  size_t evictOne();
  void drop(size_t at);
  void account(size_t add, size_t remove);

  size_t capacity_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  std::deque<Slot> slots_;    // a deque: growing it moves no Slot (index_ views their bytes)
  std::vector<size_t> free_;  // slots emptied to make room in bytes
  size_t hand_ = 0;
  static std::atomic<size_t> process_bytes_;
  std::unordered_map<std::string_view, size_t> index_;  // views into slots_[i].request
  static constexpr size_t kDoorkeeperSlots = 65'536;
  static constexpr size_t kDoorkeeperWays = 8;  // slots per bucket (32 bytes)
  std::vector<uint32_t> seen_;  // fingerprints of requests seen once, in buckets by hash
  size_t doorkeeper_turn_ = 0;  // the slot a full bucket gives up next
};

// Clears what one request set on a query (mode, client, forward target), so
// that it can carry another request with the same bytes.
void resetPerRequest(OcspQuery& query);

}  // namespace ocsp
