#include "cache/crl_memory_source.h"

namespace ocsp {

void CrlMemorySource::lookup(CrlQuery query, CrlReply done) {
  const int64_t now = clock_.now();
  if (auto hit = store_.get(query.key, now)) {
    if (now >= hit->refresh_at) asked_(query.url);
    done(std::move(hit));
    return;
  }
  asked_(query.url);
  next_.lookup(std::move(query), std::move(done));
}

void CrlMemoryFill::lookup(CrlQuery query, CrlReply done) {
  if (!query.refresh) {
    const int64_t now = clock_.now();
    if (auto held = store_.get(query.key, now); held && now < held->refresh_at) {
      done(std::move(held));
      return;
    }
  }
  next_.lookup(std::move(query),
               [this, done = std::move(done)](Result<std::shared_ptr<const CrlEntry>> result) {
                 if (result) store_.put(*result);
                 done(std::move(result));
               });
}

}  // namespace ocsp
