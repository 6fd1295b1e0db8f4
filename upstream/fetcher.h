#pragma once
// The HTTP client the stages that talk to CAs use (the OCSP upstream stage, AIA completion,
// the CRL service), as an interface: CurlFetcher (upstream/curl_fetcher.h) is the one that
// talks to the network; unit tests give the stages a fake that answers from a table.
//
// Contract for every implementation: fetch() never calls `done` before it returns; `done` is
// called exactly once, on the thread that called fetch(), unless the fetcher is destroyed
// first (then never). The request's limits (timeout_ms, max_response_bytes) are enforced by
// the fetcher, and a body over the limit is reported as too_large, not truncated.
#include <curl/curl.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace ocsp {

struct FetchRequest {
  std::string url;
  std::string post_body;                // empty = GET
  std::string content_type;             // for POST
  std::vector<std::string> resolve;     // CURLOPT_RESOLVE entries "host:port:addr"
  int64_t timeout_ms = 5000;            // whole transfer, connect included
  size_t max_response_bytes = 1 << 20;  // larger bodies abort the transfer
};

struct FetchResult {
  CURLcode code = CURLE_OK;
  std::string error;          // curl's message when code != CURLE_OK
  long http_status = 0;
  std::string body;
  bool too_large = false;
  std::string content_type;
  int64_t elapsed_ms = 0;
  bool ok() const { return code == CURLE_OK; }
};

using FetchCallback = std::function<void(FetchResult)>;

// Pins `host`:`port` to the address config's `resolve:` map gives it, if any (like curl
// --resolve); otherwise curl resolves the name itself. `host` matches whatever its case.
void pinAddress(FetchRequest& request, const std::map<std::string, std::string>& resolve,
                const std::string& host, uint16_t port);

class Fetcher {
 public:
  virtual ~Fetcher() = default;
  virtual void fetch(FetchRequest request, FetchCallback done) = 0;
  // Transfers started and not yet called back.
  virtual size_t inFlight() const = 0;
};

}  // namespace ocsp
