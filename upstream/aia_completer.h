#pragma once
// Completes an unknown issuer in forward mode (docs/ARCHITECTURE.md §9): the upstream's answer is
// signed by a responder whose issuer nobody configured. Rules:
//   - an embedded certificate that is itself the issuer the CertID names is used directly;
//   - otherwise the caIssuers URLs (AIA, RFC 5280 §4.2.2.1) of the embedded responder
//     certificates are fetched in order, only from allow-listed hosts (AllowList::aiaAllowed),
//     size-capped at forward.aia_max_bytes (256 KiB by default);
//   - a downloaded certificate is accepted only if it is the issuer the CertID names (name
//     and key hash, RFC 6960 §4.1.1) and chains to forward.trust_store at the current time;
//   - an accepted issuer is learned into the IssuerIndex (event=issuer_learned, once), so later
//     requests route and validate like configured ones;
//   - a failure is remembered per issuer and upstream for 60 s (no AIA fetch storm for a CA
//     that has none; responder-mode discovery asks several upstreams about one issuer, and
//     one upstream's unusable answer says nothing about another's).
// The caller then validates the answer with the returned issuer as usual.
//
// Threading: one per worker; complete() and its callback run on the worker's loop thread.
// The callback is never called from inside complete() for a fetch, but may be for an
// embedded issuer or a remembered failure.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "conf/config.h"
#include "core/clock.h"
#include "core/source.h"
#include "upstream/allow_list.h"
#include "upstream/fetcher.h"
#include "upstream/issuer_index.h"

namespace ocsp {

class AiaCompleter {
 public:
  using Done = std::function<void(Result<std::shared_ptr<const Route>>)>;

  // What it reads of the config (derived in proxy/component_options.cc).
  struct Options {
    std::vector<std::string> upstream_names;     // upstreams[].name, by upstream index
    std::map<std::string, std::string> resolve;  // resolve: FQDN -> IP literal
    int64_t fetch_timeout_ms = 0;                // limits.upstream_timeout, per download
    size_t max_bytes = 256u << 10;               // forward.aia_max_bytes, per download
  };

  // Everything referenced must outlive this object. `trust_store` may be null (then no
  // issuer can be completed).
  AiaCompleter(Options options, const AllowList& allow, X509_STORE* trust_store,
               IssuerIndex& index, Fetcher& fetcher, const Clock& clock)
      : options_(std::move(options)), allow_(allow), trust_store_(trust_store), index_(index),
        fetcher_(fetcher), clock_(clock) {}

  // `response_der`: the upstream's answer; `id`: the first requested CertID; the learned
  // issuer is answered for by `upstream_index`, and learned as `from` (Aia or Discovery).
  // Errors (category Unauthorized):
  // "no_trust_store", "no_aia", "aia_not_allowed", "aia_fetch_failed", "aia_no_issuer"
  // (nothing downloaded is the CertID's issuer), "untrusted_chain", "recently_failed".
  void complete(const std::string& response_der, const CertIdInfo& id, size_t upstream_index,
                LearnedFrom from, Done done);

 private:
  struct Job;
  void fetchNext(std::shared_ptr<Job> job);
  Result<std::shared_ptr<const Route>> accept(Job& job, const std::vector<SharedX509>& certs);
  void fail(Job& job, const char* code, std::string detail);

  const Options options_;
  const AllowList& allow_;
  X509_STORE* trust_store_;
  IssuerIndex& index_;
  Fetcher& fetcher_;
  const Clock& clock_;
  // issuerKeyHash and upstream index -> retry time
  std::unordered_map<std::string, int64_t> failed_until_;
};

}  // namespace ocsp
