#pragma once
// A Fetcher (upstream/fetcher.h) for unit tests: answers from a table instead of the network,
// records every request in order, and keeps the Fetcher contract, so that a stage behaves as
// it does with CurlFetcher:
//   - fetch() never calls back; replies wait in a queue until the test calls run() (or
//     deliverNext()), on the test's thread; a callback may fetch again, and run() delivers
//     that reply too;
//   - each reply is due after its delay on a virtual clock (nowMs(), starting at 0): run()
//     delivers in order of due time, then of request, and moves the clock; no real time
//     passes;
//   - the request's limits hold: a delay of timeout_ms or more is a timeout at timeout_ms
//     (CURLE_OPERATION_TIMEDOUT, as curl reports it), a body over max_response_bytes is
//     too_large with no body;
//   - a URL nobody answers for fails to resolve (CURLE_COULDNT_RESOLVE_HOST);
//   - replies still queued when the fake is destroyed are dropped, never called.
// Not thread-safe.
#include <curl/curl.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "upstream/fetcher.h"

namespace ocsp::test {

struct FakeReply {
  long status = 200;
  std::string body = {};
  CURLcode transport = CURLE_OK;  // anything else: the transfer fails with this code
  int64_t delay_ms = 10;          // virtual time from fetch() until the reply is due
  std::string content_type = "application/ocsp-response";
};

class FakeFetcher final : public Fetcher {
 public:
  // `url_or_fqdn`: a whole URL (matched exactly, first) or a host (any port and path).
  // Each request takes the next reply not yet used for its key, or the last one once all
  // have been used.
  void answer(const std::string& url_or_fqdn, FakeReply reply);

  void fetch(FetchRequest request, FetchCallback done) override;
  size_t inFlight() const override { return queue_.size(); }

  // Delivers every reply, those of fetches made by callbacks included; returns how many.
  size_t run();
  // Delivers the reply due first; false when none is queued.
  bool deliverNext();

  const std::vector<FetchRequest>& requests() const { return requests_; }
  // The host of each request, in order.
  std::vector<std::string> hosts() const;
  int64_t nowMs() const { return now_ms_; }

 private:
  struct Pending {
    int64_t due_ms;
    uint64_t sequence;
    FetchResult result;
    FetchCallback done;
  };
  FetchResult replyFor(const FetchRequest& request);

  struct Script {
    std::vector<FakeReply> replies;
    size_t used = 0;  // requests answered so far
  };
  std::map<std::string, Script> table_;
  std::vector<FetchRequest> requests_;
  std::vector<Pending> queue_;
  uint64_t next_sequence_ = 0;
  int64_t now_ms_ = 0;
};

}  // namespace ocsp::test
