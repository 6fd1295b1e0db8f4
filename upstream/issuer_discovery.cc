#include "upstream/issuer_discovery.h"

#include "core/log.h"

namespace ocsp {

namespace {
// Unknown issuers are what a client chooses: a global budget of lines (core/log.h).
LogRateLimit g_discovery_failed_log;
}  // namespace

std::string DiscoveryMemo::keyOf(const CertIdInfo& id) {
  // The name hash and key hash are fixed-size digests of one algorithm, so the concatenation
  // after the NID is unambiguous.
  return std::to_string(id.hash_nid) + ':' + id.issuer_name_hash + id.issuer_key_hash;
}

std::optional<Error> DiscoveryMemo::recall(const CertIdInfo& id, int64_t now) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(keyOf(id));
  if (it == entries_.end() || now >= it->second.until) return std::nullopt;
  return it->second.failure;
}

void DiscoveryMemo::remember(const CertIdInfo& id, const Error& failure, int64_t now) {
  const int64_t for_s =
      failure.category == ErrorCategory::Unauthorized ? kRememberRefusedS : kRememberFailedS;
  std::lock_guard lock(mu_);
  if (entries_.size() >= kMaxEntries) entries_.clear();  // bound memory under abuse
  entries_[keyOf(id)] = Entry{failure, now + for_s};
}

struct DiscoverySource::Job {
  Lookup lookup;
  Reply done;
  size_t next = 0;        // next upstream to ask
  size_t in_flight = 0;
  bool launching = false;  // inside launch(): replies from inside next_.lookup() wait for it
  bool finished = false;   // the client has its answer
  size_t failed = 0;       // upstreams that failed (not a refusal)
  std::string last_problem;
};

void DiscoverySource::count(const char* outcome) {
  if (metrics_ != nullptr) metrics_->counter(Metric::IssuerDiscovery, {outcome}).inc();
}

void DiscoverySource::lookup(Lookup lookup, Reply done) {
  if (!lookup.route->discover) {
    next_.lookup(std::move(lookup), std::move(done));
    return;
  }
  const CertIdInfo& id = lookup.query->cert_ids.front();
  // Another query of this issuer may have won meanwhile: route like it.
  if (auto learned = index_.find(id)) {
    lookup.route = std::move(learned);
    next_.lookup(std::move(lookup), std::move(done));
    return;
  }
  if (auto remembered = memo_.recall(id, clock_.now())) {
    count("remembered");
    lookup.route = nullptr;  // no upstream was chosen
    done(lookup, std::move(*remembered));
    return;
  }
  if (active_ >= kMaxJobs) {
    count("busy");
    lookup.route = nullptr;
    done(lookup, makeError(ErrorCategory::UpstreamUnavailable, "discovery_busy",
                           "too many issuer discoveries in progress on this worker"));
    return;
  }
  ++active_;
  auto job = std::make_shared<Job>();
  job->lookup = std::move(lookup);
  job->done = std::move(done);
  launch(job);
}

void DiscoverySource::launch(const std::shared_ptr<Job>& job) {
  job->launching = true;
  const size_t upstreams = options_.upstream_names.size();
  while (!job->finished && job->in_flight < kMaxParallel && job->next < upstreams) {
    const size_t index = job->next++;
    auto route = std::make_shared<Route>(*job->lookup.route);
    route->upstream_index = index;
    route->upstream_name = options_.upstream_names[index];
    route->first_fqdn = 0;
    Lookup attempt = job->lookup;
    attempt.route = std::move(route);
    ++job->in_flight;
    next_.lookup(std::move(attempt), [this, job](const Lookup&, Result<Answer> result) {
      onAnswer(job, std::move(result));
    });
  }
  job->launching = false;
  settle(job);
}

void DiscoverySource::onAnswer(const std::shared_ptr<Job>& job, Result<Answer> result) {
  --job->in_flight;
  if (job->finished) return;  // another upstream won
  if (result) {
    job->finished = true;
    --active_;
    const CertIdInfo& id = job->lookup.query->cert_ids.front();
    // The completion learned the issuer for this upstream (or an earlier winner's route).
    if (auto learned = index_.find(id)) job->lookup.route = std::move(learned);
    count("learned");
    job->done(job->lookup, std::move(result));
    return;
  }
  const Error& err = result.error();
  if (err.category != ErrorCategory::Unauthorized &&
      err.category != ErrorCategory::MalformedRequest &&
      err.category != ErrorCategory::SigRequired) {
    ++job->failed;
  }
  job->last_problem = err.code + ": " + err.detail;
  if (!job->launching) launch(job);
}

// Once every upstream was asked and answered without a winner: the failure, remembered.
void DiscoverySource::settle(const std::shared_ptr<Job>& job) {
  if (job->finished || job->in_flight > 0 || job->next < options_.upstream_names.size()) return;
  job->finished = true;
  --active_;
  const CertIdInfo& id = job->lookup.query->cert_ids.front();
  const bool failed = job->failed > 0;
  Error failure =
      failed ? makeError(ErrorCategory::UpstreamUnavailable, "discovery_failed",
                         std::to_string(job->failed) + " upstream(s) failed; last: " +
                             job->last_problem)
             : makeError(ErrorCategory::Unauthorized, "unknown_issuer",
                         "no upstream serves issuerKeyHash " + toHex(id.issuer_key_hash));
  memo_.remember(id, failure, clock_.now());
  count(failed ? "failed" : "unauthorized");
  logEventLimited(g_discovery_failed_log, LogLevel::Warn, "issuer_discovery_failed",
           {{"issuer_key_hash", toHex(id.issuer_key_hash)},
            {"hash", OBJ_nid2sn(id.hash_nid)},
            {"upstreams", std::to_string(options_.upstream_names.size())},
            {"failed", std::to_string(job->failed)},
            {"answer", failed ? "try_later" : "unauthorized"},
            {"last", job->last_problem}});
  job->lookup.route = nullptr;  // no upstream was chosen
  job->done(job->lookup, std::move(failure));
}

}  // namespace ocsp
