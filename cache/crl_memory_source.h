#pragma once
// The CRL store as a stage (docs/ARCHITECTURE.md §8), in two halves around the coalescer:
//
// CrlMemorySource, the first stage, on the caller's (worker's) thread:
//   - a CRL held before its nextUpdate answers at once, before lookup() returns; never one
//     at or after nextUpdate (the store drops it);
//   - a hit past its refresh_at still answers, and the URL is reported as asked for
//     (`asked`), so the refresh timer fetches a newer one; a miss is reported too, then goes
//     to the next stage (the coalescer).
//
// CrlMemoryFill, right below the coalescer, on the CRL thread:
//   - what comes back from below is stored before the coalescer lets the URL go, so a lookup
//     after that finds it here or above instead of downloading it again;
//   - a lookup that missed above just before the previous download of its URL was stored
//     finds that CRL here and is answered without a download (not a refresh: a refresh is
//     asked to replace what is held).
// The store itself is thread-safe (cache/crl_store.h); both halves only hold references.
#include <functional>

#include "cache/crl_source.h"
#include "cache/crl_store.h"
#include "core/clock.h"

namespace ocsp {

class CrlMemorySource final : public CrlSource {
 public:
  // Called on the caller's thread for a miss and for a hit due for refresh; must be
  // thread-safe and cheap (it runs on the request path).
  using Asked = std::function<void(const HttpUrl& url)>;
  // `store`, `clock` and `next` must outlive this object.
  CrlMemorySource(CrlStore& store, const Clock& clock, Asked asked, CrlSource& next)
      : store_(store), clock_(clock), asked_(std::move(asked)), next_(next) {}

  void lookup(CrlQuery query, CrlReply done) override;

 private:
  CrlStore& store_;
  const Clock& clock_;
  Asked asked_;
  CrlSource& next_;
};

class CrlMemoryFill final : public CrlSource {
 public:
  // `store`, `clock` and `next` must outlive this object.
  CrlMemoryFill(CrlStore& store, const Clock& clock, CrlSource& next)
      : store_(store), clock_(clock), next_(next) {}

  void lookup(CrlQuery query, CrlReply done) override;

 private:
  CrlStore& store_;
  const Clock& clock_;
  CrlSource& next_;
};

}  // namespace ocsp
