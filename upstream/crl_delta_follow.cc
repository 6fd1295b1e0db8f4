#include "upstream/crl_delta_follow.h"

#include <vector>

#include "core/log.h"

namespace ocsp {

namespace {
constexpr size_t kMaxWarnedUrls = 1024;  // a CRL's content decides these URLs
LogRateLimit g_not_allowed_log;
}  // namespace

std::optional<HttpUrl> followedDeltaUrl(const CrlEntry& base, const CrlUrlAllowed& allowed,
                                        std::vector<std::string>* refused) {
  if (base.kind != DocKind::Crl || base.crl.delta) return std::nullopt;
  for (const std::string& text : base.crl.freshest_urls) {
    auto url = parseHttpUrl(text);
    if (url && allowed && allowed(*url)) return *url;
    if (refused != nullptr) refused->push_back(text);
  }
  return std::nullopt;
}

void CrlDeltaFollow::lookup(CrlQuery query, CrlReply done) {
  next_.lookup(std::move(query),
               [this, done = std::move(done)](Result<std::shared_ptr<const CrlEntry>> result) {
                 if (result && !(*result)->crl.freshest_urls.empty()) noteStored(**result);
                 done(std::move(result));
               });
}

void CrlDeltaFollow::noteStored(const CrlEntry& entry) {
  std::vector<std::string> refused;
  auto delta = followedDeltaUrl(entry, allowed_, &refused);
  if (delta) {
    // After the reply: the delta's lookup runs the chain again from the top.
    crl_thread_.post(
        [this, base = entry.url, url = *delta] { refresher_.follow(base, url); });
    return;
  }
  for (const std::string& url : refused) {
    if (warned_.size() >= kMaxWarnedUrls || !warned_.insert(url).second) continue;
    logEventLimited(g_not_allowed_log, LogLevel::Warn, "crl_delta_not_allowed",
                    {{"url", url},
                     {"base", entry.url},
                     {"detail", "the Freshest CRL of this CRL is not on an allowed CRL host "
                                "(crl.fqdns): its delta is not fetched"}});
  }
}

}  // namespace ocsp
