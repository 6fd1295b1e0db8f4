#include "upstream/crl_backoff.h"

#include <algorithm>

#include "core/log.h"

namespace ocsp {

namespace {
constexpr int64_t kRetryAfterFailureS = 30;      // the first retry of a failing URL
constexpr int64_t kMaxRetryAfterFailureS = 600;  // the backoff doubles up to this
constexpr int64_t kMaxRetryUnchangedS = 3600;    // a CA that has not published yet

// A client can name failing URLs one after another: a budget of warnings per kind (core/log.h).
LogRateLimit g_backoff_log[2];
}  // namespace

void CrlBackoff::lookup(CrlQuery query, CrlReply done) {
  std::string url = query.key;
  auto it = state_.find(url);
  query.quiet = it != state_.end() && it->second.failures > 0;
  next_.lookup(std::move(query),
               [this, url, done = std::move(done)](Result<std::shared_ptr<const CrlEntry>> result) {
                 std::shared_ptr<const CrlEntry> previous;
                 if (result) previous = store_.get(url, (*result)->fetched_at);
                 noteOutcome(url, result.ok());
                 if (previous && (*result)->issued() <= previous->issued()) {
                   noteUnchanged(**result);
                 }
                 done(std::move(result));
               });
}

int64_t CrlBackoff::retryAt(const std::string& url) const {
  auto it = state_.find(url);
  return it == state_.end() ? 0 : it->second.retry_at;
}

void CrlBackoff::noteOutcome(const std::string& url, bool ok) {
  if (ok) {
    auto it = state_.find(url);
    if (it == state_.end()) return;
    if (it->second.failures > 0) {
      logEvent(LogLevel::Info, docEvent(kind_, "recovered"),
               {{"url", url}, {"failures", std::to_string(it->second.failures)}});
    }
    state_.erase(it);
    return;
  }
  State& s = state_[url];
  ++s.failures;
  const int64_t delay =
      std::min(kRetryAfterFailureS << std::min(s.failures - 1, 10), kMaxRetryAfterFailureS);
  s.retry_at = clock_.now() + delay;
  const std::string event = docEvent(kind_, "backoff");
  const std::string failures = std::to_string(s.failures);
  const std::string retry_in = std::to_string(delay);
  const std::initializer_list<LogField> fields = {
      {"url", url}, {"failures", failures}, {"retry_in_s", retry_in}};
  if (s.failures == 1) {
    logEventLimited(g_backoff_log[static_cast<int>(kind_)], LogLevel::Warn, event, fields);
  } else {
    logEvent(LogLevel::Debug, event, fields);
  }
}

// The CA publishes on its own schedule: ask again later, more often as nextUpdate nears,
// but not every second.
void CrlBackoff::noteUnchanged(const CrlEntry& entry) {
  const int64_t remaining = entry.hard_expiry - entry.fetched_at;
  state_[entry.url].retry_at =
      entry.fetched_at +
      std::clamp<int64_t>(remaining / 8, kRetryAfterFailureS, kMaxRetryUnchangedS);
}

}  // namespace ocsp
