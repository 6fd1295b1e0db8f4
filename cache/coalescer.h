#pragma once
// Request coalescing (docs/ARCHITECTURE.md §2): any number of concurrent lookups for one
// CertID key, on any worker, cause one lookup of the next stage (one upstream fetch). The
// first becomes the leader; the others wait for its result, so they share its timeout.
//
// Ordering that makes "one fetch" hold: the leader's own reply runs first (the stages above
// store the answer in the memory cache on the way up), then the key leaves the in-flight
// table and the waiters get the same result. A lookup that becomes leader after that finds
// the stored answer through `recheck` and does not fetch again.
//
// Threading: InflightTable is shared by all workers (one mutex). Each CoalescingSource
// belongs to one worker; a waiter's reply runs on its own worker's thread (via its Mailbox).
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cache/memory_cache.h"
#include "core/clock.h"
#include "core/mailbox.h"
#include "core/source.h"

namespace ocsp {

class InflightTable {
 public:
  struct Waiter {
    Mailbox* mailbox;  // the waiter's worker
    Lookup lookup;     // answered with its own lookup (its client and route)
    Reply done;
  };
  // True if nobody is looking `key` up: the caller becomes the leader, keeps its own reply
  // and must call finish() when done. Otherwise `waiter` is queued and false returned.
  bool join(const CacheKey& key, Waiter& waiter);
  // Removes the key and returns everyone who waited on it (not the leader).
  std::vector<Waiter> finish(const CacheKey& key);
  size_t inflight() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<CacheKey, std::vector<Waiter>, CacheKeyHash> waiting_;
};

class CoalescingSource final : public Source {
 public:
  // All references must outlive this object. `recheck` may be null (no memory cache).
  CoalescingSource(InflightTable& table, Mailbox& mailbox, MemoryCache* recheck,
                   const Clock& clock, Source& next)
      : table_(table), mailbox_(mailbox), recheck_(recheck), clock_(clock), next_(next) {}

  void lookup(Lookup lookup, Reply done) override;

 private:
  void deliver(const CacheKey& key, const Reply& leader, const Lookup& lookup,
               const Result<Answer>& result);

  InflightTable& table_;
  Mailbox& mailbox_;
  MemoryCache* recheck_;
  const Clock& clock_;
  Source& next_;
};

}  // namespace ocsp
