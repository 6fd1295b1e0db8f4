#pragma once
// How a validated OCSP answer becomes the sealed entry the caches store and serve
// (docs/ARCHITECTURE.md §3, §4): the bytes as they will be served, the fields the validator
// read from them, where the answer came from, and its freshness times and RFC 5019 §6.2
// header values (finishEntry). One way for every stage that makes answers: the upstream's
// (upstream/upstream_source.h) and the CRL bridge's (upstream/crl_bridge_source.h), so the
// caches above treat both alike.
#include <cstdint>
#include <memory>
#include <string_view>

#include "core/ocsp_entry.h"
#include "pki/validator.h"

namespace ocsp {

struct AnswerOrigin {
  int64_t fetched_at = 0;      // when the answer was received (or built)
  std::string_view fqdn;       // the FQDN that answered, or kCrlBridgeOrigin
  bool cacheable = true;       // false: a nonce echo, or an unvalidated answer
  bool validated = true;       // false only under forward.unknown_issuer: pass
};

// `der` is copied once, into the sealed entry.
std::shared_ptr<const OcspEntry> sealValidatedAnswer(std::string_view der,
                                                     const ValidatedResponse& validated,
                                                     const AnswerOrigin& origin,
                                                     const FreshnessPolicy& freshness);

}  // namespace ocsp
