#include "upstream/crl_refresher.h"

#include "core/log.h"

namespace ocsp {

CrlRefresher::CrlRefresher(const std::vector<HttpUrl>& warm, CrlStore& store, CrlBackoff& backoff,
                           CrlCoalescer& chain, const Clock& clock)
    : store_(store), backoff_(backoff), chain_(chain), clock_(clock) {
  for (const HttpUrl& url : warm) tracked_[url.text()] = Tracked{url, true};
}

void CrlRefresher::noteAsked(const HttpUrl& url) {
  std::string key = url.text();
  std::lock_guard<std::mutex> lock(mu_);
  asked_.try_emplace(std::move(key), url);
}

void CrlRefresher::warmUp() {
  for (auto& [key, t] : tracked_) {
    const int64_t now = clock_.now();
    if (auto held = store_.get(key, now); held && now < held->refresh_at) continue;
    lookUp(key, t.url, false);
  }
}

void CrlRefresher::tick() {
  std::unordered_map<std::string, HttpUrl> asked;
  {
    std::lock_guard<std::mutex> lock(mu_);
    asked.swap(asked_);
  }
  for (auto& [key, url] : asked) tracked_.try_emplace(key, Tracked{url, false});
  const int64_t now = clock_.now();
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    const std::string& key = it->first;
    const int64_t retry_at = backoff_.retryAt(key);
    if (!it->second.warm && asked.count(key) == 0) {
      // Nobody asked since the last download: stop refreshing it. A failed refresh is
      // remembered until its retry time.
      if (now >= retry_at) {
        backoff_.forget(key);
        it = tracked_.erase(it);
      } else {
        ++it;
      }
      continue;
    }
    auto current = store_.get(key, now);
    const bool due = current == nullptr || now >= current->refresh_at;
    if (due && now >= retry_at && lookUp(key, it->second.url, current != nullptr)) {
      logEvent(LogLevel::Debug, "crl_refresh", {{"url", key}});
    }
    ++it;
  }
}

bool CrlRefresher::lookUp(const std::string& key, const HttpUrl& url, bool refresh) {
  CrlQuery query;
  query.url = url;
  query.key = key;
  query.refresh = refresh;
  return chain_.lead(std::move(query));
}

}  // namespace ocsp
