#include "upstream/crl_refresher.h"

#include "core/log.h"

namespace ocsp {

CrlRefresher::CrlRefresher(const std::vector<HttpUrl>& warm, CrlStore& store, CrlBackoff& backoff,
                           CrlCoalescer& chain, const Clock& clock)
    : store_(store), backoff_(backoff), chain_(chain), clock_(clock) {
  for (const HttpUrl& url : warm) tracked_[url.text()] = Tracked{url, true, {}};
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
  for (auto& [key, url] : asked) tracked_.try_emplace(key, Tracked{url, false, {}});
  const int64_t now = clock_.now();
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    const std::string& key = it->first;
    const int64_t retry_at = backoff_.retryAt(key);
    const Tracked& t = it->second;
    const bool followed = !t.base.empty() && baseNames(t.base, key, now);
    if (!t.warm && !followed && asked.count(key) == 0) {
      // Nobody asked since the last download, and no complete CRL held names it as its delta:
      // stop refreshing it. A failed refresh is remembered until its retry time.
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

void CrlRefresher::follow(const std::string& base_key, const HttpUrl& delta) {
  std::string key = delta.text();
  auto [it, added] = tracked_.try_emplace(key, Tracked{delta, false, base_key});
  if (added || it->second.base != base_key) {
    logEvent(LogLevel::Info, "crl_delta_followed", {{"url", key}, {"base", base_key}});
  }
  it->second.base = base_key;
  const int64_t now = clock_.now();
  auto held = store_.get(key, now);
  if ((held == nullptr || now >= held->refresh_at) && now >= backoff_.retryAt(key)) {
    lookUp(key, delta, held != nullptr);
  }
}

bool CrlRefresher::baseNames(const std::string& base_key, const std::string& delta_key,
                             int64_t now) {
  auto base = store_.get(base_key, now);
  if (base == nullptr) return false;
  for (const std::string& text : base->crl.freshest_urls) {
    if (auto url = parseHttpUrl(text); url && url->text() == delta_key) return true;
  }
  return false;
}

bool CrlRefresher::lookUp(const std::string& key, const HttpUrl& url, bool refresh) {
  CrlQuery query;
  query.url = url;
  query.key = key;
  query.refresh = refresh;
  return chain_.lead(std::move(query));
}

}  // namespace ocsp
