#pragma once
// Watched intermediates and issuer expiry (docs/ARCHITECTURE.md §9). Two parts:
//
// IssuerWatch, the shared state: per watched intermediate (watch.intermediates, which holds
// those of watch.issuers too) its last
// known revocation state, and the expiry of every CA the proxy relies on (configured
// issuers and watched intermediates). Rules:
//   - a state change of an intermediate is logged once: ERROR event=intermediate_revoked
//     when it becomes revoked, INFO event=intermediate_state otherwise;
//   - revokedName() is what the request path asks (PolicySource, once per query it routes:
//     Lookup::issuer_revoked, which flags the answer and the revocation log's line, and the
//     refusal under on_revoked_issuer: refuse): one relaxed atomic load while nothing is
//     revoked, a short lock otherwise.
// Thread-safe.
//
// WatchChecker, the timer: it checks each intermediate when upstream/watch_schedule.h says
// (spread over watch.interval by wall-clock slots, the first round paced over at most five
// minutes), through its AIA OCSP URL when that host is an upstream FQDN, as a query down
// worker 0's own chain (memory, Redis, coalescer, upstream: the same validated, cached
// pipeline as clients, so the CA is asked only when the cached answer is due for a refresh);
// otherwise, or if OCSP gives no answer, through its CRL distribution point when that host
// is a CRL host (CrlService, signature checked against the parent). An intermediate that
// neither reaches is "unchecked" with the reason. The config lists each certificate once
// (conf/watch_issuers.h), so each is checked once a round. Runs on worker 0's event loop;
// create it before that loop starts and destroy it after the loop ended.
#include <event2/event.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "conf/config.h"
#include "core/clock.h"
#include "core/handles.h"
#include "core/mailbox.h"
#include "core/source.h"
#include "upstream/allow_list.h"
#include "upstream/crl_service.h"
#include "upstream/watch_schedule.h"

namespace ocsp {

enum class WatchState { Unchecked, Good, Revoked, Unknown };
const char* watchStateName(WatchState s);

class IssuerWatch {
 public:
  // What the watch and its checker read of the config (derived in
  // proxy/component_options.cc).
  struct Options {
    std::vector<conf::WatchedCa> intermediates;   // watch.intermediates (and watch.issuers')
    int64_t interval_s = 0;                       // watch.interval
    int64_t expiry_warning_s = 0;                 // watch.expiry_warning
    conf::RevokedIssuerPolicy on_revoked_issuer = conf::RevokedIssuerPolicy::Flag;
    std::vector<conf::IssuerCert> issuers;        // upstreams[].issuers, for their expiry
    std::vector<std::string> upstream_names;      // upstreams[].name, by upstream index
  };

  explicit IssuerWatch(Options options);
  const Options& options() const { return options_; }

  struct View {
    std::string name;
    std::string subject;
    WatchState state = WatchState::Unchecked;
    std::optional<Revocation> revocation;
    std::string via;          // "ocsp http://..." or "crl http://..."
    std::string detail;       // why unchecked, or the last error
    int64_t checked_at = 0;   // 0 = never
    int64_t not_after = 0;
  };
  struct Expiry {
    std::string name;         // watch name, or the issuer's subject
    std::string kind;         // "intermediate" | "issuer"
    int64_t not_after = 0;
    bool expiring = false;    // within watch.expiry_warning (or already expired)
  };

  size_t size() const { return options_.intermediates.size(); }
  // After a reload: takes over what `previous` last saw of each intermediate both watch (same
  // name and subject), so that its flags hold until this config's first check.
  void adopt(const IssuerWatch& previous);
  void record(size_t index, WatchState state, std::optional<Revocation> revocation,
              std::string via, std::string detail, int64_t now);
  // True if `issuer` is a watched intermediate last seen revoked.
  bool isRevoked(X509* issuer) const;
  // The name of the revoked intermediate `issuer` is, or "".
  std::string revokedName(X509* issuer) const;
  std::vector<View> snapshot() const;
  std::vector<Expiry> expiries(int64_t now) const;

 private:
  const Options options_;
  mutable std::mutex mu_;
  std::vector<View> views_;
  std::atomic<int> revoked_count_{0};
};

class WatchChecker {
 public:
  // Everything referenced must outlive this object. `chain` is worker 0's stage below
  // PolicySource (the query is routed here); `crl` may be null. The intermediates, their
  // interval and the upstream names are `watch`'s options.
  WatchChecker(IssuerWatch& watch, const AllowList& allow, Source& chain, CrlService* crl,
               Mailbox& mailbox, event_base* base, const Clock& clock);
  ~WatchChecker();
  WatchChecker(const WatchChecker&) = delete;
  WatchChecker& operator=(const WatchChecker&) = delete;

  // Checks every intermediate whose time has come by the clock, and sets the timer for the
  // next. The timer calls it (and once the loop runs, a posted call); tests that move a fake
  // clock call it themselves.
  void runDue();
  // When intermediate `index` is next checked (seconds since the epoch).
  int64_t dueAt(size_t index) const { return due_.at(index); }

 private:
  static void onTimer(evutil_socket_t, short, void* self);
  void check(size_t index);
  void checkCrl(size_t index, const std::string& ocsp_problem);

  IssuerWatch& watch_;
  const AllowList& allow_;
  Source& chain_;
  CrlService* crl_;
  Mailbox& mailbox_;
  const Clock& clock_;
  WatchSchedule schedule_;
  std::vector<int64_t> due_;  // by index
  EventPtr timer_;
  std::shared_ptr<char> alive_ = std::make_shared<char>();  // replies after destruction drop
};

}  // namespace ocsp
