#pragma once
// Backoff bookkeeping of CRL URLs (docs/ARCHITECTURE.md §8), as a stage on the CRL thread
// between the store and the bounds: it sees the outcome of every lookup that went below the
// store, whoever asked (a client, the issuer watch, the refresh timer). Rules:
//   - a failed lookup (download failed, invalid CRL, Redis and upstream alike) makes the URL
//     wait before the refresh timer fetches it again: 30 s after the first failure, doubling
//     with each failure in a row, at most 10 min. A client's own miss is not held back: the
//     timer only (upstream/crl_refresher.h) reads retryAt();
//   - logged once per change of state: event=crl_backoff (warn) when a URL starts failing
//     (ca_issuers_backoff in the caIssuers service: each event is named by the kind; at most
//     10 such warnings a second, core/log.h LogRateLimit, as a client can name failing URLs),
//     event=crl_recovered (info) when it succeeds again; while it keeps failing, each new
//     retry time is debug, and so are the failure lines of the stages below (it marks the
//     query `quiet`): a client can make a failing URL be fetched again and again;
//   - a lookup that brings back no newer document than the one stored (same or older
//     CrlEntry::issued(): thisUpdate, or the certificates' latest notBefore)
//     means the CA has not published yet: the timer waits an eighth of the time left to the
//     CRL's hard expiry, from 30 s up to an hour, before asking again.
// Threading: CRL thread only.
#include <cstdint>
#include <string>
#include <unordered_map>

#include "cache/crl_source.h"
#include "cache/crl_store.h"
#include "core/clock.h"

namespace ocsp {

class CrlBackoff final : public CrlSource {
 public:
  // `store` (read for the CRL held before this lookup), `clock` and `next` must outlive it.
  CrlBackoff(CrlStore& store, const Clock& clock, CrlSource& next, DocKind kind = DocKind::Crl)
      : store_(store), clock_(clock), next_(next), kind_(kind) {}

  void lookup(CrlQuery query, CrlReply done) override;

  // When the refresh timer may fetch `url` again (0: at once).
  int64_t retryAt(const std::string& url) const;
  // Drops what is known of `url` (the timer stopped tracking it).
  void forget(const std::string& url) { state_.erase(url); }

 private:
  struct State {
    int failures = 0;      // failed lookups in a row
    int64_t retry_at = 0;  // no timer fetch before
  };
  void noteOutcome(const std::string& url, bool ok);
  void noteUnchanged(const CrlEntry& entry);

  CrlStore& store_;
  const Clock& clock_;
  CrlSource& next_;
  const DocKind kind_;  // names the log events
  std::unordered_map<std::string, State> state_;
};

}  // namespace ocsp
