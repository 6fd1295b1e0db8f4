#include "upstream/snapshot_restore.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "cache/entry_codec.h"
#include "core/clock.h"
#include "core/log.h"
#include "pki/validator.h"

namespace ocsp {

namespace {

// Why a record was dropped; the metric's and the log line's result values.
enum class Drop : uint8_t { None, Expired, IssuerGone, Distrusted, Invalid };

const char* dropName(Drop d) {
  switch (d) {
    case Drop::None:
      return "loaded";
    case Drop::Expired:
      return "expired";
    case Drop::IssuerGone:
      return "issuer_gone";
    case Drop::Distrusted:
      return "distrusted";
    case Drop::Invalid:
      return "invalid";
  }
  return "invalid";
}

// Fewer answers than this per thread are not worth one.
constexpr size_t kAnswersPerThread = 256;

struct AnswerOutcome {
  std::shared_ptr<const OcspEntry> entry;  // set when it passed
  Drop drop = Drop::Invalid;
};

// One answer checked again at `now` (the rules in the header).
AnswerOutcome checkAnswer(const SnapshotAnswerView& a, const IssuerIndex& index,
                          const SnapshotRestoreOptions& options, int64_t now) {
  ErrorQueueGuard guard;  // a refused record's OpenSSL errors are not left to the next one
  AnswerOutcome out;
  std::vector<CertIdInfo> ids(a.cert_ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto* p = reinterpret_cast<const unsigned char*>(a.cert_ids[i].data());
    OcspCertIdPtr id(d2i_OCSP_CERTID(nullptr, &p, static_cast<long>(a.cert_ids[i].size())));
    const auto* end =
        reinterpret_cast<const unsigned char*>(a.cert_ids[i].data()) + a.cert_ids[i].size();
    if (!id || p != end || !certIdInfoFrom(id.get(), &ids[i])) {
      return out;
    }
  }
  if (cacheKeyFor(ids) != a.key) return out;
  Sha256Digest der_sha256;
  std::optional<OcspEntry> decoded = decodeEntry(a.entry, options.freshness, &der_sha256);
  if (!decoded) return out;
  if (now >= decoded->hard_expiry) {
    out.drop = Drop::Expired;
    return out;
  }
  // The fetch time is the one field no signature covers: one in the future was not written
  // by this proxy's clock.
  if (decoded->fetched_at > now + options.clock_skew_s) return out;
  std::shared_ptr<const Route> route;
  for (const CertIdInfo& id : ids) {
    auto found = index.find(id);
    if (!found || !found->issuer) {
      out.drop = Drop::IssuerGone;
      return out;
    }
    if (route && route->issuer != found->issuer) return out;  // mixed issuers
    route = std::move(found);
  }
  if (!route->distrusted_as.empty()) {
    out.drop = Drop::Distrusted;
    return out;
  }
  ValidationInput in;
  in.der = decoded->der.whole();  // not sealed: one part
  in.der_sha256 = asBytes(der_sha256);
  in.cert_ids = &ids;
  in.issuer = route->issuer.get();
  in.now = now;
  in.clock_skew_s = options.clock_skew_s;
  in.local_responder = options.local_responder;
  auto validated = validateResponse(in);
  if (!validated) {
    if (validated.error().reason == Reason::Expired) out.drop = Drop::Expired;
    return out;
  }
  if (!entryMatchesResponse(*decoded, *validated)) return out;
  out.entry = sealEntry(std::move(*decoded));
  out.drop = Drop::None;
  return out;
}

// Every answer checked, on up to options.threads threads (and cores); outcome i is answer i's.
std::vector<AnswerOutcome> checkAnswers(const std::vector<SnapshotAnswerView>& answers,
                                        const IssuerIndex& index,
                                        const SnapshotRestoreOptions& options, int64_t now) {
  std::vector<AnswerOutcome> outcomes(answers.size());
  const size_t cores = std::max(1u, std::thread::hardware_concurrency());
  const size_t threads = std::clamp<size_t>(answers.size() / kAnswersPerThread, 1,
                                            std::clamp<size_t>(options.threads, 1, cores));
  auto work = [&](size_t first) {
    for (size_t i = first; i < answers.size(); i += threads) {
      outcomes[i] = checkAnswer(answers[i], index, options, now);
    }
  };
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < threads; ++t) helpers.emplace_back(work, t);
  work(0);
  for (std::thread& h : helpers) h.join();
  return outcomes;
}

// One document checked again at `now`; stored into `store` when it passes.
Drop restoreDocument(const SnapshotDocumentView& d, const CrlParseRules& rules, CrlStore& store,
                     int64_t now) {
  ErrorQueueGuard guard;
  if (d.fetched_at > now + rules.clock_skew_s) return Drop::Invalid;
  auto checked = checkDocument(rules, d.bytes, now);
  if (!checked) {
    const Error& err = checked.error();
    if (err.reason == Reason::Expired) return Drop::Expired;
    return err.code == "unknown_issuer" ? Drop::IssuerGone : Drop::Invalid;
  }
  std::shared_ptr<CrlEntry> entry = std::move(*checked);
  entry->url = std::string(d.url);
  entry->fetched_at = d.fetched_at;
  entry->bytes = std::string(d.bytes);  // before finishCrlEntry: the ETag is their hash
  finishCrlEntry(*entry, rules.ttl_s, rules.refresh_fraction);
  if (now >= entry->hard_expiry) return Drop::Expired;
  store.put(std::move(entry));
  return Drop::None;
}

}  // namespace

SnapshotLoadReport restoreSnapshot(std::string_view file, const IssuerIndex& index,
                                   const SnapshotTargets& targets,
                                   const SnapshotRestoreOptions& options, int64_t now,
                                   Metrics* metrics) {
  const int64_t started = monotonicMs();
  SnapshotLoadReport report;
  report.at = now;
  auto decoded = decodeSnapshot(file);
  if (!decoded) {
    report.result = "invalid";
    report.reason = decoded.error().code;
    logEvent(LogLevel::Warn, "snapshot_invalid",
             {{"reason", report.reason},
              {"detail", decoded.error().detail},
              {"bytes", std::to_string(file.size())},
              {"action", "ignored"}});
    return report;
  }
  report.result = "loaded";
  report.written_at = decoded->written_at;
  auto count = [&](const char* kind, Drop drop) {
    if (drop != Drop::None) {
      ++report.dropped;
      ++report.dropped_by_reason[dropName(drop)];
    }
    if (metrics != nullptr) metrics->counter(Metric::SnapshotRecords, {kind, dropName(drop)}).inc();
  };

  std::vector<AnswerOutcome> outcomes = checkAnswers(decoded->answers, index, options, now);
  for (size_t i = 0; i < outcomes.size(); ++i) {
    count("answer", outcomes[i].drop);
    if (!outcomes[i].entry) continue;
    targets.cache.put(decoded->answers[i].key, std::move(outcomes[i].entry));
    ++report.answers;
  }
  for (const SnapshotDocumentView& d : decoded->documents) {
    const bool crl = d.kind == DocKind::Crl;
    CrlStore* store = crl ? &targets.crls : targets.ca_issuers;
    const Drop drop =
        store == nullptr
            ? Drop::Invalid
            : restoreDocument(d, crl ? options.crl_rules : options.ca_issuers_rules, *store, now);
    count(crl ? "crl" : "ca_issuers", drop);
    if (drop == Drop::None) ++(crl ? report.crls : report.ca_issuers);
  }
  report.ms = monotonicMs() - started;
  auto dropped = [&report](const char* reason) {
    auto it = report.dropped_by_reason.find(reason);
    return std::to_string(it == report.dropped_by_reason.end() ? 0 : it->second);
  };
  logEvent(LogLevel::Info, "snapshot_loaded",
           {{"answers", std::to_string(report.answers)},
            {"crls", std::to_string(report.crls)},
            {"ca_issuers", std::to_string(report.ca_issuers)},
            {"dropped", std::to_string(report.dropped)},
            {"expired", dropped("expired")},
            {"issuer_gone", dropped("issuer_gone")},
            {"distrusted", dropped("distrusted")},
            {"invalid", dropped("invalid")},
            {"written_at", rfc3339(report.written_at)},
            {"ms", std::to_string(report.ms)}});
  return report;
}

void loadSnapshot(SnapshotStore& store, const IssuerIndex& index, const SnapshotTargets& targets,
                  const SnapshotRestoreOptions& options, int64_t now, Metrics* metrics) {
  if (!store.enabled()) return;
  std::string invalid_reason;
  std::optional<std::string> file = store.read(&invalid_reason);
  if (file) {
    store.noteLoad(restoreSnapshot(*file, index, targets, options, now, metrics));
    return;
  }
  SnapshotLoadReport report;
  report.at = now;
  report.result = invalid_reason.empty() ? "none" : "invalid";
  report.reason = invalid_reason;
  store.noteLoad(std::move(report));
}

}  // namespace ocsp
