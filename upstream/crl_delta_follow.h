#pragma once
// Delta CRLs kept warm (docs/ARCHITECTURE.md §8), as a stage on the CRL thread right below the
// coalescer: a complete CRL that names a delta CRL in its Freshest CRL extension (RFC 5280
// §5.2.6) has that delta fetched too, without any client asking for it, so that whoever uses
// the complete CRL (a forward client, the CRL bridge) finds the delta held as well. Rules:
//   - what comes back from below (stored already by the fill stage) is looked at: a complete
//     CRL (not a delta, kind Crl) names its delta by followedDeltaUrl() below;
//   - that URL goes to the refresher (CrlRefresher::follow, upstream/crl_refresher.h), after
//     the reply has gone up (posted on the CRL thread): it is fetched through the whole chain
//     like any CRL URL (coalescing, bounds, backoff, Redis copy, validation) and refreshed on
//     its own nextUpdate while the complete CRL is held and names it;
//   - a Freshest CRL URL on a host the allow-list does not allow for CRLs (or not an http URL
//     we can fetch) is not fetched: event=crl_delta_not_allowed (warn) once per URL (the
//     first 1024 URLs; at most 10 lines a second, core/log.h LogRateLimit), with the complete
//     CRL's URL;
//   - the reply itself is passed up unchanged: the CRL's bytes are served as they came.
// Threading: CRL thread only (followedDeltaUrl: any thread, if `allowed` is thread-safe).
#include <functional>
#include <optional>
#include <string>
#include <unordered_set>

#include "cache/crl_source.h"
#include "core/mailbox.h"
#include "core/url.h"
#include "upstream/crl_refresher.h"

namespace ocsp {

// Whether the service may fetch a CRL from `url` (the forward allow-list's CRL hosts,
// upstream/allow_list.h). Called from any thread.
using CrlUrlAllowed = std::function<bool(const HttpUrl& url)>;

// The delta CRL of `base` that the service follows: the first Freshest CRL URL (the URIs of
// one distribution point name the same CRL, RFC 5280 §4.2.1.13) that parses as an http URL
// and `allowed` accepts. nullopt for a delta CRL, a caIssuers document, a CRL without Freshest
// CRL, or when `allowed` is empty or accepts none; `refused` (may be null) gets the URLs
// passed over.
std::optional<HttpUrl> followedDeltaUrl(const CrlEntry& base, const CrlUrlAllowed& allowed,
                                        std::vector<std::string>* refused = nullptr);

class CrlDeltaFollow final : public CrlSource {
 public:
  // `crl_thread`, `refresher` and `next` must outlive this object.
  CrlDeltaFollow(CrlUrlAllowed allowed, Mailbox& crl_thread, CrlRefresher& refresher,
                 CrlSource& next)
      : allowed_(std::move(allowed)), crl_thread_(crl_thread), refresher_(refresher), next_(next) {}

  void lookup(CrlQuery query, CrlReply done) override;

 private:
  void noteStored(const CrlEntry& entry);

  const CrlUrlAllowed allowed_;
  Mailbox& crl_thread_;
  CrlRefresher& refresher_;
  CrlSource& next_;
  std::unordered_set<std::string> warned_;  // URLs refused and logged
};

}  // namespace ocsp
