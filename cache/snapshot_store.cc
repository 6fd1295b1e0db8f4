#include "cache/snapshot_store.h"

#include <algorithm>
#include <numeric>

#include "cache/entry_codec.h"
#include "core/log.h"
#include "core/ossl.h"

namespace ocsp {

namespace {

// Orders of the CertIDs tried against the key: a client asks for more than one certificate
// rarely, and a responder that reorders them more rarely still.
constexpr size_t kMaxPermutedCertIds = 4;
// How often collectSnapshot asks whether to give up.
constexpr size_t kGiveUpCheckEvery = 256;

}  // namespace

std::vector<std::string> certIdsAnswered(const CacheKey& key, std::string_view response_der) {
  ErrorQueueGuard guard;
  const auto* p = reinterpret_cast<const unsigned char*>(response_der.data());
  OcspResponsePtr response(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(response_der.size())));
  if (!response) return {};
  OcspBasicRespPtr basic(OCSP_response_get1_basic(response.get()));
  if (!basic) return {};
  std::vector<CertIdInfo> ids(static_cast<size_t>(std::max(0, OCSP_resp_count(basic.get()))));
  for (size_t i = 0; i < ids.size(); ++i) {
    OCSP_SINGLERESP* single = OCSP_resp_get0(basic.get(), static_cast<int>(i));
    if (single == nullptr || !certIdInfoFrom(OCSP_SINGLERESP_get0_id(single), &ids[i])) return {};
  }
  if (ids.empty()) return {};
  std::vector<size_t> order(ids.size());
  std::iota(order.begin(), order.end(), 0);
  std::vector<CertIdInfo> ordered(ids.size());
  do {
    for (size_t i = 0; i < order.size(); ++i) ordered[i] = ids[order[i]];
    if (cacheKeyFor(ordered) == key) {
      std::vector<std::string> out;
      for (const CertIdInfo& id : ordered) out.push_back(id.der);
      return out;
    }
  } while (ids.size() <= kMaxPermutedCertIds && std::next_permutation(order.begin(), order.end()));
  return {};
}

std::optional<SnapshotContent> collectSnapshot(const SnapshotSources& sources, int64_t now,
                                               const std::function<bool()>& give_up) {
  SnapshotContent content;
  content.written_at = now;
  bool gave_up = false;
  size_t seen = 0;
  if (sources.cache != nullptr) {
    sources.cache->forEach([&](const CacheKey& key, const std::shared_ptr<const OcspEntry>& e) {
      if (gave_up || (++seen % kGiveUpCheckEvery == 0 && give_up && give_up())) {
        gave_up = true;
        return;
      }
      if (!e->cacheable || now >= e->hard_expiry) return;
      SnapshotAnswer a;
      a.key = key;
      a.cert_ids = certIdsAnswered(key, e->der.bytes());
      if (a.cert_ids.empty()) {
        ++content.left_out;
        return;
      }
      a.entry = encodeEntry(*e);
      a.hard_expiry = e->hard_expiry;
      content.answers.push_back(std::move(a));
    });
  }
  if (gave_up) return std::nullopt;
  for (const CrlStore* store : {sources.crls, sources.ca_issuers}) {
    if (store == nullptr) continue;
    for (const auto& e : store->snapshot()) {
      if (now >= e->hard_expiry) continue;
      content.documents.push_back(
          SnapshotDocument{e->kind, e->url, e->bytes, e->fetched_at, e->hard_expiry});
    }
  }
  return content;
}

SnapshotStore::SnapshotStore(std::optional<StateDir> dir, Options options, SnapshotSources sources,
                             const Clock& clock, Metrics* metrics)
    : dir_(std::move(dir)),
      options_(options),
      sources_(sources),
      clock_(clock),
      metrics_(metrics) {}

SnapshotStore::~SnapshotStore() {
  abandon_ = true;
  {
    std::lock_guard lock(run_mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string SnapshotStore::path() const {
  return dir_ ? dir_->path() + "/" + kSnapshotFile : std::string();
}

std::optional<std::string> SnapshotStore::read(std::string* invalid_reason) const {
  if (!enabled()) return std::nullopt;
  auto bytes = dir_->read(kSnapshotFile, options_.max_bytes);
  if (bytes) return std::move(*bytes);
  if (bytes.error().code == "state_missing") return std::nullopt;
  const char* reason = bytes.error().code == "state_too_large" ? "too_large" : "unreadable";
  if (invalid_reason != nullptr) *invalid_reason = reason;
  logEvent(LogLevel::Warn, "snapshot_invalid",
           {{"path", path()},
            {"reason", reason},
            {"detail", bytes.error().detail},
            {"action", "ignored"}});
  return std::nullopt;
}

void SnapshotStore::start() {
  if (!enabled() || thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void SnapshotStore::run() {
  std::unique_lock lock(run_mu_);
  while (!stopping_) {
    if (wake_.wait_for(lock, std::chrono::seconds(options_.interval_s),
                       [this] { return stopping_; })) {
      break;
    }
    lock.unlock();
    write(0, false);
    lock.lock();
  }
}

SnapshotWriteReport SnapshotStore::writeNow() { return write(0, false); }

SnapshotWriteReport SnapshotStore::writeFinal(int64_t budget_ms) {
  const int64_t deadline = monotonicMs() + budget_ms;
  {
    // The periodic writer's write in progress gives up; then the thread ends.
    abandon_ = true;
    std::lock_guard lock(run_mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  abandon_ = false;
  return write(deadline, true);
}

// One file write, on a thread of its own that holds all it needs: a stalled filesystem (a hung
// NFS mount) then stalls that thread only, and whoever waits for it can give up.
struct SnapshotStore::FileWrite {
  FileWrite(StateDir d, std::string b) : dir(std::move(d)), bytes(std::move(b)) {}
  StateDir dir;
  std::string bytes;
  std::mutex mu;
  std::condition_variable finished;
  bool done = false;  // under mu
  Status result = Ok{};

  static void start(const std::shared_ptr<FileWrite>& job) {
    std::thread([job] {
      Status written = job->dir.writeAtomically(kSnapshotFile, job->bytes);
      job->bytes = std::string();
      std::lock_guard lock(job->mu);
      job->result = std::move(written);
      job->done = true;
      job->finished.notify_all();
    }).detach();
  }
  bool isDone() {
    std::lock_guard lock(mu);
    return done;
  }
};

SnapshotWriteReport SnapshotStore::write(int64_t deadline_ms, bool at_shutdown) {
  SnapshotWriteReport report;
  if (!enabled()) return report;
  std::lock_guard write_lock(write_mu_);
  const int64_t started = monotonicMs();
  report.at = clock_.now();
  report.at_shutdown = at_shutdown;
  auto late = [this, deadline_ms] {
    return abandon_.load() || (deadline_ms != 0 && monotonicMs() >= deadline_ms);
  };
  std::optional<SnapshotContent> content = collectSnapshot(sources_, report.at, late);
  std::optional<EncodedSnapshot> encoded;
  if (content) encoded = encodeSnapshot(*content, options_.max_bytes);
  content.reset();  // its copies of the DER and the CRLs are in the encoding now
  if (encoded) {
    report.bytes = encoded->bytes.size();
    report.answers = encoded->answers;
    report.documents = encoded->documents;
    report.left_out = encoded->left_out;
  }
  if (!encoded || late()) {
    report.result = "abandoned";
    report.detail = abandon_ ? "stopping" : "past the time budget; the previous file stays";
  } else if (encoded->records_sha256 == last_records_) {
    report.result = "unchanged";
  } else if (in_flight_ && !in_flight_->isDone()) {
    report.result = "abandoned";
    report.detail = "the previous write has not finished (a stalled filesystem?)";
  } else {
    in_flight_ = std::make_shared<FileWrite>(*dir_, std::move(encoded->bytes));
    FileWrite::start(in_flight_);
    std::unique_lock lock(in_flight_->mu);
    // Checked every 100 ms for a stop; at shutdown, until the budget is spent.
    while (!in_flight_->done && !late()) {
      in_flight_->finished.wait_for(lock, std::chrono::milliseconds(100));
    }
    if (!in_flight_->done) {
      report.result = "abandoned";
      report.detail =
          "the filesystem did not finish the write in time; the previous file "
          "stays until it does";
    } else if (in_flight_->result) {
      report.result = "written";
      last_records_ = encoded->records_sha256;
      if (failing_) logEvent(LogLevel::Info, "state_write_recovered", {{"file", kSnapshotFile}});
      failing_ = false;
    } else {
      report.result = "failed";
      report.detail = in_flight_->result.error().detail;
      if (!failing_) {
        logEvent(LogLevel::Warn, "state_write_failed",
                 {{"file", kSnapshotFile}, {"detail", report.detail}});
      }
      failing_ = true;
    }
  }
  report.ms = monotonicMs() - started;
  const bool wrote = report.result == "written";
  const bool kept = wrote || report.result == "unchanged";
  logEvent(at_shutdown ? (kept ? LogLevel::Info : LogLevel::Warn) : LogLevel::Debug,
           "snapshot_written",
           {{"result", report.result},
            {"when", at_shutdown ? "shutdown" : "interval"},
            {"bytes", std::to_string(report.bytes)},
            {"answers", std::to_string(report.answers)},
            {"documents", std::to_string(report.documents)},
            {"left_out", std::to_string(report.left_out)},
            {"ms", std::to_string(report.ms)},
            {"detail", report.detail}});
  if (metrics_ != nullptr) {
    metrics_->counter(Metric::SnapshotWrites, {report.result}).inc();
    if (wrote) metrics_->gauge(Metric::SnapshotLastWrite).set(report.at);
  }
  std::lock_guard lock(report_mu_);
  last_write_ = report;
  return report;
}

void SnapshotStore::noteLoad(SnapshotLoadReport report) {
  std::lock_guard lock(report_mu_);
  last_load_ = std::move(report);
}

SnapshotWriteReport SnapshotStore::lastWrite() const {
  std::lock_guard lock(report_mu_);
  return last_write_;
}

SnapshotLoadReport SnapshotStore::lastLoad() const {
  std::lock_guard lock(report_mu_);
  return last_load_;
}

}  // namespace ocsp
