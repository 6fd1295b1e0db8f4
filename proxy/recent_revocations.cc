#include "proxy/recent_revocations.h"

#include "core/ossl.h"

namespace ocsp {

void RecentRevocations::add(const RevocationRecord& r) {
  if (r.status != CertStatus::Revoked || !r.error.empty() || r.cert_id == nullptr) return;
  std::lock_guard lock(mu_);
  Item& slot = ring_[next_];
  next_ = (next_ + 1) % kCapacity;
  ++added_;
  slot.time_ms = r.time_ms;
  slot.client.assign(r.client);
  slot.upstream.assign(r.upstream);
  slot.upstream_fqdn.assign(r.upstream_fqdn);
  slot.issuer.assign(r.issuer);
  slot.serial.clear();
  appendHex(slot.serial, r.cert_id->serial);
  slot.revocation_time = r.revocation ? r.revocation->time : 0;
  const char* reason = r.revocation ? crlReasonName(r.revocation->reason) : nullptr;
  slot.reason.assign(reason != nullptr ? reason : "");
}

std::vector<RecentRevocations::Item> RecentRevocations::recent() const {
  std::lock_guard lock(mu_);
  const size_t held = added_ < kCapacity ? static_cast<size_t>(added_) : kCapacity;
  std::vector<Item> out;
  out.reserve(held);
  for (size_t i = 1; i <= held; ++i) out.push_back(ring_[(next_ + kCapacity - i) % kCapacity]);
  return out;
}

uint64_t RecentRevocations::total() const {
  std::lock_guard lock(mu_);
  return added_;
}

}  // namespace ocsp
