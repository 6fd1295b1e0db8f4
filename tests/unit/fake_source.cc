#include "tests/unit/fake_source.h"

#include <doctest/doctest.h>

namespace ocsp::test {

void FakeSource::answerFor(const CacheKey& key, Result<Answer> result) {
  table_.insert_or_assign(key, std::move(result));
}

void FakeSource::answerAll(Result<Answer> result) { all_.emplace(std::move(result)); }

Result<Answer> FakeSource::answerTo(const Lookup& lookup) const {
  if (auto it = table_.find(lookup.query->key); it != table_.end()) return it->second;
  REQUIRE_MESSAGE(all_.has_value(), "FakeSource asked for a key it has no answer for");
  return *all_;
}

void FakeSource::lookup(Lookup lookup, Reply done) {
  REQUIRE_MESSAGE(lookup.query != nullptr, "a lookup without a query");
  lookups_.push_back(lookup);
  if (defer) {
    deferred_.emplace_back(std::move(lookup), std::move(done));
    return;
  }
  Result<Answer> result = answerTo(lookup);
  done(lookup, std::move(result));
}

size_t FakeSource::releaseDeferred() {
  auto waiting = std::move(deferred_);
  deferred_.clear();
  for (auto& [lookup, done] : waiting) done(lookup, answerTo(lookup));
  return waiting.size();
}

}  // namespace ocsp::test
