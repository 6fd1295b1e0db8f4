#pragma once
// Reading the cache snapshot back at start (docs/ARCHITECTURE.md §6.6), before any listener
// serves: nothing in the file is trusted by itself. A file that does not decode
// (cache/snapshot_codec.h: torn, truncated, edited, foreign, another version) is logged
// (event=snapshot_invalid reason=...) and ignored whole. Every record of one that does is
// checked again at `now`, as if it had just been fetched, and stored only if it passes:
//   - an OCSP answer: its CertIDs give its cache key; they are routed through the issuer
//     index again (all to one issuer, configured or learned now, not distrusted) and the
//     answer is validated by pki/validator.h against that issuer and those CertIDs (an answer
//     the proxy's own responder signed passes with Options::local_responder); its stored
//     fields must say what its DER says and its fetch time may not be in the future; it goes
//     into the MemoryCache with its freshness computed by today's policy, unless past its
//     hard expiry;
//   - a CRL or caIssuers document: checked as the CRL service's parser checks a download
//     (cache/crl_parser.h checkDocument with the service's rules: issuer candidates, trust
//     store, unknown-issuer policy), kept with its original fetch time, unless past its
//     nextUpdate (a caIssuers document: past forward.aia_ttl after its download).
// A record that fails is dropped and counted by reason: expired, issuer_gone (its issuer is
// no longer configured or learned, or a CRL's signer is unknown under crl.unknown_issuer:
// refuse), distrusted, invalid (anything else). One line says what came of it
// (event=snapshot_loaded answers=N crls=M ca_issuers=C dropped=K ms=T, with the drops by
// reason), and ocsp_proxy_snapshot_records_total{kind,result} counts each record.
//
// Answers are validated on up to Options::threads threads, no more than the machine has cores
// (one or two signature checks per answer: 100,000 answers take seconds on one core);
// documents on the calling thread.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cache/crl_parser.h"
#include "cache/crl_store.h"
#include "cache/memory_cache.h"
#include "cache/snapshot_store.h"
#include "core/metrics.h"
#include "core/ocsp_entry.h"
#include "upstream/issuer_index.h"

namespace ocsp {

struct SnapshotRestoreOptions {
  FreshnessPolicy freshness;   // cache.max_age, no_next_update_ttl, refresh_percent
  int64_t clock_skew_s = 300;  // cache.clock_skew
  // The proxy's own responder certificate (crl_bridge.cert), or null: answers it signed are
  // accepted for any issuer (pki/validator.h ValidationInput::local_responder).
  X509* local_responder = nullptr;
  CrlParseRules crl_rules;         // the CRL service's (CrlService::parseRules)
  CrlParseRules ca_issuers_rules;  // the caIssuers service's
  unsigned threads = 4;            // at most this many (and cores) validate answers at once
};

// Where what passes goes. `ca_issuers` may be null (its documents are then dropped).
struct SnapshotTargets {
  MemoryCache& cache;
  CrlStore& crls;
  CrlStore* ca_issuers = nullptr;
};

// Decodes `file` and restores what passes into `targets` (see above). `metrics` may be null.
SnapshotLoadReport restoreSnapshot(std::string_view file, const IssuerIndex& index,
                                   const SnapshotTargets& targets,
                                   const SnapshotRestoreOptions& options, int64_t now,
                                   Metrics* metrics);

// At start: `store`'s file, if it has one, restored by restoreSnapshot; the report (or why
// there was none) noted in the store for /status. Nothing when the store is disabled.
void loadSnapshot(SnapshotStore& store, const IssuerIndex& index, const SnapshotTargets& targets,
                  const SnapshotRestoreOptions& options, int64_t now, Metrics* metrics);

}  // namespace ocsp
