#pragma once
// A CA's CRL distribution points for the CRL service tests: a table of URL -> answer shared
// with the test thread, and the Fetcher (upstream/fetcher.h) the service builds on its own
// thread over it. An answer may be deferred: the fetch waits until the test releases it, so
// a test can see what happens while a download is in progress.
//
// Each fetch is logged (event=origin_fetch url=...) on the fetcher's thread, so a test can
// see where it falls among the service's own log lines.
//
// Threading: CrlOrigin is thread-safe. The fetcher keeps the Fetcher contract: fetch() never
// calls back before it returns, callbacks run on the fetcher's thread (through a Mailbox on
// its event_base), and a fetcher destroyed first never calls them.
#include <event2/event.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/log.h"
#include "core/mailbox.h"
#include "upstream/fetcher.h"

namespace ocsp::test {

struct OriginAnswer {
  long status = 200;
  std::string body = {};
  bool transport_error = false;  // the connection fails (no HTTP status)
  bool defer = false;            // held until CrlOrigin::release()
};

class CrlOrigin {
 public:
  void serve(const std::string& url, OriginAnswer answer) {
    std::lock_guard<std::mutex> lock(mu_);
    table_[url] = std::move(answer);
  }
  int fetches(const std::string& url) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = fetches_.find(url);
    return it == fetches_.end() ? 0 : it->second;
  }
  std::vector<FetchRequest> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  // The deferred fetches of `url` get the answer the table holds now (whether deferred or
  // not), on the fetcher's thread.
  void release(const std::string& url) {
    std::lock_guard<std::mutex> lock(mu_);
    if (fetcher_ != nullptr) fetcher_->releaseLater(url);
  }

  std::unique_ptr<Fetcher> fetcherOn(event_base* base) {
    return std::make_unique<OriginFetcher>(*this, base);
  }

 private:
  class OriginFetcher final : public Fetcher {
   public:
    OriginFetcher(CrlOrigin& origin, event_base* base) : origin_(origin), mailbox_(base) {
      std::lock_guard<std::mutex> lock(origin_.mu_);
      origin_.fetcher_ = this;
    }
    ~OriginFetcher() override {
      std::lock_guard<std::mutex> lock(origin_.mu_);
      origin_.fetcher_ = nullptr;
    }

    void fetch(FetchRequest request, FetchCallback done) override {
      logEvent(LogLevel::Info, "origin_fetch", {{"url", request.url}});
      OriginAnswer answer;
      {
        std::lock_guard<std::mutex> lock(origin_.mu_);
        origin_.requests_.push_back(request);
        ++origin_.fetches_[request.url];
        answer = origin_.answerLocked(request.url);
      }
      ++in_flight_;
      if (answer.defer) {
        held_.emplace_back(std::move(request), std::move(done));
        return;
      }
      mailbox_.post([this, request = std::move(request), answer = std::move(answer),
                     done = std::move(done)] { respond(request, answer, done); });
    }
    size_t inFlight() const override { return in_flight_; }

    // Any thread, under the origin's mutex.
    void releaseLater(const std::string& url) {
      mailbox_.post([this, url] {
        std::vector<std::pair<FetchRequest, FetchCallback>> due;
        for (auto it = held_.begin(); it != held_.end();) {
          if (it->first.url == url) {
            due.push_back(std::move(*it));
            it = held_.erase(it);
          } else {
            ++it;
          }
        }
        for (auto& [request, done] : due) {
          OriginAnswer answer;
          {
            std::lock_guard<std::mutex> lock(origin_.mu_);
            answer = origin_.answerLocked(url);
          }
          respond(request, answer, done);
        }
      });
    }

   private:
    void respond(const FetchRequest& request, const OriginAnswer& answer,
                 const FetchCallback& done) {
      --in_flight_;
      FetchResult result;
      if (answer.transport_error) {
        result.code = CURLE_COULDNT_CONNECT;
        result.error = "Could not connect to server";
      } else if (answer.body.size() > request.max_response_bytes) {
        result.code = CURLE_WRITE_ERROR;
        result.error = "response too large";
        result.too_large = true;
      } else {
        result.http_status = answer.status;
        result.body = answer.body;
      }
      done(std::move(result));
    }

    CrlOrigin& origin_;
    Mailbox mailbox_;
    size_t in_flight_ = 0;
    std::vector<std::pair<FetchRequest, FetchCallback>> held_;
  };

  OriginAnswer answerLocked(const std::string& url) const {
    auto it = table_.find(url);
    if (it != table_.end()) return it->second;
    OriginAnswer missing;
    missing.status = 404;
    return missing;
  }

  mutable std::mutex mu_;
  std::map<std::string, OriginAnswer> table_;
  std::map<std::string, int> fetches_;
  std::vector<FetchRequest> requests_;
  OriginFetcher* fetcher_ = nullptr;
};

}  // namespace ocsp::test
