#include "proxy/admin.h"

#include <event2/buffer.h>

#include <string_view>
#include <unordered_map>

#include "core/entry_arena.h"
#include "core/entry_der.h"
#include "core/json.h"
#include "core/log.h"
#include "core/process_memory.h"
#include "proxy/request_memo.h"
#include "pki/validation_memo.h"
#include "proxy/status_model.h"
#include "proxy/status_page.h"

namespace ocsp {

namespace {

void reply(evhttp_request* req, int code, const char* reason, const char* type,
           const std::string& body) {
  evkeyvalq* h = evhttp_request_get_output_headers(req);
  evhttp_add_header(h, "Content-Type", type);
  evhttp_add_header(h, "Cache-Control", "no-store");
  evbuffer_add(evhttp_request_get_output_buffer(req), body.data(), body.size());
  evhttp_send_reply(req, code, reason, nullptr);
}

// Members of a JSON object or array being written into `out`: each adds the comma itself.
void sep(std::string& out) {
  if (out.back() != '{' && out.back() != '[') out.push_back(',');
}
void raw(std::string& out, const char* name, const std::string& json) {
  sep(out);
  appendJsonString(out, name);
  out.push_back(':');
  out += json;
}
void str(std::string& out, const char* name, std::string_view value) {
  raw(out, name, jsonString(value));
}
void num(std::string& out, const char* name, int64_t value) {
  raw(out, name, std::to_string(value));
}
void flag(std::string& out, const char* name, bool value) {
  raw(out, name, value ? "true" : "false");
}
void when(std::string& out, const char* name, int64_t t) {
  raw(out, name, t == 0 ? "null" : jsonString(rfc3339(t)));
}
// Opens a member that is an object or array ('{' or '['); close it with out.push_back().
void open(std::string& out, const char* name, char bracket) {
  raw(out, name, std::string(1, bracket));
}
void openElement(std::string& out) {
  sep(out);
  out.push_back('{');
}

// The cache snapshot in state_dir (docs/ARCHITECTURE.md §6.6): its last write and the load.
void appendSnapshotStatus(std::string& out, const StatusModel::Snapshot& s) {
  open(out, "snapshot", '{');
  flag(out, "enabled", s.enabled);
  str(out, "path", s.path);
  const SnapshotWriteReport& w = s.last_write;
  open(out, "last_write", '{');
  when(out, "at", w.at);
  str(out, "result", w.result);
  str(out, "detail", w.detail);
  num(out, "bytes", static_cast<int64_t>(w.bytes));
  num(out, "answers", static_cast<int64_t>(w.answers));
  num(out, "documents", static_cast<int64_t>(w.documents));
  num(out, "left_out", static_cast<int64_t>(w.left_out));
  num(out, "ms", w.ms);
  out += "}";
  const SnapshotLoadReport& l = s.load;
  open(out, "load", '{');
  when(out, "at", l.at);
  str(out, "result", l.result);
  str(out, "reason", l.reason);
  when(out, "written_at", l.written_at);
  num(out, "answers", static_cast<int64_t>(l.answers));
  num(out, "crls", static_cast<int64_t>(l.crls));
  num(out, "ca_issuers", static_cast<int64_t>(l.ca_issuers));
  num(out, "dropped", static_cast<int64_t>(l.dropped));
  open(out, "dropped_by_reason", '{');
  for (const auto& [reason, n] : l.dropped_by_reason) {
    num(out, reason.c_str(), static_cast<int64_t>(n));
  }
  out += "}";
  num(out, "ms", l.ms);
  out += "}}";
}

// The distrust entries (docs/ARCHITECTURE.md §9): their schedule and the stage each is in now.
void appendDistrustStatus(std::string& out, const std::vector<AdminOptions::Distrust>& list,
                          int64_t now) {
  open(out, "distrust", '[');
  for (const AdminOptions::Distrust& d : list) {
    openElement(out);
    str(out, "name", d.name);
    num(out, "keys", static_cast<int64_t>(d.keys));
    str(out, "mode", conf::distrustStageName(d.schedule.mode));
    when(out, "enforce_from", d.schedule.enforce_from.value_or(0));
    str(out, "stage", conf::distrustStageName(conf::distrustStageAt(d.schedule, nullptr, now)));
    open(out, "clients", '[');
    for (const conf::DistrustClientGroup& group : d.schedule.clients) {
      openElement(out);
      str(out, "name", group.name);
      open(out, "cidrs", '[');
      for (const Cidr& block : group.cidrs) {
        sep(out);
        appendJsonString(out, cidrText(block));
      }
      out += "]";
      when(out, "enforce_from", group.enforce_from);
      str(out, "stage", conf::distrustStageName(conf::groupStageAt(d.schedule, group, now)));
      out += "}";
    }
    out += "]}";
  }
  out += "]";
}

// The last revoked answers served, and until when each upstream's cached answers hold.
void appendRecentAndHoldouts(std::string& out, const StatusModel& m) {
  open(out, "recent_revocations", '{');
  num(out, "total", static_cast<int64_t>(m.revoked_answers));
  open(out, "items", '[');
  for (const RecentRevocations::Item& r : m.recent_revocations) {
    openElement(out);
    raw(out, "time", jsonString(rfc3339Ms(r.time_ms)));
    str(out, "client", r.client);
    str(out, "upstream", r.upstream);
    str(out, "upstream_fqdn", r.upstream_fqdn);
    str(out, "issuer", r.issuer);
    str(out, "serial", r.serial);
    when(out, "revocation_time", r.revocation_time);
    raw(out, "revocation_reason", r.reason.empty() ? "null" : jsonString(r.reason));
    out += "}";
  }
  out += "]}";
  open(out, "valid_until", '[');
  for (const StatusModel::Holdout& h : m.holdouts) {
    openElement(out);
    str(out, "origin", h.origin);
    num(out, "answers", static_cast<int64_t>(h.answers));
    when(out, "earliest", h.earliest);
    when(out, "latest", h.latest);
    out += "}";
  }
  out += "]";
  open(out, "bridge_crls", '[');
  for (const StatusModel::BridgeCrl& b : m.bridge_crls) {
    openElement(out);
    str(out, "upstream", b.upstream);
    str(out, "issuer", b.issuer);
    str(out, "url", b.url);
    flag(out, "held", b.held);
    when(out, "next_update", b.next_update);
    out += "}";
  }
  out += "]";
}

// A counter kept by its component (a cache's stats): the table's counter is brought up to it
// at each scrape (it only grows, and scrapes run one at a time).
void raiseTo(Counter& counter, uint64_t count) {
  if (count > counter.value()) counter.inc(count - counter.value());
}

// One in-process cache's size, bound and evictions of still-valid entries.
void setCacheSeries(Metrics& m, std::string_view cache, size_t entries, size_t bytes,
                    size_t max_bytes, uint64_t valid_evictions) {
  m.gauge(Metric::CacheEntries, {cache}).set(static_cast<int64_t>(entries));
  m.gauge(Metric::CacheBytes, {cache}).set(static_cast<int64_t>(bytes));
  m.gauge(Metric::CacheLimitBytes, {cache}).set(static_cast<int64_t>(max_bytes));
  raiseTo(m.counter(Metric::CacheEvictions, {cache}), valid_evictions);
}

// The nextUpdate of the CRL held for each crl.urls entry (in the past for one the store has
// not dropped yet), 0 when none is held; no series for a CRL without nextUpdate. Labelled by
// configured URLs only (core/metrics.h).
void setCrlNextUpdates(Metrics& m, const std::vector<std::string>& urls, const CrlStore& store) {
  if (urls.empty()) return;
  std::unordered_map<std::string_view, int64_t> next_update;
  const auto held = store.snapshot();
  for (const auto& e : held) next_update.emplace(e->url, e->crl.next_update);
  for (const std::string& url : urls) {
    auto it = next_update.find(url);
    if (it == next_update.end()) {
      m.gauge(Metric::CrlNextUpdate, {url}).set(0);
    } else if (it->second != 0) {
      m.gauge(Metric::CrlNextUpdate, {url}).set(it->second);
    }
  }
}

}  // namespace

std::string statusJson(const AdminView& view) { return statusJson(collectStatus(view)); }

std::string statusJson(const StatusModel& m) {
  std::string out = "{";
  str(out, "version", m.version);
  num(out, "uptime_s", m.now - m.started_at);
  flag(out, "ready", m.not_ready.empty());
  open(out, "config", '{');
  str(out, "path", m.config_path);
  num(out, "generation", m.generation);
  when(out, "loaded_at", m.loaded_at);
  raw(out, "last_reload_error",
      m.last_reload_error.empty() ? "null" : jsonString(m.last_reload_error));
  out.push_back('}');

  open(out, "upstreams", '[');
  for (const StatusModel::Upstream& up : m.upstreams) {
    openElement(out);
    str(out, "name", up.name);
    str(out, "revocation_source", up.revocation_source);
    open(out, "crls", '[');
    for (const CrlBridgeState::IssuerCrl& found : up.crls) {
      openElement(out);
      str(out, "issuer", found.issuer);
      str(out, "url", found.url);
      out += "}";
    }
    out += "]";
    open(out, "fqdns", '[');
    for (const StatusModel::Circuit& c : up.fqdns) {
      openElement(out);
      str(out, "fqdn", c.fqdn);
      str(out, "circuit", c.state);
      num(out, "consecutive_failures", c.consecutive_failures);
      out += "}";
    }
    out += "]}";
  }
  out += "]";

  open(out, "watched_intermediates", '[');
  for (const IssuerWatch::View& w : m.watched) {
    openElement(out);
    str(out, "name", w.name);
    str(out, "subject", w.subject);
    str(out, "state", watchStateName(w.state));
    when(out, "revocation_time", w.revocation ? w.revocation->time : 0);
    str(out, "via", w.via);
    str(out, "detail", w.detail);
    when(out, "checked_at", w.checked_at);
    when(out, "not_after", w.not_after);
    out += "}";
  }
  out += "]";

  appendDistrustStatus(out, m.distrust, m.now);

  open(out, "issuer_expiry", '[');
  for (const IssuerWatch::Expiry& e : m.expiry) {
    openElement(out);
    str(out, "name", e.name);
    str(out, "kind", e.kind);
    when(out, "not_after", e.not_after);
    num(out, "seconds_left", e.not_after - m.now);
    flag(out, "expiring", e.expiring);
    out += "}";
  }
  out += "]";

  open(out, "cache", '{');
  open(out, "ocsp", '{');
  num(out, "entries", static_cast<int64_t>(m.ocsp.entries));
  num(out, "bytes", static_cast<int64_t>(m.ocsp.bytes));
  num(out, "max_bytes", static_cast<int64_t>(m.ocsp_max_bytes));
  num(out, "evictions", static_cast<int64_t>(m.ocsp.evictions));
  out += "}";
  // Redis hits whose validation was remembered (README "Shared cache: Redis").
  const ValidationMemo::Stats& memo = m.validation_memo;
  open(out, "validation_memo", '{');
  num(out, "entries", static_cast<int64_t>(memo.size));
  num(out, "hits", static_cast<int64_t>(memo.hits));
  num(out, "misses", static_cast<int64_t>(memo.misses));
  num(out, "skipped", static_cast<int64_t>(memo.skipped));
  num(out, "evictions", static_cast<int64_t>(memo.evictions));
  out += "}";
  open(out, "crl", '{');
  num(out, "entries", static_cast<int64_t>(m.crl.entries));
  num(out, "bytes", static_cast<int64_t>(m.crl.bytes));
  num(out, "max_bytes", static_cast<int64_t>(m.crl_max_bytes));
  open(out, "crls", '[');
  for (const auto& e : m.crls) {
    openElement(out);
    str(out, "url", e->url);
    str(out, "issuer", e->crl.issuer);
    when(out, "this_update", e->crl.this_update);
    when(out, "next_update", e->crl.next_update);
    num(out, "entries", static_cast<int64_t>(e->crl.revoked.size()));
    flag(out, "signature_checked", e->crl.signature_checked);
    // RFC 5280 §5.2.4/§5.2.6: a delta and its base, and where a complete CRL's deltas are.
    flag(out, "delta", e->crl.delta);
    raw(out, "crl_number", e->crl.crl_number.empty() ? "null" : jsonString(e->crl.crl_number));
    raw(out, "base_crl_number",
        e->crl.base_crl_number.empty() ? "null" : jsonString(e->crl.base_crl_number));
    open(out, "freshest_urls", '[');
    for (const std::string& url : e->crl.freshest_urls) {
      sep(out);
      appendJsonString(out, url);
    }
    out += "]}";
  }
  out += "]}";
  if (m.ca_issuers) {
    open(out, "ca_issuers", '{');
    num(out, "entries", static_cast<int64_t>(m.ca_issuers->stats.entries));
    num(out, "bytes", static_cast<int64_t>(m.ca_issuers->stats.bytes));
    num(out, "max_bytes", static_cast<int64_t>(m.ca_issuers->max_bytes));
    open(out, "documents", '[');
    for (const auto& e : m.ca_issuers->documents) {
      openElement(out);
      str(out, "url", e->url);
      str(out, "subject", e->ca_issuers.subject);
      str(out, "content_type", contentTypeOf(e->ca_issuers.form));
      num(out, "certificates", static_cast<int64_t>(e->ca_issuers.certificates));
      when(out, "not_after", e->ca_issuers.not_after);
      when(out, "expires", e->hard_expiry);
      out += "}";
    }
    out += "]}";
  }
  out += "}";
  if (m.snapshot) appendSnapshotStatus(out, *m.snapshot);

  raw(out, "redis", m.redis ? jsonString(*m.redis) : "null");
  if (m.known_serials) {
    // What the CRL bridge may answer `good` for (upstream/known_serials.h).
    open(out, "known_serials", '{');
    num(out, "entries", static_cast<int64_t>(m.known_serials->entries));
    num(out, "refused", static_cast<int64_t>(m.known_serials->refused));
    out += "}";
  }
  num(out, "learned_issuers", static_cast<int64_t>(m.learned_count));
  // Issuers learned through AIA or discovery, or restored (docs/ARCHITECTURE.md §9).
  open(out, "learned", '[');
  for (const StatusModel::Learned& l : m.learned) {
    openElement(out);
    str(out, "subject", l.subject);
    str(out, "upstream", l.upstream);
    when(out, "learned_at", l.learned_at);
    str(out, "source", l.source);
    out.push_back('}');
  }
  out += "]";
  appendRecentAndHoldouts(out, m);
  out += "}\n";
  return out;
}

void addStatusCollectors(const AdminView& v) {
  const AdminView* view = &v;
  v.metrics.gauge(Metric::BuildInfo, {OCSP_PROXY_VERSION}).set(1);
  // Labelled by names from the config: after a reload, only what the running config has.
  for (Metric m : {Metric::CircuitOpen, Metric::IntermediateRevoked, Metric::IssuerExpirySeconds,
                   Metric::IssuerExpiring, Metric::CrlNextUpdate}) {
    v.metrics.collectedEachScrape(m);
  }
  v.metrics.addCollector([view](Metrics& m) {
    const int64_t now = view->clock.now();
    MemoryCache::Stats ocsp = view->cache.stats();
    CrlStore::Stats crl = view->crl_store.stats();
    setCacheSeries(m, "ocsp", ocsp.entries, ocsp.bytes, view->cache.maxBytes(),
                   ocsp.valid_evictions);
    setCacheSeries(m, "crl", crl.entries, crl.bytes, view->crl_store.maxBytes(),
                   crl.valid_evictions);
    if (view->ca_issuers_store != nullptr) {
      CrlStore::Stats held = view->ca_issuers_store->stats();
      setCacheSeries(m, "ca_issuers", held.entries, held.bytes,
                     view->ca_issuers_store->maxBytes(), held.valid_evictions);
    }
    setCrlNextUpdates(m, view->options.crl_urls, view->crl_store);
    if (view->known_serials != nullptr) {
      m.gauge(Metric::KnownSerials).set(static_cast<int64_t>(view->known_serials->size()));
    }
    m.gauge(Metric::CacheBytes, {"request_memo"})
        .set(static_cast<int64_t>(RequestMemo::processBytes()));
    if (auto heap = heapUsage()) {
      m.gauge(Metric::HeapBytes, {"in_use"}).set(static_cast<int64_t>(heap->in_use));
      m.gauge(Metric::HeapBytes, {"free"}).set(static_cast<int64_t>(heap->free));
    }
    const entry_arena::Stats arena = entry_arena::stats();
    m.gauge(Metric::EntryArenaBytes, {"spans"})
        .set(static_cast<int64_t>(arena.spans * entry_arena::kSpanBytes));
    m.gauge(Metric::EntryArenaBytes, {"large"}).set(static_cast<int64_t>(arena.large_bytes));
    const shared_der::Stats shared = shared_der::stats();
    m.gauge(Metric::SharedCertsValues).set(static_cast<int64_t>(shared.values));
    m.gauge(Metric::SharedCertsBytes).set(static_cast<int64_t>(shared.bytes));
    if (int64_t rss = residentBytes(); rss > 0) m.gauge(Metric::ResidentBytes).set(rss);
    if (view->redis_status != nullptr) {
      int up = view->redis_status->upCount();
      m.gauge(Metric::RedisConnections, {"up"}).set(up);
      m.gauge(Metric::RedisConnections, {"down"}).set(view->redis_status->slotCount() - up);
      // The stage counts in its own atomics (cache/redis_status.h); each scrape brings the
      // counters of the table up to them (raiseTo).
      const RedisCounters& c = view->redis_status->counters();
      const std::pair<const char*, const std::atomic<uint64_t>*> events[] = {
          {"hit", &c.hits},
          {"miss", &c.misses},
          {"bypassed", &c.bypassed},
          {"timeout", &c.timeouts},
          {"error", &c.errors},
          {"invalid_entry", &c.invalid_entries},
          {"write", &c.writes},
          {"write_error", &c.write_errors},
          {"older_refused", &c.older_refused},
          {"stale_served", &c.stale_served},
          {"disconnect", &c.disconnects},
          {"master_change", &c.master_changes}};
      for (const auto& [event, count] : events) {
        raiseTo(m.counter(Metric::RedisEvents, {event}), count->load(std::memory_order_relaxed));
      }
    }
    // Every configured FQDN, so that a circuit that closed again reads 0 (a closed circuit
    // is not in the snapshot).
    auto open = view->health.snapshot(monotonicMs());
    for (const AdminOptions::Upstream& up : view->options.upstreams) {
      for (const std::string& fqdn : up.fqdns) {
        bool is_open = false;
        for (const auto& c : open) is_open |= c.fqdn == fqdn && std::string_view(c.state) != "closed";
        m.gauge(Metric::CircuitOpen, {fqdn}).set(is_open ? 1 : 0);
      }
    }
    for (const auto& w : view->watch->snapshot()) {
      m.gauge(Metric::IntermediateRevoked, {w.name}).set(w.state == WatchState::Revoked ? 1 : 0);
    }
    for (const auto& e : view->watch->expiries(now)) {
      m.gauge(Metric::IssuerExpirySeconds, {e.name}).set(e.not_after - now);
      m.gauge(Metric::IssuerExpiring, {e.name}).set(e.expiring ? 1 : 0);
    }
  });
}

void onAdminRequest(evhttp_request* req, void* arg) {
  const auto& view = *static_cast<const AdminView*>(arg);
  const char* path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
  std::string p = path != nullptr ? path : "";
  if (p == "/healthz") {
    reply(req, 200, "OK", "text/plain", "ok\n");
  } else if (p == "/readyz") {
    std::vector<std::string> problems = view.not_ready();
    if (problems.empty()) {
      // Degraded parts do not make us unready: requests are still answered
      // (docs/ARCHITECTURE.md §14).
      std::string body = "ready\n";
      if (view.redis_status != nullptr && !view.redis_status->allUp()) {
        body += "degraded: " + view.redis_status->describe() + "\n";
      }
      reply(req, 200, "OK", "text/plain", body);
    } else {
      std::string body;
      for (const auto& why : problems) body += why + "\n";
      reply(req, 503, "Service Unavailable", "text/plain", body);
    }
  } else if (p == "/") {
    // A browser renders it: no script may run, nothing loads from elsewhere, and the page
    // cannot be framed (proxy/status_page.h).
    evkeyvalq* h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Security-Policy", kStatusPagePolicy);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    reply(req, 200, "OK", "text/html; charset=utf-8", statusPage(collectStatus(view)));
  } else if (p == "/status") {
    reply(req, 200, "OK", "application/json", statusJson(view));
  } else if (p == "/metrics") {
    reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", view.metrics.exposition());
  } else {
    reply(req, 404, "Not Found", "text/plain",
          "not found: try /, /healthz, /readyz, /status or /metrics\n");
  }
}

}  // namespace ocsp
