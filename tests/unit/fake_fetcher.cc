#include "tests/unit/fake_fetcher.h"

#include <algorithm>

#include "core/url.h"

namespace ocsp::test {

void FakeFetcher::answer(const std::string& url_or_fqdn, FakeReply reply) {
  table_[url_or_fqdn].replies.push_back(std::move(reply));
}

FetchResult FakeFetcher::replyFor(const FetchRequest& request) {
  auto url = parseHttpUrl(request.url);
  auto it = table_.find(request.url);
  if (it == table_.end() && url) it = table_.find(url->host);
  FetchResult result;
  if (it == table_.end()) {
    result.code = CURLE_COULDNT_RESOLVE_HOST;
    result.error = "Could not resolve host: " + (url ? url->host : request.url);
    return result;
  }
  Script& script = it->second;
  FakeReply reply = script.replies[std::min(script.used, script.replies.size() - 1)];
  ++script.used;
  if (reply.delay_ms >= request.timeout_ms) {
    result.code = CURLE_OPERATION_TIMEDOUT;
    result.error = "Operation timed out after " + std::to_string(request.timeout_ms) +
                   " milliseconds with 0 bytes received";
    result.elapsed_ms = request.timeout_ms;
    return result;
  }
  result.elapsed_ms = reply.delay_ms;
  if (reply.transport != CURLE_OK) {
    result.code = reply.transport;
    result.error = curl_easy_strerror(reply.transport);
    return result;
  }
  result.http_status = reply.status;
  result.content_type = reply.content_type;
  if (reply.body.size() > request.max_response_bytes) {
    result.code = CURLE_WRITE_ERROR;  // what CurlFetcher's write callback makes of it
    result.error = "Failure writing output to destination";
    result.too_large = true;
    return result;
  }
  result.body = std::move(reply.body);
  return result;
}

void FakeFetcher::fetch(FetchRequest request, FetchCallback done) {
  FetchResult result = replyFor(request);
  int64_t due = now_ms_ + result.elapsed_ms;
  requests_.push_back(std::move(request));
  queue_.push_back(Pending{due, next_sequence_++, std::move(result), std::move(done)});
}

bool FakeFetcher::deliverNext() {
  if (queue_.empty()) return false;
  auto first =
      std::min_element(queue_.begin(), queue_.end(), [](const Pending& a, const Pending& b) {
        return a.due_ms != b.due_ms ? a.due_ms < b.due_ms : a.sequence < b.sequence;
      });
  Pending next = std::move(*first);
  queue_.erase(first);
  now_ms_ = std::max(now_ms_, next.due_ms);
  next.done(std::move(next.result));
  return true;
}

size_t FakeFetcher::run() {
  size_t delivered = 0;
  while (deliverNext()) ++delivered;
  return delivered;
}

std::vector<std::string> FakeFetcher::hosts() const {
  std::vector<std::string> out;
  for (const FetchRequest& r : requests_) {
    auto url = parseHttpUrl(r.url);
    out.push_back(url ? url->host : r.url);
  }
  return out;
}

}  // namespace ocsp::test
