#pragma once
// First pipeline stage (DESIGN.md §2): decides whether we may answer at all and where the
// query goes. Rules:
//   - every CertID must belong to a configured issuer; otherwise OCSP unauthorized, logged
//     as event=unknown_issuer;
//   - all CertIDs of one request must have the same issuer: one responder answers one
//     request and its answer is validated against one issuer key; otherwise unauthorized;
//   - nonce policy: with `passthrough`, a request carrying a nonce bypasses the cache.
#include "conf/config.h"
#include "core/ocsp_types.h"
#include "upstream/issuer_index.h"

namespace ocsp {

class PolicySource final : public Source {
 public:
  // `index` and `next` must outlive this object.
  PolicySource(const IssuerIndex& index, conf::NoncePolicy nonce, Source& next)
      : index_(index), nonce_(nonce), next_(next) {}

  void lookup(std::shared_ptr<const OcspQuery> query, Reply done) override;

 private:
  const IssuerIndex& index_;
  conf::NoncePolicy nonce_;
  Source& next_;
};

}  // namespace ocsp
