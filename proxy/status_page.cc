#include "proxy/status_page.h"

#include <algorithm>
#include <cstdio>
#include <initializer_list>

#include "core/log.h"

namespace ocsp {

namespace {

constexpr const char* kStyle =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}"
    "h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.6em 0 .4em;"
    "border-bottom:1px solid #ccc}header p{margin:.2em 0;color:#444}"
    "table{border-collapse:collapse;margin:.3em 0}th,td{border:1px solid #ddd;"
    "padding:.25em .5em;text-align:left;vertical-align:top}th{background:#f3f3f3}"
    "td.n{text-align:right}code{font-size:.95em;word-break:break-all}"
    ".hint{color:#666}.none{color:#666;font-style:italic}"
    ".bad{background:#fdd;font-weight:bold}.warn{background:#ffe9b3}.ok{background:#e3f6e3}";

void add(std::string& out, std::string_view text) { out += htmlEscape(text); }

// A time: ISO 8601 UTC and how far from now; `never` when t is 0.
std::string timeHtml(int64_t t, int64_t now, const char* never = "never") {
  if (t == 0) return std::string("<span class=\"none\">") + never + "</span>";
  const std::string iso = rfc3339(t);
  return "<time datetime=\"" + iso + "\">" + iso + "</time> <span class=\"hint\">(" +
         relativeHint(t - now) + ")</span>";
}

std::string bytesHtml(uint64_t bytes) {
  char buf[64];
  if (bytes >= (1u << 20)) {
    std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(bytes) / (1u << 20));
  } else if (bytes >= 1024) {
    std::snprintf(buf, sizeof(buf), "%.1f KiB", static_cast<double>(bytes) / 1024);
  } else {
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(bytes));
  }
  return buf;
}

void openSection(std::string& out, const char* id, const char* title) {
  out += "<section id=\"";
  out += id;
  out += "\"><h2>";
  out += title;
  out += "</h2>\n";
}
void closeSection(std::string& out) { out += "</section>\n"; }

void none(std::string& out, std::string_view what) {
  out += "<p class=\"none\">";
  add(out, what);
  out += "</p>\n";
}

void openTable(std::string& out, std::initializer_list<const char*> headings) {
  out += "<table><thead><tr>";
  for (const char* h : headings) {
    out += "<th>";
    out += h;
    out += "</th>";
  }
  out += "</tr></thead><tbody>\n";
}
void closeTable(std::string& out) { out += "</tbody></table>\n"; }

// A cell of escaped text; `cls` for its class ("" none, "n" numbers).
void cell(std::string& out, std::string_view text, const char* cls = "") {
  out += *cls != '\0' ? std::string("<td class=\"") + cls + "\">" : std::string("<td>");
  add(out, text);
  out += "</td>";
}
// A cell of markup this file made (times, byte sizes): no outside text in it unescaped.
void htmlCell(std::string& out, const std::string& html) { out += "<td>" + html + "</td>"; }
void numCell(std::string& out, uint64_t n) { cell(out, std::to_string(n), "n"); }

const char* circuitClass(std::string_view state) {
  return state == "closed" ? "ok" : state == "open" ? "bad" : "warn";
}

void header(std::string& out, const StatusModel& m) {
  out += "<header><h1>ocsp-proxy status</h1>\n<p>Version ";
  add(out, m.version);
  out += " · up " + durationText(static_cast<uint64_t>(std::max<int64_t>(m.now - m.started_at, 0))) + " (since " +
         timeHtml(m.started_at, m.now) + ")</p>\n<p>Config <code>";
  add(out, m.config_path);
  out += "</code> · generation " + std::to_string(m.generation) + ", loaded " +
         timeHtml(m.loaded_at, m.now) + "</p>\n<p>";
  if (m.not_ready.empty()) {
    out += "<span class=\"ok\">Ready</span>";
  } else {
    out += "<span class=\"bad\">Not ready:";
    for (const std::string& why : m.not_ready) {
      out += " ";
      add(out, why);
      out += ";";
    }
    out += "</span>";
  }
  if (!m.last_reload_error.empty()) {
    out += " · <span class=\"bad\">last reload failed: ";
    add(out, m.last_reload_error);
    out += "</span>";
  }
  out += " · page made " + rfc3339(m.now) + " (all times UTC)</p></header>\n";
}

void upstreams(std::string& out, const StatusModel& m) {
  openSection(out, "upstreams", "Upstreams and circuits");
  if (m.upstreams.empty()) {
    none(out, "No upstreams configured.");
    return closeSection(out);
  }
  openTable(out, {"Upstream", "Revocation source", "FQDN", "Circuit", "Failures in a row"});
  for (const StatusModel::Upstream& up : m.upstreams) {
    for (const StatusModel::Circuit& c : up.fqdns) {
      out += "<tr>";
      cell(out, up.name);
      cell(out, up.revocation_source);
      cell(out, c.fqdn);
      cell(out, c.state, circuitClass(c.state));
      numCell(out, static_cast<uint64_t>(c.consecutive_failures));
      out += "</tr>\n";
    }
  }
  closeTable(out);
  closeSection(out);
}

void offline(std::string& out, const StatusModel& m) {
  openSection(out, "offline", "If the internet link goes down now");
  out += "<p>Cached answers are served until their nextUpdate, never after. Answers in this "
         "process's cache, by the upstream that gave them:</p>\n";
  openTable(out, {"Upstream", "Cached answers", "Answers stay valid until (earliest)",
                  "Latest"});
  for (const StatusModel::Holdout& h : m.holdouts) {
    out += "<tr>";
    cell(out, h.origin.empty() ? "(origin not recorded)" : h.origin);
    numCell(out, h.answers);
    if (h.answers == 0) {
      out += "<td colspan=\"2\" class=\"warn\">no cached answers: new requests fail at once</td>";
    } else {
      htmlCell(out, timeHtml(h.earliest, m.now));
      htmlCell(out, timeHtml(h.latest, m.now));
    }
    out += "</tr>\n";
  }
  closeTable(out);
  if (!m.bridge_crls.empty()) {
    out += "<p>The CRL bridge builds answers from these CRLs until their nextUpdate:</p>\n";
    openTable(out, {"Upstream", "Issuer", "CRL", "Valid until (nextUpdate)"});
    for (const StatusModel::BridgeCrl& b : m.bridge_crls) {
      out += "<tr>";
      cell(out, b.upstream);
      cell(out, b.issuer);
      cell(out, b.url);
      htmlCell(out, timeHtml(b.next_update, m.now, b.held ? "no nextUpdate" : "not held"));
      out += "</tr>\n";
    }
    closeTable(out);
  }
  closeSection(out);
}

void revocations(std::string& out, const StatusModel& m) {
  openSection(out, "revocations", "Recent revocations served");
  out += "<p>Revoked answers served since start: " + std::to_string(m.revoked_answers) +
         "; the last " + std::to_string(RecentRevocations::kCapacity) +
         " are kept here, newest first.</p>\n";
  if (m.recent_revocations.empty()) {
    none(out, "No revoked answer served since start.");
    return closeSection(out);
  }
  openTable(out, {"Served", "Issuer", "Serial", "Reason", "Revoked at", "Client", "From"});
  for (const RecentRevocations::Item& r : m.recent_revocations) {
    out += "<tr>";
    htmlCell(out, timeHtml(r.time_ms / 1000, m.now));
    cell(out, r.issuer);
    out += "<td><code class=\"serial\">";
    add(out, r.serial);
    out += "</code></td>";
    cell(out, r.reason.empty() ? "(none given)" : r.reason);
    htmlCell(out, timeHtml(r.revocation_time, m.now, "not given"));
    cell(out, r.client);
    cell(out, r.upstream_fqdn.empty() ? r.upstream : r.upstream + " (" + r.upstream_fqdn + ")");
    out += "</tr>\n";
  }
  closeTable(out);
  closeSection(out);
}

void intermediates(std::string& out, const StatusModel& m) {
  openSection(out, "intermediates", "Watched intermediates");
  if (m.watched.empty()) {
    none(out, "No intermediates watched (watch.intermediates).");
    return closeSection(out);
  }
  openTable(out, {"Name", "Subject", "State", "Revoked at", "Last checked", "Checked via",
                  "Detail"});
  for (const IssuerWatch::View& w : m.watched) {
    const std::string state = watchStateName(w.state);
    out += "<tr>";
    cell(out, w.name);
    cell(out, w.subject);
    cell(out, state, w.state == WatchState::Revoked ? "bad"
                     : w.state == WatchState::Good  ? "ok"
                                                     : "warn");
    htmlCell(out, w.revocation ? timeHtml(w.revocation->time, m.now) : "");
    htmlCell(out, timeHtml(w.checked_at, m.now));
    cell(out, w.via);
    cell(out, w.detail);
    out += "</tr>\n";
  }
  closeTable(out);
  closeSection(out);
}

void expiry(std::string& out, const StatusModel& m) {
  openSection(out, "expiry", "Issuer expiry");
  if (m.expiry.empty()) {
    none(out, "No issuer certificates to watch.");
    return closeSection(out);
  }
  openTable(out, {"Name", "Kind", "Not after", "Expiring soon"});
  for (const IssuerWatch::Expiry& e : m.expiry) {
    out += "<tr>";
    cell(out, e.name);
    cell(out, e.kind);
    htmlCell(out, timeHtml(e.not_after, m.now));
    cell(out, e.expiring ? "yes" : "no", e.expiring ? "bad" : "");
    out += "</tr>\n";
  }
  closeTable(out);
  closeSection(out);
}

void storeRow(std::string& out, const char* what, uint64_t entries, uint64_t bytes,
              uint64_t max_bytes) {
  out += "<tr>";
  cell(out, what);
  numCell(out, entries);
  cell(out, std::to_string(bytes) + " (" + bytesHtml(bytes) + ")", "n");
  cell(out, max_bytes == 0 ? "-" : std::to_string(max_bytes) + " (" + bytesHtml(max_bytes) + ")",
       "n");
  out += "</tr>\n";
}

void cache(std::string& out, const StatusModel& m) {
  openSection(out, "cache", "Cache");
  openTable(out, {"Store", "Entries", "Bytes", "Bound (bytes)"});
  storeRow(out, "OCSP answers", m.ocsp.entries, m.ocsp.bytes, m.ocsp_max_bytes);
  storeRow(out, "CRLs", m.crl.entries, m.crl.bytes, m.crl_max_bytes);
  if (m.ca_issuers) {
    storeRow(out, "caIssuers documents", m.ca_issuers->stats.entries, m.ca_issuers->stats.bytes,
             m.ca_issuers->max_bytes);
  }
  closeTable(out);
  out += "<p>OCSP answers evicted to stay in bound: " + std::to_string(m.ocsp.evictions) +
         ". Redis: ";
  add(out, m.redis ? *m.redis : "not configured");
  if (m.known_serials) {
    out += ". Serials known to be issued: " + std::to_string(m.known_serials->entries);
  }
  if (m.snapshot && m.snapshot->enabled) {
    out += ". Snapshot <code>";
    add(out, m.snapshot->path);
    out += "</code>, last written " + timeHtml(m.snapshot->last_write.at, m.now) + " (";
    add(out, m.snapshot->last_write.result);
    out += ")";
  }
  out += ".</p>\n";
  closeSection(out);
}

void crls(std::string& out, const StatusModel& m) {
  openSection(out, "crls", "CRLs held");
  if (m.crls.empty()) {
    none(out, "No CRL held.");
    return closeSection(out);
  }
  openTable(out, {"Issuer", "URL", "thisUpdate", "nextUpdate", "Revoked entries", "Size",
                  "Signature"});
  for (const auto& e : m.crls) {
    out += "<tr>";
    cell(out, e->crl.issuer + (e->crl.delta ? " (delta)" : ""));
    cell(out, e->url);
    htmlCell(out, timeHtml(e->crl.this_update, m.now));
    htmlCell(out, timeHtml(e->crl.next_update, m.now, "none"));
    numCell(out, e->crl.revoked.size());
    cell(out, bytesHtml(e->bytes.size()), "n");
    cell(out, e->crl.signature_checked ? "checked" : "not checked",
         e->crl.signature_checked ? "" : "warn");
    out += "</tr>\n";
  }
  closeTable(out);
  closeSection(out);
}

void learned(std::string& out, const StatusModel& m) {
  openSection(out, "learned", "Learned issuers");
  out += "<p>" + std::to_string(m.learned_count) +
         " issuers learned through AIA, discovery or a previous run.</p>\n";
  if (m.learned.empty()) return closeSection(out);
  openTable(out, {"Subject", "Upstream", "Learned", "How"});
  for (const StatusModel::Learned& l : m.learned) {
    out += "<tr>";
    cell(out, l.subject);
    cell(out, l.upstream);
    htmlCell(out, timeHtml(l.learned_at, m.now));
    cell(out, l.source);
    out += "</tr>\n";
  }
  closeTable(out);
  closeSection(out);
}

}  // namespace

std::string htmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string durationText(uint64_t s) {
  if (s >= 86400) return std::to_string(s / 86400) + " d " + std::to_string(s % 86400 / 3600) + " h";
  if (s >= 3600) return std::to_string(s / 3600) + " h " + std::to_string(s % 3600 / 60) + " min";
  if (s >= 60) return std::to_string(s / 60) + " min";
  return std::to_string(s) + " s";
}

std::string relativeHint(int64_t seconds) {
  if (seconds == 0) return "now";
  // Magnitude without overflow at INT64_MIN.
  const uint64_t s = seconds < 0 ? 0 - static_cast<uint64_t>(seconds) : static_cast<uint64_t>(seconds);
  return seconds < 0 ? durationText(s) + " ago" : "in " + durationText(s);
}

std::string statusPage(const StatusModel& m) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width\">"
      "<title>ocsp-proxy status</title><style>";
  out += kStyle;
  out += "</style></head>\n<body>\n";
  header(out, m);
  upstreams(out, m);
  offline(out, m);
  revocations(out, m);
  intermediates(out, m);
  expiry(out, m);
  cache(out, m);
  crls(out, m);
  learned(out, m);
  out += "</body></html>\n";
  return out;
}

}  // namespace ocsp
