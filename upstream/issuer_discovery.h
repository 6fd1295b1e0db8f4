#pragma once
// Issuer discovery (docs/ARCHITECTURE.md §9): in local-responder mode, under
// responder.unknown_issuer: discover, a query whose issuer nobody configured or learned comes
// here with a Route marked `discover` (PolicySource), and the upstreams are asked which of
// them serves that issuer. Rules:
//   - the upstreams are asked in config order, at most kMaxParallel at once, each through the
//     next stage (UpstreamSource: the FQDN circuit breakers, failover, validation); an answer
//     counts only once the issuer is completed through AIA from it (allowed hosts only,
//     chained to forward.trust_store, upstream/aia_completer.h) and it validates fully;
//   - the first upstream whose answer validates wins: the completion learned the issuer for
//     that upstream (event=issuer_learned source=discovery), the client gets that answer,
//     routed as the learned issuer, and later queries route there directly. Answers still in
//     flight then are dropped; no upstream is asked after the winner answered;
//   - an upstream answering unauthorized, malformedRequest or sigRequired says "not my
//     issuer": an answer, not a failure (UpstreamSource keeps it off the circuit);
//   - if none validates: unauthorized when every upstream refused or its answer could not be
//     completed (category Unauthorized), else tryLater (some upstream failed:
//     UpstreamUnavailable), answered without a route (no upstream was chosen, like a
//     policy refusal). One line per discovery, event=issuer_discovery_failed;
//   - the failure is remembered per issuer (hash algorithm, name and key hash) in a memo
//     shared by all workers: kRememberRefusedS after unauthorized, kRememberFailedS after
//     failures; meanwhile a query for that issuer (any serial) gets the same answer at once,
//     asking nobody (counted as remembered);
//   - at most kMaxJobs discoveries run at once per worker: each costs every upstream a
//     question, and unknown issuers are the client's choice; past it, tryLater at once
//     (counted as busy);
//   - a lookup whose route is not `discover` goes to the next stage untouched.
// Outcomes are counted in ocsp_proxy_issuer_discovery_total{outcome}.
//
// Threading: DiscoverySource is one per worker, on its loop thread; the memo is shared and
// thread-safe. The next stage's replies come on the same thread, possibly from inside its
// lookup().
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/metrics.h"
#include "core/source.h"
#include "upstream/issuer_index.h"

namespace ocsp {

// Recent discovery failures by issuer. Thread-safe; bounded (cleared past kMaxEntries).
class DiscoveryMemo {
 public:
  static constexpr int64_t kRememberRefusedS = 60;
  static constexpr int64_t kRememberFailedS = 15;
  static constexpr size_t kMaxEntries = 10'000;

  // The remembered failure of this CertID's issuer, if it is still remembered at `now`.
  std::optional<Error> recall(const CertIdInfo& id, int64_t now) const;
  void remember(const CertIdInfo& id, const Error& failure, int64_t now);

 private:
  struct Entry {
    Error failure;
    int64_t until = 0;
  };
  static std::string keyOf(const CertIdInfo& id);
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

class DiscoverySource final : public Source {
 public:
  static constexpr size_t kMaxParallel = 4;
  static constexpr size_t kMaxJobs = 16;

  // What it reads of the config (derived in proxy/component_options.cc).
  struct Options {
    std::vector<std::string> upstream_names;  // upstreams[].name, by upstream index
  };

  // Everything referenced must outlive this object; `metrics` may be null.
  DiscoverySource(Options options, const IssuerIndex& index, DiscoveryMemo& memo,
                  const Clock& clock, Source& next, Metrics* metrics)
      : options_(std::move(options)), index_(index), memo_(memo), clock_(clock), next_(next),
        metrics_(metrics) {}

  void lookup(Lookup lookup, Reply done) override;

 private:
  struct Job;
  void launch(const std::shared_ptr<Job>& job);
  void onAnswer(const std::shared_ptr<Job>& job, Result<Answer> result);
  void settle(const std::shared_ptr<Job>& job);
  void count(const char* outcome);

  const Options options_;
  const IssuerIndex& index_;
  DiscoveryMemo& memo_;
  const Clock& clock_;
  Source& next_;
  Metrics* metrics_;
  size_t active_ = 0;  // discoveries in progress
};

}  // namespace ocsp
