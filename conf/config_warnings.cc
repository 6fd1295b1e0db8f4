#include "conf/config_warnings.h"

#include <openssl/x509.h>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <map>
#include <string>
#include <string_view>

#include "conf/config_bridge.h"
#include "conf/yaml_schema.h"
#include "core/log.h"
#include "core/ossl.h"

namespace ocsp::conf {

namespace {

// Not an error: CAs keep answering for certificates of an expired issuer, and refusing to
// start would take every other issuer down with it. `owner` is "upstream" or "crl".
void warnIfNotValidNow(const IssuerCert& issuer, std::string_view owner, std::string_view name,
                       int64_t now) {
  auto not_before = asn1ToEpoch(X509_get0_notBefore(issuer.cert.get()));
  auto not_after = asn1ToEpoch(X509_get0_notAfter(issuer.cert.get()));
  if ((not_before && now < *not_before) || (not_after && now > *not_after)) {
    logEvent(LogLevel::Warn, "issuer_not_valid_now",
             {{"file", issuer.path},
              {owner, name},
              {"subject", subjectLine(issuer.cert.get())},
              {"not_before", not_before ? rfc3339(*not_before) : ""},
              {"not_after", not_after ? rfc3339(*not_after) : ""}});
  }
}

// watch.issuers: one line for every certificate not watched, however many; the first few by
// subject, so a catalogue of hundreds does not flood the log at each load.
void warnAboutSkipped(const Config& config) {
  const std::vector<SkippedCa>& skipped = config.watch.skipped;
  if (skipped.empty()) return;
  std::map<std::string, size_t> by_reason;
  std::string first;
  for (size_t i = 0; i < skipped.size(); ++i) {
    by_reason[skipped[i].reason] += 1;
    if (i < 3) first += (i == 0 ? "" : "; ") + skipped[i].subject + " (" + skipped[i].reason + ")";
  }
  auto count = [&](const char* reason) { return std::to_string(by_reason[reason]); };
  logEvent(LogLevel::Warn, "watch_issuers_skipped",
           {{"file", config.path},
            {"count", std::to_string(skipped.size())},
            {"expired", count("expired")},
            {"no_parent", count("no parent found")},
            {"not_ca", count("not a CA")},
            {"first", first}});
}

// resolve: pins every host the proxy fetches from: upstreams, CRL hosts, AIA hosts.
bool fetchesFrom(const Config& config, const std::string& fqdn) {
  auto same = [&](const HostAndPort& h) { return sameHost(h.host, fqdn); };
  return std::any_of(config.upstreams.begin(), config.upstreams.end(),
                     [&](const Upstream& u) {
                       return std::any_of(u.fqdns.begin(), u.fqdns.end(),
                                          [&](const std::string& f) { return sameHost(f, fqdn); });
                     }) ||
         std::any_of(config.crl.fqdns.begin(), config.crl.fqdns.end(), same) ||
         std::any_of(config.forward.aia_fqdns.begin(), config.forward.aia_fqdns.end(), same);
}

}  // namespace

void warnAboutConfig(const Config& config) {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (const auto& u : config.upstreams) {
    for (const auto& issuer : u.issuers) warnIfNotValidNow(issuer, "upstream", u.name, now);
  }
  for (const auto& issuer : config.crl.issuers) warnIfNotValidNow(issuer, "crl", "issuers", now);
  warnAboutSkipped(config);
  warnAboutBridge(config);
  for (const auto& [fqdn, ip] : config.resolve) {
    bool used = fetchesFrom(config, fqdn);
    if (!used) {
      logEvent(LogLevel::Warn, "resolve_unused",
               {{"file", config.path}, {"fqdn", fqdn}, {"ip", ip}});
    }
  }
}


}  // namespace ocsp::conf
