#include "upstream/crl_fetch_source.h"

#include <algorithm>

#include "core/log.h"

namespace ocsp {

namespace {
constexpr int64_t kCrlFetchTimeoutFloorMs = 30'000;  // a 64 MiB download needs time

void countFetch(Metrics* metrics, DocKind kind, const char* result) {
  if (metrics == nullptr) return;
  metrics->counter(kind == DocKind::Crl ? Metric::CrlFetches : Metric::CaIssuersFetches, {result})
      .inc();
}

// A client can name URLs that fail: a budget of lines per event and kind (core/log.h).
LogRateLimit g_failed_log[2];
LogRateLimit g_invalid_log[2];

void logFailure(LogLevel level, DocKind kind, bool invalid,
                std::initializer_list<LogField> fields) {
  LogRateLimit& budget = (invalid ? g_invalid_log : g_failed_log)[static_cast<int>(kind)];
  logEventLimited(budget, level, docEvent(kind, invalid ? "invalid" : "fetch_failed"), fields);
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
  const DocKind kind = parser_.kind();
  std::string problem;
  std::string code = "fetch_failed";
  if (result.too_large) {
    code = "too_large";
    problem = std::string(kind == DocKind::Crl ? "CRL larger than crl.max_bytes ("
                                               : "caIssuers download larger than "
                                                 "forward.aia_max_bytes (") +
              std::to_string(limits_.max_bytes) + " bytes)";
  } else if (!result.ok()) {
    problem = result.error;
  } else if (result.http_status != 200) {
    code = "upstream_status";
    problem = "HTTP status " + std::to_string(result.http_status);
  }
  if (!problem.empty()) {
    logFailure(failure_level, kind, code == "too_large",
               {{"url", query.key},
                {"reason", code},
                {"detail", problem},
                {"elapsed_ms", std::to_string(result.elapsed_ms)}});
    countFetch(metrics_, kind, code == "too_large" ? "invalid" : "failed");
    done(makeError(ErrorCategory::UpstreamUnavailable, code, problem));
    return;
  }
  if (query.downloaded) query.downloaded(result.body.size());
  parser_.parse(
      query.key, std::move(result.body),
      [url = query.key, failure_level, kind, metrics = metrics_,
       done = std::move(done)](Result<std::shared_ptr<const CrlEntry>> entry) {
        countFetch(metrics, kind, entry ? "ok" : "invalid");
        if (entry) {
          logCrlFetched(**entry, "upstream");
        } else {
          logFailure(
              failure_level, kind, true,
              {{"url", url}, {"reason", entry.error().code}, {"detail", entry.error().detail}});
        }
        done(std::move(entry));
      });
}

}  // namespace ocsp
