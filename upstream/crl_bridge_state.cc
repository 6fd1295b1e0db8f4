#include "upstream/crl_bridge_state.h"

#include <algorithm>
#include <tuple>

namespace ocsp {

std::optional<std::string> CrlBridgeState::crlFor(std::string_view issuer_key_sha1) const {
  std::lock_guard lock(mu_);
  auto it = by_issuer_.find(issuer_key_sha1);
  if (it == by_issuer_.end()) return std::nullopt;
  return it->second.url;
}

void CrlBridgeState::remember(std::string_view issuer_key_sha1, IssuerCrl where) {
  std::lock_guard lock(mu_);
  by_issuer_.insert_or_assign(std::string(issuer_key_sha1), std::move(where));
}

void CrlBridgeState::forget(std::string_view issuer_key_sha1) {
  std::lock_guard lock(mu_);
  if (auto it = by_issuer_.find(issuer_key_sha1); it != by_issuer_.end()) by_issuer_.erase(it);
}

std::vector<CrlBridgeState::IssuerCrl> CrlBridgeState::issuerCrls() const {
  std::vector<IssuerCrl> out;
  {
    std::lock_guard lock(mu_);
    for (const auto& entry : by_issuer_) out.push_back(entry.second);
  }
  std::sort(out.begin(), out.end(), [](const IssuerCrl& a, const IssuerCrl& b) {
    return std::tie(a.upstream, a.issuer, a.url) < std::tie(b.upstream, b.issuer, b.url);
  });
  return out;
}

bool CrlBridgeState::change(std::string_view what, std::string_view subject, bool on) {
  std::string key = std::string(what) + "/" + std::string(subject);
  std::lock_guard lock(mu_);
  auto [it, inserted] = flags_.try_emplace(std::move(key), false);
  if (it->second == on) return false;
  it->second = on;
  return true;
}

bool CrlBridgeState::first(std::string_view key) {
  std::lock_guard lock(mu_);
  if (noted_.size() >= kMaxNoted) noted_.clear();
  return noted_.try_emplace(std::string(key), true).second;
}

}  // namespace ocsp
