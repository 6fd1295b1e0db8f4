#pragma once
// The last CRL stage (docs/ARCHITECTURE.md §8): downloads a CRL from its URL through a
// Fetcher (upstream/fetcher.h; CurlFetcher in the server) and has it parsed and validated on
// the parser thread (cache/crl_parser.h). Rules:
//   - the URL was allow-listed by the caller (upstream/allow_list.h); its host is pinned to
//     the address `resolve` gives it, if any;
//   - no redirect is followed (upstream/curl_fetcher.h): it would reach a host nobody allowed;
//   - the whole download may take the larger of limits.upstream_timeout and 30 s (a 64 MiB
//     CRL needs time), and at most Limits::max_bytes (crl.max_bytes, forward.aia_max_bytes):
//     a larger body is refused while it streams (event=crl_invalid reason=too_large);
//   - a transfer that fails or a status other than 200 is event=crl_fetch_failed, with
//     reason fetch_failed or upstream_status; the bytes of a document that parses badly are
//     dropped (event=crl_invalid reason=<the validation code>); neither is retried here:
//     the waiting clients get the error (UpstreamUnavailable, or the validation error);
//   - failure lines are warnings, debug while the URL keeps failing (CrlQuery::quiet), and at
//     most 10 a second per event (core/log.h LogRateLimit): a client can name failing URLs;
//   - every download is counted in ocsp_proxy_crl_fetches_total{result}: ok (accepted),
//     invalid (crl_invalid) or failed (crl_fetch_failed);
//   - a downloaded document's size is reported (CrlQuery::downloaded) before it is parsed;
//     an accepted one is event=crl_fetched source=upstream.
// For caIssuers documents (the parser's kind, cache/crl_parser.h) the events are
// ca_issuers_invalid, ca_issuers_fetch_failed and ca_issuers_fetched, and the counter
// ocsp_proxy_ca_issuers_fetches_total.
// Threading: CRL thread only, like the fetcher; the reply runs there.
#include <cstdint>
#include <map>
#include <string>

#include "cache/crl_parser.h"
#include "cache/crl_source.h"
#include "core/metrics.h"
#include "upstream/fetcher.h"

namespace ocsp {

class CrlFetchSource final : public CrlSource {
 public:
  struct Limits {
    size_t max_bytes = 64u << 20;  // crl.max_bytes
    int64_t timeout_ms = 5'000;    // limits.upstream_timeout (30 s at least, see above)
    std::map<std::string, std::string> resolve;  // FQDN -> IP literal
  };
  // `fetcher`, `parser` and `metrics` (may be null: not counted) must outlive this object.
  CrlFetchSource(Limits limits, Fetcher& fetcher, CrlParser& parser, Metrics* metrics)
      : limits_(std::move(limits)), fetcher_(fetcher), parser_(parser), metrics_(metrics) {}

  void lookup(CrlQuery query, CrlReply done) override;

 private:
  void onDownload(CrlQuery query, FetchResult result, CrlReply done);

  const Limits limits_;
  Fetcher& fetcher_;
  CrlParser& parser_;
  Metrics* metrics_;
};

}  // namespace ocsp
