#pragma once
// What the admin listener shows, gathered once per request (docs/ARCHITECTURE.md §13): the
// /status JSON (proxy/admin.cc) and the status page (proxy/status_page.h) both render this
// one structure, so the two cannot disagree. It holds plain values, and shared pointers to
// immutable CRL store entries: once gathered it refers to nothing that a reload may free.
// collectStatus() runs on the main loop (it reads AdminView, see proxy/admin.h); it walks
// the in-process answer cache once (MemoryCache::forEach: the workers wait on no lock while
// the answers are read) for the offline horizon below.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pki/validation_memo.h"
#include "proxy/admin.h"
#include "proxy/recent_revocations.h"

namespace ocsp {

struct StatusModel {
  int64_t now = 0;  // epoch seconds, when gathered
  std::string version;
  int64_t started_at = 0;
  std::vector<std::string> not_ready;  // empty: ready
  std::string config_path;
  int generation = 1;
  int64_t loaded_at = 0;
  std::string last_reload_error;  // "": the last reload succeeded, or none was tried

  struct Circuit {
    std::string fqdn;
    std::string state;  // "closed" | "open" | "half_open"
    int consecutive_failures = 0;
  };
  struct Upstream {
    std::string name;
    std::string revocation_source;               // ocsp | crl | ocsp-then-crl
    std::vector<CrlBridgeState::IssuerCrl> crls;  // the CRL the bridge found per issuer
    std::vector<Circuit> fqdns;
  };
  std::vector<Upstream> upstreams;
  std::vector<IssuerWatch::View> watched;
  std::vector<IssuerWatch::Expiry> expiry;
  std::vector<AdminOptions::Distrust> distrust;  // distrust entries, in config order

  MemoryCache::Stats ocsp;
  size_t ocsp_max_bytes = 0;
  ValidationMemo::Stats validation_memo;
  CrlStore::Stats crl;
  size_t crl_max_bytes = 0;
  std::vector<std::shared_ptr<const CrlEntry>> crls;  // most recently used first
  struct CaIssuers {
    CrlStore::Stats stats;
    size_t max_bytes = 0;
    std::vector<std::shared_ptr<const CrlEntry>> documents;
  };
  std::optional<CaIssuers> ca_issuers;  // absent: no caIssuers store
  struct Snapshot {
    bool enabled = false;
    std::string path;
    SnapshotWriteReport last_write;
    SnapshotLoadReport load;
  };
  std::optional<Snapshot> snapshot;
  std::optional<std::string> redis;  // RedisStatus::describe(); absent without Redis
  struct KnownSerialsCount {
    size_t entries = 0;
    uint64_t refused = 0;
  };
  std::optional<KnownSerialsCount> known_serials;
  struct Learned {
    std::string subject;
    std::string upstream;
    int64_t learned_at = 0;
    std::string source;  // learnedFromName()
  };
  size_t learned_count = 0;
  std::vector<Learned> learned;

  std::vector<RecentRevocations::Item> recent_revocations;  // newest first
  uint64_t revoked_answers = 0;  // revoked answers served since start

  // If the internet link went down now, until when the proxy could still answer from its
  // own cache: per origin of the cached answers, the earliest and the latest hard expiry
  // (nextUpdate; docs/ARCHITECTURE.md §4: never served after it). Answers already past it
  // are not counted.
  struct Holdout {
    std::string origin;  // an upstream's name, "crl-bridge", or an FQDN no upstream lists
    size_t answers = 0;
    int64_t earliest = 0;  // 0 when answers == 0
    int64_t latest = 0;
  };
  std::vector<Holdout> holdouts;  // every configured upstream, in config order, then others
  // The CRLs the bridge answers from: it can build answers until the CRL's nextUpdate.
  struct BridgeCrl {
    std::string upstream;
    std::string issuer;
    std::string url;
    int64_t next_update = 0;  // 0: the CRL is not held (or has no nextUpdate)
    bool held = false;        // the CRL store holds it
  };
  std::vector<BridgeCrl> bridge_crls;
};

StatusModel collectStatus(const AdminView& view);

// The holdouts of `cache` at `now` (StatusModel::holdouts): answers grouped by the upstream
// whose FQDN made them.
std::vector<StatusModel::Holdout> cacheHoldouts(const MemoryCache& cache,
                                                const std::vector<AdminOptions::Upstream>& ups,
                                                int64_t now);

}  // namespace ocsp
