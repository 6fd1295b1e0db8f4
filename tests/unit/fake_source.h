#pragma once
// An in-memory stage for tests of the stages above it (core/source.h): it records every
// lookup it is asked, and answers each from a table by cache key (or with the answer for every
// other key), at once, or, with `defer` set, when the test calls releaseDeferred(). A lookup
// it has no answer for fails the test. It keeps the contract of a stage: each reply is called
// once, with the lookup it answers.
#include <cstddef>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "core/source.h"

namespace ocsp::test {

class FakeSource final : public Source {
 public:
  // The answer to lookups of `key`.
  void answerFor(const CacheKey& key, Result<Answer> result);
  // The answer to lookups of every key without one of its own.
  void answerAll(Result<Answer> result);

  // While set, replies wait for releaseDeferred().
  bool defer = false;

  void lookup(Lookup lookup, Reply done) override;

  // Answers the waiting lookups in the order they came, from the table as it is now; returns
  // how many.
  size_t releaseDeferred();

  // Every lookup asked so far, in order, as it was passed down.
  const std::vector<Lookup>& lookups() const { return lookups_; }
  size_t calls() const { return lookups_.size(); }
  size_t deferred() const { return deferred_.size(); }

 private:
  Result<Answer> answerTo(const Lookup& lookup) const;

  std::map<CacheKey, Result<Answer>> table_;
  std::optional<Result<Answer>> all_;
  std::vector<Lookup> lookups_;
  std::vector<std::pair<Lookup, Reply>> deferred_;
};

}  // namespace ocsp::test
