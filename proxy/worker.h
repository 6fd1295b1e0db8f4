#pragma once
// One worker thread (docs/ARCHITECTURE.md §2, §5): its own event_base, an HttpServer
// (http/http_server.h) accepting on its own descriptor of the listening socket, its own curl multi
// handle, and its own chain of pipeline stages over the shared in-process cache.
#include <event2/event.h>

#include <atomic>
#include <memory>
#include <optional>
#include <thread>

#include "cache/coalescer.h"
#include "cache/memory_cache.h"
#include "cache/memory_source.h"
#include "cache/redis_source.h"
#include "cache/redis_status.h"
#include "core/handles.h"
#include "core/metrics.h"
#include "core/mailbox.h"
#include "proxy/http_front.h"
#include "http/http_server.h"
#include "proxy/policy_source.h"
#include "proxy/revocation_log.h"
#include "upstream/aia_completer.h"
#include "upstream/allow_list.h"
#include "upstream/crl_bridge_source.h"
#include "upstream/crl_service.h"
#include "upstream/curl_fetcher.h"
#include "upstream/fqdn_health.h"
#include "upstream/issuer_discovery.h"
#include "upstream/issuer_index.h"
#include "upstream/issuer_watch.h"
#include "upstream/known_serials.h"
#include "upstream/upstream_source.h"

namespace ocsp {

// What all workers share. Everything referenced must outlive the workers.
struct SharedState {
  MemoryCache& cache;
  IssuerIndex& index;           // AIA completion learns issuers into it
  DiscoveryMemo& discovery_memo;  // recent issuer discovery failures
  const AllowList& allow;
  X509_STORE* trust_store;      // forward.trust_store; null if it could not be loaded
  CrlService* crl;              // null: CRL URLs get 502
  RevocationLog* revocation_log;  // null: no revocation log
  const IssuerWatch* watch;
  InflightTable& inflight;
  FqdnHealth& health;
  NonceEcho& nonce_echo;        // nonce: passthrough, what each upstream does with nonces
  const Clock& clock;
  RedisStatus* redis_status;  // null when no redis: section is configured
  Metrics* metrics;
  ConnectionGate* connections;  // limits.max_connections over all workers and generations
  RateLimiter* rate;            // limits.rate_per_client
  CrlService* ca_issuers = nullptr;  // the caIssuers service; null: caIssuers URLs get 502
  // The serials known to be issued (upstream/known_serials.h): what the CRL bridge may answer
  // `good` for. Lives as long as the process; never null in the server.
  const KnownSerials* known_serials = nullptr;
  // What the CRL bridge learns, shared by the generation's workers; null: a state of the
  // worker's own (tests).
  CrlBridgeState* crl_bridge = nullptr;
  RecentRevocations* recent_revocations = nullptr;  // the status page's; null: not kept
};

// The options of one worker's stages, derived from one config (proxy/component_options.h).
struct WorkerOptions {
  AiaCompleter::Options completer;
  UpstreamSource::Options upstream;
  CrlBridgeSource::Options crl_bridge;
  DiscoverySource::Options discovery;
  std::optional<RedisSource::Options> redis;  // absent without a redis: section
  PolicySource::Options policy;
  FrontOptions front;
  HttpServerLimits server;  // its gate and open-files counter come from SharedState
};

class Worker {
 public:
  // Takes ownership of `listen_fd` (closed when the worker stops accepting or goes).
  Worker(int id, const WorkerOptions& options, const SharedState& shared, int listen_fd);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();
  // Thread-safe: asks the loop to exit at once. join() waits for it.
  void stop();
  // Thread-safe: stops accepting connections (the listening socket is closed: a worker that
  // replaces this one holds its own descriptor of it), answers what is in flight with
  // "Connection: close", and exits the loop when nothing is in flight or after `timeout_ms`.
  void drain(int64_t timeout_ms);
  void join();
  bool running() const { return running_.load(); }

  // For background work on this worker's loop (WatchChecker): its base, its mailbox, and
  // its chain below PolicySource (lookups must come routed: Lookup::route set).
  event_base* base() const { return base_.get(); }
  Mailbox& mailbox() { return mailbox_; }
  Source& routedChain() { return memory_; }

 private:
  void run();
  static void onDrainTick(evutil_socket_t, short, void* self);

  int id_;
  // Declaration order is destruction order reversed: the server goes first (its connections
  // close; exchanges in flight are never answered), then the stages and the fetcher
  // (in-flight callbacks are dropped), then the base.
  EventBasePtr base_;
  Mailbox mailbox_;
  // Pipeline, innermost first; wired in the constructor, outermost last.
  CurlFetcher fetcher_;
  AiaCompleter completer_;
  UpstreamSource upstream_;
  CrlBridgeState own_bridge_state_;  // used when SharedState has none
  CrlBridgeSource bridge_;
  DiscoverySource discovery_;
  CoalescingSource coalescer_;
  std::unique_ptr<RedisSource> redis_;  // null without a redis: section
  MemorySource memory_;
  PolicySource policy_;
  HttpFront front_;
  HttpServer server_;
  EventPtr drain_tick_;
  int64_t drain_started_ms_ = 0;
  int64_t drain_deadline_ms_ = 0;
  std::thread thread_;
  std::atomic<bool> running_{false};
};

}  // namespace ocsp
