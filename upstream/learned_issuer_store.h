#pragma once
// Learned issuers kept across restarts (docs/ARCHITECTURE.md §9): the issuers completed
// through AIA (forward mode) or discovery (responder mode) are written to
// `<state_dir>/learned-issuers.v1` and read back, and verified again, at start.
//
// The file (encodeLearnedIssuers), text, at most kMaxIssuers entries and kMaxFileBytes:
//   ocsp-proxy learned-issuers v1
//   issuer upstream=<name> learned_at=<seconds since the epoch> from=<aia|discovery|...>
//   -----BEGIN CERTIFICATE-----  (the issuer, PEM)
//   ...
//   end count=<n> sha256=<hex of every byte before this line>
// A file that does not have this exact shape (another version, a torn or edited file, a
// foreign file) is refused whole: decodeLearnedIssuers says why and the caller logs it once.
//
// Nothing read back is trusted by itself: restoreLearned() adds an issuer to the index only
// if its upstream is still configured, the config does not name it now, its key is not on
// the distrust list, and it chains to forward.trust_store at the current time (so an
// expired one, or one whose root left the trust store, is dropped). Each kept issuer is
// logged once (event=issuer_loaded source=...), each dropped one with its reason
// (event=learned_issuer_dropped). The same check applies to the issuers a reload carries over.
//
// LearnedIssuerStore writes the file off the event loops, on its own WorkQueue thread: save()
// takes a snapshot of the index (any thread) and the writer writes the latest snapshot
// (temporary file, fsync, rename: core/state_dir.h). A failed write is logged when writing
// starts failing and when it works again (event=state_write_failed, state_write_recovered).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/ossl.h"
#include "core/result.h"
#include "core/state_dir.h"
#include "core/work_queue.h"
#include "upstream/issuer_index.h"

namespace ocsp {

inline constexpr const char* kLearnedIssuersFile = "learned-issuers.v1";

// One issuer as the file holds it.
struct StoredIssuer {
  SharedX509 cert;
  std::string upstream;
  int64_t learned_at = 0;
  LearnedFrom from = LearnedFrom::Aia;
};

inline constexpr size_t kMaxLearnedIssuers = 1000;
inline constexpr size_t kMaxLearnedIssuersFileBytes = 4u << 20;

// The first kMaxLearnedIssuers of `issuers`, in the file format above.
std::string encodeLearnedIssuers(const std::vector<LearnedIssuer>& issuers);
// Error code "state_invalid" (category Internal) with the line and what is wrong.
Result<std::vector<StoredIssuer>> decodeLearnedIssuers(const std::string& text);

// Adds the issuers of `stored` that pass the checks above to `index`, as `as` (State for the
// file, or the `from` each had for a reload's carry-over when `as` is empty). `upstream_names`
// are the running config's upstreams[].name. Returns how many were added.
size_t restoreLearned(IssuerIndex& index, const std::vector<StoredIssuer>& stored,
                      const std::vector<std::string>& upstream_names, X509_STORE* trust_store,
                      int64_t now, std::optional<LearnedFrom> as);
// The index's learned issuers as the file would hold them (a reload's carry-over).
std::vector<StoredIssuer> storedFrom(const std::vector<LearnedIssuer>& learned);

class LearnedIssuerStore {
 public:
  // Without a directory (state_dir: none, or unusable) it keeps nothing and load() is empty.
  explicit LearnedIssuerStore(std::optional<StateDir> dir) : dir_(std::move(dir)) {}
  // Writes what is pending (at exit), then stops the writer.
  ~LearnedIssuerStore();
  LearnedIssuerStore(const LearnedIssuerStore&) = delete;
  LearnedIssuerStore& operator=(const LearnedIssuerStore&) = delete;

  bool enabled() const { return dir_.has_value(); }
  // The file's issuers; empty (and one line logged) when it is missing, unreadable or invalid.
  std::vector<StoredIssuer> load() const;
  // Writes `index`'s learned issuers soon, off the calling thread. Thread-safe.
  void save(const IssuerIndex& index);

 private:
  void writeLatest();

  std::optional<StateDir> dir_;
  std::mutex write_mu_;  // one writer of the file at a time (the thread, or the destructor)
  std::mutex mu_;
  std::optional<std::string> pending_;  // the latest snapshot not yet written
  bool failing_ = false;                // the last write failed (under write_mu_)
  WorkQueue writer_;                    // last: its thread uses the members above
};

}  // namespace ocsp
