#include "upstream/aia_completer.h"

#include "core/log.h"
#include "pki/issuer_completion.h"

namespace ocsp {

namespace {
constexpr int64_t kRememberFailureS = 60;

std::string failureKey(const CertIdInfo& id, size_t upstream_index) {
  return id.issuer_key_hash + '/' + std::to_string(upstream_index);
}
}  // namespace

struct AiaCompleter::Job {
  CertIdInfo id;
  size_t upstream_index = 0;
  LearnedFrom from = LearnedFrom::Aia;
  Done done;
  std::vector<SharedX509> embedded;
  std::vector<HttpUrl> urls;  // allowed caIssuers URLs still to try
  size_t next = 0;
  std::string last_problem;
};

void AiaCompleter::complete(const std::string& response_der, const CertIdInfo& id,
                            size_t upstream_index, LearnedFrom from, Done done) {
  auto job = std::make_shared<Job>();
  job->id = id;
  job->upstream_index = upstream_index;
  job->from = from;
  job->done = std::move(done);
  if (trust_store_ == nullptr) {
    fail(*job, "no_trust_store", "forward.trust_store could not be loaded");
    return;
  }
  if (auto it = failed_until_.find(failureKey(id, upstream_index));
      it != failed_until_.end() && clock_.now() < it->second) {
    job->done(makeError(ErrorCategory::Unauthorized, "recently_failed",
                        "issuer completion failed less than a minute ago"));
    return;
  }
  job->embedded = embeddedResponderCerts(response_der);
  // A CA-signed answer may carry the CA certificate itself.
  auto direct = accept(*job, job->embedded);
  if (direct) {
    job->done(std::move(direct));
    return;
  }
  bool any_url = false;
  std::string refused;
  for (const SharedX509& cert : job->embedded) {
    for (const std::string& text : caIssuersUrls(cert.get())) {
      any_url = true;
      auto url = parseHttpUrl(text);
      if (url && allow_.aiaAllowed(*url)) {
        job->urls.push_back(*url);
      } else {
        refused = text;
      }
    }
  }
  if (job->urls.empty()) {
    if (any_url) {
      fail(*job, "aia_not_allowed", "caIssuers URL " + refused + " is not on an allowed host " +
                                        "(forward.aia_fqdns)");
    } else {
      fail(*job, "no_aia", "the answer carries no responder certificate with a caIssuers URL");
    }
    return;
  }
  fetchNext(std::move(job));
}

void AiaCompleter::fetchNext(std::shared_ptr<Job> job) {
  if (job->next >= job->urls.size()) {
    fail(*job, "aia_fetch_failed", job->last_problem);
    return;
  }
  const HttpUrl& url = job->urls[job->next++];
  FetchRequest req;
  req.url = url.text();
  req.timeout_ms = options_.fetch_timeout_ms;
  req.max_response_bytes = options_.max_bytes;
  pinAddress(req, options_.resolve, url.host, url.port);
  std::string where = req.url;
  fetcher_.fetch(std::move(req), [this, job, where](FetchResult result) {
    if (!result.ok() || result.too_large || result.http_status != 200) {
      job->last_problem = where + ": " +
                          (result.too_large     ? std::string("too large")
                           : !result.ok()       ? result.error
                                                : "HTTP status " + std::to_string(result.http_status));
      fetchNext(job);
      return;
    }
    auto certs = parseIssuerDownload(result.body);
    if (!certs) {
      job->last_problem = where + ": " + certs.error().detail;
      fetchNext(job);
      return;
    }
    auto route = accept(*job, *certs);
    if (!route) {
      if (route.error().reason == Reason::UntrustedChain) {
        fail(*job, "untrusted_chain", where + ": " + route.error().detail);
        return;
      }
      job->last_problem = where + ": " + route.error().detail;
      fetchNext(job);
      return;
    }
    job->done(std::move(route));
  });
}

// The certificate among `certs` that is the CertID's issuer and chains to the trust store.
Result<std::shared_ptr<const Route>> AiaCompleter::accept(Job& job,
                                                          const std::vector<SharedX509>& certs) {
  // Borrows its certificates: they stay owned by the SharedX509s.
  BorrowedX509StackPtr untrusted(sk_X509_new_null());
  for (const SharedX509& c : certs) sk_X509_push(untrusted.get(), c.get());
  for (const SharedX509& c : job.embedded) sk_X509_push(untrusted.get(), c.get());
  for (const SharedX509& cert : certs) {
    if (!matchesCertId(cert.get(), job.id)) continue;
    Status chain = verifyIssuerChain(cert.get(), trust_store_, untrusted.get(), clock_.now());
    if (!chain) {
      return makeError(ErrorCategory::Unauthorized, Reason::UntrustedChain,
                       chain.error().detail);
    }
    const std::string& upstream = options_.upstream_names.at(job.upstream_index);
    return index_.learn(cert, job.upstream_index, upstream, job.from, clock_.now());
  }
  return makeError(ErrorCategory::Unauthorized, "aia_no_issuer",
                   "no certificate here is the issuer the CertID names");
}

void AiaCompleter::fail(Job& job, const char* code, std::string detail) {
  failed_until_[failureKey(job.id, job.upstream_index)] = clock_.now() + kRememberFailureS;
  if (failed_until_.size() > 10'000) failed_until_.clear();  // bound memory under abuse
  logEvent(LogLevel::Warn, "issuer_completion_failed",
           {{"issuer_key_hash", toHex(job.id.issuer_key_hash)},
            {"upstream", options_.upstream_names.at(job.upstream_index)},
            {"reason", code},
            {"detail", detail}});
  job.done(makeError(ErrorCategory::Unauthorized, code, std::move(detail)));
}

}  // namespace ocsp
