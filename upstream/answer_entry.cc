#include "upstream/answer_entry.h"

namespace ocsp {

std::shared_ptr<const OcspEntry> sealValidatedAnswer(std::string_view der,
                                                     const ValidatedResponse& validated,
                                                     const AnswerOrigin& origin,
                                                     const FreshnessPolicy& freshness) {
  OcspEntry built;
  built.der.borrow(der);  // copied once, into the sealed entry
  built.produced_at = validated.produced_at;
  built.this_update = validated.this_update;
  built.next_update = validated.next_update;
  built.fetched_at = origin.fetched_at;
  built.status = validated.status;
  built.revocation = validated.revocation;
  built.upstream_fqdn = origin.fqdn;
  built.cacheable = origin.cacheable;
  built.validated = origin.validated;
  finishEntry(built, freshness);
  return sealEntry(std::move(built));
}

}  // namespace ocsp
