#include "proxy/admin.h"

#include <event2/buffer.h>

#include "core/json.h"
#include "core/log.h"

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

void key(std::string& out, const char* name) {
  appendJsonString(out, name);
  out.push_back(':');
}

std::string timeOrNull(int64_t t) { return t == 0 ? "null" : jsonString(rfc3339(t)); }

}  // namespace

std::string statusJson(const AdminView& v) {
  const int64_t now = v.clock.now();
  std::string out = "{";
  key(out, "version");
  out += jsonString(OCSP_PROXY_VERSION) + ",";
  key(out, "uptime_s");
  out += std::to_string(now - v.started_at) + ",";
  key(out, "ready");
  out += v.not_ready().empty() ? "true," : "false,";

  key(out, "upstreams");
  out += "[";
  auto circuits = v.health.snapshot(monotonicMs());
  for (size_t u = 0; u < v.config->upstreams.size(); ++u) {
    const conf::Upstream& up = v.config->upstreams[u];
    if (u > 0) out += ",";
    out += "{";
    key(out, "name");
    out += jsonString(up.name) + ",";
    key(out, "fqdns");
    out += "[";
    for (size_t f = 0; f < up.fqdns.size(); ++f) {
      const char* state = "closed";
      int failures = 0;
      for (const auto& c : circuits) {
        if (c.fqdn == up.fqdns[f]) {
          state = c.state;
          failures = c.consecutive_failures;
        }
      }
      if (f > 0) out += ",";
      out += "{";
      key(out, "fqdn");
      out += jsonString(up.fqdns[f]) + ",";
      key(out, "circuit");
      out += jsonString(state) + ",";
      key(out, "consecutive_failures");
      out += std::to_string(failures) + "}";
    }
    out += "]}";
  }
  out += "],";

  key(out, "watched_intermediates");
  out += "[";
  bool first = true;
  for (const IssuerWatch::View& w : v.watch.snapshot()) {
    if (!first) out += ",";
    first = false;
    out += "{";
    key(out, "name");
    out += jsonString(w.name) + ",";
    key(out, "subject");
    out += jsonString(w.subject) + ",";
    key(out, "state");
    out += jsonString(watchStateName(w.state)) + ",";
    key(out, "revocation_time");
    out += (w.revocation ? timeOrNull(w.revocation->time) : "null") + ",";
    key(out, "via");
    out += jsonString(w.via) + ",";
    key(out, "detail");
    out += jsonString(w.detail) + ",";
    key(out, "checked_at");
    out += timeOrNull(w.checked_at) + ",";
    key(out, "not_after");
    out += timeOrNull(w.not_after) + "}";
  }
  out += "],";

  key(out, "issuer_expiry");
  out += "[";
  first = true;
  for (const IssuerWatch::Expiry& e : v.watch.expiries(now)) {
    if (!first) out += ",";
    first = false;
    out += "{";
    key(out, "name");
    out += jsonString(e.name) + ",";
    key(out, "kind");
    out += jsonString(e.kind) + ",";
    key(out, "not_after");
    out += timeOrNull(e.not_after) + ",";
    key(out, "seconds_left");
    out += std::to_string(e.not_after - now) + ",";
    key(out, "expiring");
    out += e.expiring ? "true}" : "false}";
  }
  out += "],";

  MemoryCache::Stats ocsp = v.cache.stats();
  CrlStore::Stats crl = v.crl_store.stats();
  key(out, "cache");
  out += "{";
  key(out, "ocsp");
  out += "{\"entries\":" + std::to_string(ocsp.entries) + ",\"bytes\":" +
         std::to_string(ocsp.bytes) + ",\"max_bytes\":" + std::to_string(v.cache.maxBytes()) +
         ",\"evictions\":" + std::to_string(ocsp.evictions) + "},";
  key(out, "crl");
  out += "{\"entries\":" + std::to_string(crl.entries) + ",\"bytes\":" +
         std::to_string(crl.bytes) + ",\"max_bytes\":" +
         std::to_string(v.config->crl.memory_bytes) + ",\"crls\":[";
  first = true;
  for (const auto& e : v.crl_store.snapshot()) {
    if (!first) out += ",";
    first = false;
    out += "{";
    key(out, "url");
    out += jsonString(e->url) + ",";
    key(out, "issuer");
    out += jsonString(e->crl.issuer) + ",";
    key(out, "this_update");
    out += timeOrNull(e->crl.this_update) + ",";
    key(out, "next_update");
    out += timeOrNull(e->crl.next_update) + ",";
    key(out, "entries");
    out += std::to_string(e->crl.revoked.size()) + ",";
    key(out, "signature_checked");
    out += e->crl.signature_checked ? "true}" : "false}";
  }
  out += "]}},";

  key(out, "redis");
  out += v.redis_status != nullptr ? jsonString(v.redis_status->describe()) : "null";
  out += ",";
  key(out, "learned_issuers");
  out += std::to_string(v.index.learnedCount());
  out += "}\n";
  return out;
}

void addStatusCollectors(const AdminView& v) {
  const AdminView* view = &v;
  v.metrics.gauge(Metric::BuildInfo, {OCSP_PROXY_VERSION}).set(1);
  v.metrics.addCollector([view](Metrics& m) {
    const int64_t now = view->clock.now();
    MemoryCache::Stats ocsp = view->cache.stats();
    CrlStore::Stats crl = view->crl_store.stats();
    m.gauge(Metric::CacheEntries, {"ocsp"}).set(static_cast<int64_t>(ocsp.entries));
    m.gauge(Metric::CacheBytes, {"ocsp"}).set(static_cast<int64_t>(ocsp.bytes));
    m.gauge(Metric::CacheEntries, {"crl"}).set(static_cast<int64_t>(crl.entries));
    m.gauge(Metric::CacheBytes, {"crl"}).set(static_cast<int64_t>(crl.bytes));
    if (view->redis_status != nullptr) {
      int up = view->redis_status->upCount();
      m.gauge(Metric::RedisConnections, {"up"}).set(up);
      m.gauge(Metric::RedisConnections, {"down"}).set(view->redis_status->slotCount() - up);
    }
    // Every configured FQDN, so that a circuit that closed again reads 0 (a closed circuit
    // is not in the snapshot).
    auto open = view->health.snapshot(monotonicMs());
    for (const conf::Upstream& up : view->config->upstreams) {
      for (const std::string& fqdn : up.fqdns) {
        bool is_open = false;
        for (const auto& c : open) is_open |= c.fqdn == fqdn && std::string_view(c.state) != "closed";
        m.gauge(Metric::CircuitOpen, {fqdn}).set(is_open ? 1 : 0);
      }
    }
    for (const auto& w : view->watch.snapshot()) {
      m.gauge(Metric::IntermediateRevoked, {w.name}).set(w.state == WatchState::Revoked ? 1 : 0);
    }
    for (const auto& e : view->watch.expiries(now)) {
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
      // Degraded parts do not make us unready: requests are still answered (DESIGN.md §8).
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
  } else if (p == "/status") {
    reply(req, 200, "OK", "application/json", statusJson(view));
  } else if (p == "/metrics") {
    reply(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", view.metrics.exposition());
  } else {
    reply(req, 404, "Not Found", "text/plain",
          "not found: try /healthz, /readyz, /status or /metrics\n");
  }
}

}  // namespace ocsp
