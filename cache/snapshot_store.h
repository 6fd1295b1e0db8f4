#pragma once
// The cache snapshot in state_dir (docs/ARCHITECTURE.md §6.6): without Redis, what the caches
// hold lives in memory only, and a restart during a CA outage would leave every client with
// tryLater although the answers held were good for days. The store writes the in-process
// OCSP answers and the CRL and caIssuers documents to `<state_dir>/cache-snapshot.v1`
// (cache/snapshot_codec.h) and reads the file back at start; upstream/snapshot_restore.h
// validates every record again before anything is served from it. Rules:
//   - what is kept: every answer of the MemoryCache before its hard expiry, with its cache
//     key and the CertIDs it answers (read from the answer's own SingleResponses, in the
//     order the key was computed from), and every document of the two CrlStores before its
//     hard expiry (URL, bytes, fetched_at); within Options::max_bytes, the records closest to
//     expiry left out first;
//   - when: every Options::interval_s on the store's own thread (never on an event loop),
//     and once more at shutdown after the workers drained (writeFinal, on the caller's
//     thread, given up past its budget: the previous file then stays). The file itself is
//     written on a short-lived thread of its own, so that a stalled filesystem cannot hold
//     up the shutdown past the budget; while such a write has not finished, no other starts;
//   - how: the file is replaced atomically (core/state_dir.h), so a crash or a kill during a
//     write leaves the previous file or the new one, never a torn one; a write whose records
//     are the same as the last one written is skipped;
//   - logged: event=snapshot_written per write (debug; info for the one at shutdown, with
//     bytes and ms), event=state_write_failed when writing starts failing and
//     state_write_recovered when it works again (as for the learned issuers), and
//     event=snapshot_invalid (reason=...) for a file that is unreadable or too large;
//     counted in ocsp_proxy_snapshot_writes_total{result} and
//     ocsp_proxy_snapshot_last_write_timestamp_seconds.
// Without a directory (state_dir: none, or unusable) or with max_bytes 0 it keeps nothing.
// Thread-safe: the writes are serialised; the reports may be read from any thread.
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "cache/crl_store.h"
#include "cache/memory_cache.h"
#include "cache/snapshot_codec.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "core/state_dir.h"

namespace ocsp {

inline constexpr const char* kSnapshotFile = "cache-snapshot.v1";

// What a snapshot is taken of. Everything referenced must outlive the store.
struct SnapshotSources {
  const MemoryCache* cache = nullptr;
  const CrlStore* crls = nullptr;
  const CrlStore* ca_issuers = nullptr;  // may be null
};

// The CertIDs (DER) that `response_der` answers, in the order whose cache key is `key`
// (core/cert_id.h cacheKeyFor): an answer's SingleResponses are the CertIDs asked, in any
// order. Empty when the DER is not a basic OCSP response or no order of up to 4 CertIDs gives
// `key` (the answer is then left out of the snapshot).
std::vector<std::string> certIdsAnswered(const CacheKey& key, std::string_view response_der);

// The snapshot content of `sources` at `now`: what the header comment says is kept.
// `give_up` is asked every few hundred answers; when it says so, nullopt.
std::optional<SnapshotContent> collectSnapshot(const SnapshotSources& sources, int64_t now,
                                               const std::function<bool()>& give_up = {});

// One write, for /status and the log.
struct SnapshotWriteReport {
  int64_t at = 0;      // seconds since the epoch; 0: none yet
  std::string result;  // written | unchanged | failed | abandoned
  std::string detail;  // why it failed or was abandoned
  size_t bytes = 0;
  size_t answers = 0;
  size_t documents = 0;
  size_t left_out = 0;  // records the size bound left out
  int64_t ms = 0;
  bool at_shutdown = false;
};

// The load at start (filled by upstream/snapshot_restore.h), for /status.
struct SnapshotLoadReport {
  int64_t at = 0;      // seconds since the epoch; 0: no load was tried
  std::string result;  // loaded | none | invalid
  std::string reason;  // invalid: the decode error's code (cache/snapshot_codec.h)
  int64_t written_at = 0;
  size_t answers = 0;     // answers put into the cache
  size_t crls = 0;        // CRLs put into the CRL store
  size_t ca_issuers = 0;  // caIssuers documents put into theirs
  size_t dropped = 0;     // records that did not pass again
  std::map<std::string, size_t> dropped_by_reason;
  int64_t ms = 0;
};

class SnapshotStore {
 public:
  struct Options {
    int64_t interval_s = 300;      // cache.snapshot_interval
    size_t max_bytes = 64u << 20;  // cache.snapshot_max_bytes; 0 = no snapshot
  };

  // `metrics` may be null (not counted).
  SnapshotStore(std::optional<StateDir> dir, Options options, SnapshotSources sources,
                const Clock& clock, Metrics* metrics);
  // Stops the periodic writer (a write in progress is abandoned); writes nothing.
  ~SnapshotStore();
  SnapshotStore(const SnapshotStore&) = delete;
  SnapshotStore& operator=(const SnapshotStore&) = delete;

  bool enabled() const { return dir_.has_value() && options_.max_bytes > 0; }
  std::string path() const;

  // The file's bytes; nullopt when disabled, when there is none (nothing logged), or when it
  // cannot be read or is larger than max_bytes (event=snapshot_invalid logged, and
  // `*invalid_reason` set to "unreadable" or "too_large").
  std::optional<std::string> read(std::string* invalid_reason = nullptr) const;

  // Starts the periodic writes (the first one an interval from now).
  void start();
  // Stops the periodic writes, then writes once on the calling thread; past `budget_ms` the
  // write is abandoned before the file is touched (the previous one stays).
  SnapshotWriteReport writeFinal(int64_t budget_ms);
  // One write now on the calling thread (what the periodic writer does each interval).
  SnapshotWriteReport writeNow();

  void noteLoad(SnapshotLoadReport report);
  SnapshotWriteReport lastWrite() const;
  SnapshotLoadReport lastLoad() const;

 private:
  // Serialised by write_mu_; gives up once `deadline_ms` (monotonic, 0 = none) passes or
  // stop is asked.
  SnapshotWriteReport write(int64_t deadline_ms, bool at_shutdown);
  void run();

  const std::optional<StateDir> dir_;
  const Options options_;
  const SnapshotSources sources_;
  const Clock& clock_;
  Metrics* metrics_;

  struct FileWrite;
  std::mutex write_mu_;       // one write at a time
  bool failing_ = false;      // the last write failed (under write_mu_)
  std::string last_records_;  // SHA-256 of the records last written (under write_mu_)
  std::shared_ptr<FileWrite> in_flight_;  // the last file write (under write_mu_)

  mutable std::mutex report_mu_;
  SnapshotWriteReport last_write_;
  SnapshotLoadReport last_load_;

  std::mutex run_mu_;
  std::condition_variable wake_;
  bool stopping_ = false;             // under run_mu_
  std::atomic<bool> abandon_{false};  // a write in progress gives up
  std::thread thread_;
};

}  // namespace ocsp
