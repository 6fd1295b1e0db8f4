#pragma once
// Refresh ahead for CRLs (docs/ARCHITECTURE.md §8): keeps the crl.urls and the CRLs clients
// use fresh, so that no client waits for a download of a CRL it had. Rules:
//   - warmUp() at start: every crl.urls entry is looked up at once (through Redis first, like
//     any miss), unless the store holds it before its refresh_at already (a reload);
//   - tick(), once a second on the CRL thread: a URL is tracked if it is in crl.urls or a
//     client asked for it (noteAsked: a miss, or a hit past refresh_at) since the last tick;
//     a tracked URL whose CRL is missing or past refresh_at is looked up again
//     (event=crl_refresh, debug) once its backoff allows (upstream/crl_backoff.h), as a
//     refresh (straight to the CA) when a CRL is held; clients keep the held one meanwhile;
//   - a URL nobody asked for since the last tick and not in crl.urls stops being tracked
//     once its retry time has passed (a client asking again brings it back), and its
//     backoff state goes with it;
//   - a URL already in flight is not looked up twice (CrlCoalescer::lead);
//   - a delta CRL that a stored complete CRL names (follow(), from upstream/crl_delta_follow.h)
//     is tracked while that complete CRL is held in the store and still names it in its
//     Freshest CRL (RFC 5280 §5.2.6), whether or not anyone asked for the delta: it is fetched
//     at once if not held fresh, then refreshed like any other URL on its own nextUpdate
//     (event=crl_delta_followed, info, when a complete CRL starts naming it).
// Threading: noteAsked() from any thread (one mutex); the rest on the CRL thread.
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/crl_coalescer.h"
#include "cache/crl_store.h"
#include "core/clock.h"
#include "upstream/crl_backoff.h"

namespace ocsp {

class CrlRefresher {
 public:
  // `warm`: the crl.urls. Everything referenced must outlive this object.
  CrlRefresher(const std::vector<HttpUrl>& warm, CrlStore& store, CrlBackoff& backoff,
               CrlCoalescer& chain, const Clock& clock);

  void noteAsked(const HttpUrl& url);
  // CRL thread: `delta` is the delta CRL of the complete CRL stored under `base_key`.
  void follow(const std::string& base_key, const HttpUrl& delta);
  void warmUp();
  void tick();

  size_t tracked() const { return tracked_.size(); }  // CRL thread

 private:
  struct Tracked {
    HttpUrl url;
    bool warm = false;  // from crl.urls: always kept fresh
    std::string base;   // a followed delta: the key of the complete CRL naming it
  };
  // The complete CRL stored under `base_key` still names the delta at `delta_key`.
  bool baseNames(const std::string& base_key, const std::string& delta_key, int64_t now);
  // False if `key` was in flight already.
  bool lookUp(const std::string& key, const HttpUrl& url, bool refresh);

  CrlStore& store_;
  CrlBackoff& backoff_;
  CrlCoalescer& chain_;
  const Clock& clock_;
  std::mutex mu_;                                     // guards asked_
  std::unordered_map<std::string, HttpUrl> asked_;    // since the last tick
  std::unordered_map<std::string, Tracked> tracked_;  // CRL thread only
};

}  // namespace ocsp
