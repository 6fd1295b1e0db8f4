#include "upstream/crl_fetch_source.h"

#include <algorithm>

#include "core/log.h"

namespace ocsp {

namespace {
constexpr int64_t kCrlFetchTimeoutFloorMs = 30'000;  // a 64 MiB download needs time

void countFetch(Metrics* metrics, const char* result) {
  if (metrics != nullptr) metrics->counter(Metric::CrlFetches, {result}).inc();
}
}  // namespace

void CrlFetchSource::lookup(CrlQuery query, CrlReply done) {
  FetchRequest req;
  req.url = query.key;
  req.timeout_ms = std::max(limits_.timeout_ms, kCrlFetchTimeoutFloorMs);
  req.max_response_bytes = limits_.max_bytes;
  pinAddress(req, limits_.resolve, query.url.host, query.url.port);
  fetcher_.fetch(std::move(req), [this, query = std::move(query),
                                  done = std::move(done)](FetchResult result) mutable {
    onDownload(std::move(query), std::move(result), std::move(done));
  });
}

void CrlFetchSource::onDownload(CrlQuery query, FetchResult result, CrlReply done) {
  const LogLevel failure_level = query.quiet ? LogLevel::Debug : LogLevel::Warn;
  std::string problem;
  std::string code = "fetch_failed";
  if (result.too_large) {
    code = "too_large";
    problem = "CRL larger than crl.max_bytes (" + std::to_string(limits_.max_bytes) + " bytes)";
  } else if (!result.ok()) {
    problem = result.error;
  } else if (result.http_status != 200) {
    code = "upstream_status";
    problem = "HTTP status " + std::to_string(result.http_status);
  }
  if (!problem.empty()) {
    logEvent(failure_level, code == "too_large" ? "crl_invalid" : "crl_fetch_failed",
             {{"url", query.key},
              {"reason", code},
              {"detail", problem},
              {"elapsed_ms", std::to_string(result.elapsed_ms)}});
    countFetch(metrics_, code == "too_large" ? "invalid" : "failed");
    done(makeError(ErrorCategory::UpstreamUnavailable, code, problem));
    return;
  }
  if (query.downloaded) query.downloaded(result.body.size());
  parser_.parse(
      query.key, std::move(result.body),
      [url = query.key, failure_level, metrics = metrics_,
       done = std::move(done)](Result<std::shared_ptr<const CrlEntry>> entry) {
        countFetch(metrics, entry ? "ok" : "invalid");
        if (entry) {
          logCrlFetched(**entry, "upstream");
        } else {
          logEvent(
              failure_level, "crl_invalid",
              {{"url", url}, {"reason", entry.error().code}, {"detail", entry.error().detail}});
        }
        done(std::move(entry));
      });
}

}  // namespace ocsp
