// The status page (proxy/status_page.h) rendered from a known state, the escaping of what
// CAs and the network put in it, the ring of recent revocations and the offline horizon
// gathered from a real answer cache (proxy/status_model.h).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "cache/memory_cache.h"
#include "core/cert_id.h"
#include "core/ocsp_entry.h"
#include "proxy/recent_revocations.h"
#include "proxy/status_model.h"
#include "proxy/status_page.h"

namespace ocsp {
namespace {

constexpr int64_t kNow = 1'800'000'000;  // 2027-01-15T08:00:00Z
constexpr int64_t kDay = 86'400;

// The text of <section id="`id`"> ... </section>; "" when the page has no such section.
std::string section(const std::string& page, const std::string& id) {
  const size_t start = page.find("<section id=\"" + id + "\">");
  if (start == std::string::npos) return "";
  return page.substr(start, page.find("</section>", start) - start);
}

std::shared_ptr<const OcspEntry> answer(std::string_view fqdn, int64_t next_update) {
  OcspEntry e;
  e.der = std::string(64, 'x');
  e.this_update = kNow - 3600;
  e.next_update = next_update;
  e.fetched_at = kNow - 3600;
  e.upstream_fqdn = fqdn;
  finishEntry(e, FreshnessPolicy{});
  return sealEntry(std::move(e));
}

CacheKey keyOf(uint8_t n) {
  CacheKey k{};
  k[0] = n;
  k[31] = n;
  return k;
}

// A revoked answer's record as the front makes it.
RevocationRecord revokedRecord(const CertIdInfo& id, int64_t time_ms) {
  RevocationRecord r;
  r.time_ms = time_ms;
  r.client = "10.1.2.3:40000";
  r.upstream = "digicert";
  r.upstream_fqdn = "ocsp.digicert.example";
  r.issuer = "CN=Issuing CA <b>1</b>";
  r.cert_id = &id;
  r.status = CertStatus::Revoked;
  r.revocation = Revocation{kNow - 2 * kDay, 1};
  return r;
}

StatusModel knownState() {
  StatusModel m;
  m.now = kNow;
  m.version = "9.8.7";
  m.started_at = kNow - (3 * kDay + 4 * 3600);
  m.config_path = "/etc/ocsp-proxy/config.yaml";
  m.generation = 4;
  m.loaded_at = kNow - 600;
  m.upstreams = {{"digicert", "ocsp-then-crl", {}, {{"ocsp.digicert.example", "open", 5}}},
                 {"sectigo", "ocsp", {}, {{"ocsp.sectigo.example", "closed", 0}}}};
  IssuerWatch::View w;
  w.name = "old-intermediate";
  w.subject = "CN=<script>alert(1)</script> & Co";
  w.state = WatchState::Revoked;
  w.revocation = Revocation{kNow - 5 * kDay, 1};
  w.via = "ocsp http://ocsp.digicert.example";
  w.checked_at = kNow - 120;
  m.watched = {w};
  m.expiry = {{"old-intermediate", "intermediate", kNow + 10 * kDay, true}};
  m.ocsp = {1234, 5 << 20, 7};
  m.ocsp_max_bytes = 256u << 20;
  m.crl = {1, 4096, 0};
  m.crl_max_bytes = 64u << 20;
  auto crl = std::make_shared<CrlEntry>();
  crl->url = "http://crl.digicert.example/issuing.crl";
  crl->bytes = std::string(2048, 'c');
  crl->crl.issuer = "CN=Issuing CA";
  crl->crl.this_update = kNow - kDay;
  crl->crl.next_update = kNow + 6 * kDay;
  crl->crl.signature_checked = true;
  m.crls = {crl};
  m.learned_count = 1;
  m.learned = {{"CN=Learned \"quoted\" CA", "sectigo", kNow - 3600, "aia"}};
  RecentRevocations ring;
  CertIdInfo id;
  id.serial = std::string("\x0a\xbc\xde", 3);
  ring.add(revokedRecord(id, (kNow - 90) * 1000));
  m.recent_revocations = ring.recent();
  m.revoked_answers = ring.total();
  m.holdouts = {{"digicert", 10, kNow + 3 * kDay + 4 * 3600, kNow + 7 * kDay},
                {"sectigo", 0, 0, 0}};
  m.bridge_crls = {{"digicert", "CN=Issuing CA", crl->url, crl->crl.next_update, true}};
  return m;
}

TEST_CASE("markup from certificates is escaped, so it shows as text") {
  CHECK(htmlEscape("CN=<script>alert('x')</script>") ==
        "CN=&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
  CHECK(htmlEscape("O=A & B, CN=\"x\"") == "O=A &amp; B, CN=&quot;x&quot;");
  CHECK(htmlEscape("plain CN=Issuing CA") == "plain CN=Issuing CA");
  CHECK(htmlEscape("") == "");
}

TEST_CASE("relative hints count from now in the two largest units") {
  CHECK(relativeHint(0) == "now");
  CHECK(relativeHint(45) == "in 45 s");
  CHECK(relativeHint(-90) == "1 min ago");
  CHECK(relativeHint(2 * 3600 + 5 * 60 + 7) == "in 2 h 5 min");
  CHECK(relativeHint(3 * kDay + 4 * 3600 + 59) == "in 3 d 4 h");
  CHECK(relativeHint(-2 * kDay) == "2 d 0 h ago");
  CHECK(relativeHint(INT64_MIN).ends_with(" ago"));
}

TEST_CASE("the page has every section, each with its heading") {
  const std::string page = statusPage(knownState());
  CHECK(page.starts_with("<!DOCTYPE html>"));
  CHECK(page.find("<title>ocsp-proxy status</title>") != std::string::npos);
  for (const char* id : {"upstreams", "offline", "revocations", "intermediates", "expiry", "cache",
                         "crls", "learned"}) {
    CAPTURE(id);
    CHECK(section(page, id).find("<h2>") != std::string::npos);
  }
  CHECK(page.find("<script") == std::string::npos);
  CHECK(page.find("src=") == std::string::npos);  // loads nothing
}

TEST_CASE("the header names the version, uptime, config path and generation") {
  const std::string page = statusPage(knownState());
  const std::string head = page.substr(0, page.find("</header>"));
  CHECK(head.find("Version 9.8.7") != std::string::npos);
  CHECK(head.find("up 3 d 4 h") != std::string::npos);
  CHECK(head.find("/etc/ocsp-proxy/config.yaml") != std::string::npos);
  CHECK(head.find("generation 4") != std::string::npos);
  CHECK(head.find("2027-01-15T07:50:00Z") != std::string::npos);  // loaded 10 min ago
  CHECK(head.find("Ready") != std::string::npos);
  StatusModel broken = knownState();
  broken.not_ready = {"worker 1 not running"};
  broken.last_reload_error = "config.yaml:3: <bad>";
  const std::string bad = statusPage(broken);
  CHECK(bad.find("Not ready: worker 1 not running;") != std::string::npos);
  CHECK(bad.find("last reload failed: config.yaml:3: &lt;bad&gt;") != std::string::npos);
}

TEST_CASE("each upstream FQDN shows its circuit state") {
  const std::string s = section(statusPage(knownState()), "upstreams");
  CHECK(s.find("<td>ocsp.digicert.example</td><td class=\"bad\">open</td><td class=\"n\">5</td>") !=
        std::string::npos);
  CHECK(s.find("<td>ocsp.sectigo.example</td><td class=\"ok\">closed</td>") != std::string::npos);
  CHECK(s.find("ocsp-then-crl") != std::string::npos);
}

TEST_CASE("the offline horizon shows until when each upstream's answers hold") {
  const std::string s = section(statusPage(knownState()), "offline");
  CHECK(s.find("<td>digicert</td><td class=\"n\">10</td>") != std::string::npos);
  CHECK(s.find("2027-01-18T12:00:00Z</time> <span class=\"hint\">(in 3 d 4 h)") !=
        std::string::npos);
  CHECK(s.find("2027-01-22T08:00:00Z") != std::string::npos);
  CHECK(s.find("<td>sectigo</td><td class=\"n\">0</td><td colspan=\"2\" class=\"warn\">no cached "
               "answers") != std::string::npos);
  // The bridge's CRL and its nextUpdate.
  CHECK(s.find("http://crl.digicert.example/issuing.crl</td><td><time "
               "datetime=\"2027-01-21T08:00:00Z\">") != std::string::npos);
}

TEST_CASE("recent revocations show time, issuer, serial, reason and client, escaped") {
  const std::string s = section(statusPage(knownState()), "revocations");
  CHECK(s.find("Revoked answers served since start: 1;") != std::string::npos);
  CHECK(s.find("2027-01-15T07:58:30Z") != std::string::npos);
  CHECK(s.find("<td>CN=Issuing CA &lt;b&gt;1&lt;/b&gt;</td>") != std::string::npos);
  CHECK(s.find("<code class=\"serial\">0abcde</code>") != std::string::npos);
  CHECK(s.find("<td>keyCompromise</td>") != std::string::npos);
  CHECK(s.find("<td>10.1.2.3:40000</td>") != std::string::npos);
  CHECK(s.find("digicert (ocsp.digicert.example)") != std::string::npos);
  StatusModel quiet = knownState();
  quiet.recent_revocations.clear();
  CHECK(section(statusPage(quiet), "revocations").find("No revoked answer served") !=
        std::string::npos);
}

TEST_CASE("a watched intermediate shows revoked, when, and when it was last checked") {
  const std::string s = section(statusPage(knownState()), "intermediates");
  CHECK(s.find("<td>CN=&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co</td>") != std::string::npos);
  CHECK(s.find("<td class=\"bad\">revoked</td>") != std::string::npos);
  CHECK(s.find("2027-01-10T08:00:00Z") != std::string::npos);
  CHECK(s.find("(2 min ago)") != std::string::npos);
}

TEST_CASE("issuer expiry, cache bounds, CRLs and learned issuers are shown") {
  const std::string page = statusPage(knownState());
  const std::string expiry = section(page, "expiry");
  CHECK(expiry.find("2027-01-25T08:00:00Z") != std::string::npos);
  CHECK(expiry.find("<td class=\"bad\">yes</td>") != std::string::npos);
  const std::string cache = section(page, "cache");
  CHECK(cache.find("<td>OCSP answers</td><td class=\"n\">1234</td><td class=\"n\">5242880 (5.0 "
                   "MiB)</td><td class=\"n\">268435456 (256.0 MiB)</td>") != std::string::npos);
  CHECK(cache.find("<td>CRLs</td><td class=\"n\">1</td>") != std::string::npos);
  const std::string crls = section(page, "crls");
  CHECK(crls.find("<td>CN=Issuing CA</td><td>http://crl.digicert.example/issuing.crl</td>") !=
        std::string::npos);
  CHECK(crls.find("2027-01-14T08:00:00Z</time> <span class=\"hint\">(1 d 0 h ago)") !=
        std::string::npos);
  CHECK(crls.find("(in 6 d 0 h)") != std::string::npos);
  CHECK(crls.find("<td class=\"n\">2.0 KiB</td>") != std::string::npos);
  const std::string learned = section(page, "learned");
  CHECK(learned.find("<td>CN=Learned &quot;quoted&quot; CA</td><td>sectigo</td>") !=
        std::string::npos);
}

TEST_CASE("the ring keeps only revoked answers, newest first, and at most its capacity") {
  RecentRevocations ring;
  CertIdInfo id;
  id.serial = "\x01";
  RevocationRecord good = revokedRecord(id, 1000);
  good.status = CertStatus::Good;
  ring.add(good);
  RevocationRecord failed = revokedRecord(id, 1000);
  failed.error = "upstream_timeout";
  ring.add(failed);
  CHECK(ring.recent().empty());
  for (int i = 0; i < static_cast<int>(RecentRevocations::kCapacity) + 5; ++i) {
    ring.add(revokedRecord(id, 1000 * (i + 1)));
  }
  const auto items = ring.recent();
  REQUIRE(items.size() == RecentRevocations::kCapacity);
  CHECK(ring.total() == RecentRevocations::kCapacity + 5);
  CHECK(items.front().time_ms == 1000 * static_cast<int64_t>(RecentRevocations::kCapacity + 5));
  CHECK(items.back().time_ms == 6000);
  CHECK(items.front().serial == "01");
  CHECK(items.front().reason == "keyCompromise");
}

TEST_CASE("cached answers are grouped by the upstream whose FQDN gave them") {
  MemoryCache cache(1 << 20);
  cache.put(keyOf(1), answer("ocsp-a.example", kNow + kDay));
  cache.put(keyOf(2), answer("ocsp-b.example", kNow + 3 * kDay));
  cache.put(keyOf(3), answer("ocsp-a.example", kNow + 2 * kDay));
  cache.put(keyOf(4), answer(kCrlBridgeOrigin, kNow + 5 * kDay));
  cache.put(keyOf(5), answer("gone.example", kNow + 4 * kDay));
  cache.put(keyOf(6), answer("ocsp-a.example", kNow - 10));  // past nextUpdate: never served
  const std::vector<AdminOptions::Upstream> ups = {
      {"alpha", {"ocsp-a.example", "ocsp-b.example"}, "ocsp"}, {"beta", {"ocsp.beta"}, "ocsp"}};
  const auto h = cacheHoldouts(cache, ups, kNow);
  REQUIRE(h.size() == 4);
  CHECK(h[0].origin == "alpha");
  CHECK(h[0].answers == 3);
  CHECK(h[0].earliest == kNow + kDay);
  CHECK(h[0].latest == kNow + 3 * kDay);
  CHECK(h[1].origin == "beta");
  CHECK(h[1].answers == 0);
  CHECK(h[2].origin == "crl-bridge");
  CHECK(h[2].latest == kNow + 5 * kDay);
  CHECK(h[3].origin == "gone.example");
  CHECK(h[3].answers == 1);
}

TEST_CASE("the JSON document carries the same recent revocations and horizon") {
  const std::string json = statusJson(knownState());
  CHECK(json.find("\"recent_revocations\":{\"total\":1,\"items\":[{\"time\":\"2027-01-15T07:58:30.000Z\"") !=
        std::string::npos);
  CHECK(json.find("\"serial\":\"0abcde\"") != std::string::npos);
  CHECK(json.find("{\"origin\":\"digicert\",\"answers\":10,\"earliest\":\"2027-01-18T12:00:00Z\"") !=
        std::string::npos);
  CHECK(json.find("\"bridge_crls\":[{\"upstream\":\"digicert\"") != std::string::npos);
  CHECK(json.find("\"circuit\":\"open\"") != std::string::npos);
}

}  // namespace
}  // namespace ocsp
