#pragma once
// The bounds on CRL fetches (docs/ARCHITECTURE.md §8), as a stage on the CRL thread above
// Redis and the download: a CRL may be 64 MiB and take seconds to parse, so what is fetched
// and parsed at once is bounded in number and in memory. Rules:
//   - at most `max_concurrent` lookups run below (Redis or upstream, then the parse), and
//     together they hold at most `max_inflight_bytes`: a lookup reserves `max_bytes` when it
//     starts and, once its CRL is downloaded (CrlQuery::downloaded), keeps the CRL's own
//     size until its parse is done;
//   - a lookup beyond either bound waits in a queue, oldest first, and starts as soon as the
//     bounds allow (a download finishing or shrinking its reservation). event=crl_fetch_queued
//     (info) once each time the queue stops being empty, with what runs and is reserved.
// Threading: CRL thread only.
#include <cstddef>
#include <deque>
#include <string>
#include <unordered_map>

#include "cache/crl_source.h"

namespace ocsp {

class CrlFetchQueue final : public CrlSource {
 public:
  struct Limits {
    size_t max_concurrent = 4;               // crl.max_concurrent_fetches
    size_t max_inflight_bytes = 128u << 20;  // crl.max_inflight_bytes
    size_t max_bytes = 64u << 20;            // crl.max_bytes: reserved until the size is known
  };
  // `next` must outlive this object.
  CrlFetchQueue(Limits limits, CrlSource& next) : limits_(limits), next_(next) {}

  void lookup(CrlQuery query, CrlReply done) override;

  size_t running() const { return running_.size(); }
  size_t queued() const { return queued_.size(); }
  size_t reservedBytes() const { return reserved_bytes_; }

 private:
  struct Waiting {
    CrlQuery query;
    CrlReply done;
  };
  bool fits() const;
  void start(CrlQuery query, CrlReply done);
  void startQueued();
  void reserve(const std::string& url, size_t bytes);  // replaces the URL's reservation
  void release(const std::string& url);

  const Limits limits_;
  CrlSource& next_;
  std::unordered_map<std::string, size_t> running_;  // URL -> bytes reserved
  size_t reserved_bytes_ = 0;
  std::deque<Waiting> queued_;
};

}  // namespace ocsp
