#include "conf/config_bridge.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

#include "conf/value_parsers.h"
#include "core/log.h"
#include "pki/responder_credentials.h"

namespace ocsp::conf {

namespace {

// Relative to the config file, like issuer paths; phase 2 reads the file.
Result<std::string> credentialPath(Loader& l, const Item& v) {
  auto s = text(l, v);
  if (!s.ok()) return s;
  if (s->empty()) return l.fail(v, "must not be empty");
  return l.resolvePath(*s);
}

// A known_serials entry: a file or a directory that exists now; its content is read at start.
Result<std::string> knownSerialsPath(Loader& l, const Item& v) {
  auto written = text(l, v);
  if (!written.ok()) return written;
  if (written->empty()) return l.fail(v, "must not be empty");
  const std::string full = l.resolvePath(*written);
  struct stat st {};
  if (::stat(full.c_str(), &st) != 0) {
    return l.fail(v, "cannot read " + inQuotes(*written) + ": " + osError(errno));
  }
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
    return l.fail(v, "not a file or directory: " + inQuotes(*written));
  }
  return full;
}

// Which key a credential error is about: the key file, or the certificate (which also holds
// the key's counterpart, so a mismatch is reported there).
std::string credentialKey(const Error& err) {
  return err.code.starts_with("responder_key_") && err.code != "responder_key_mismatch"
             ? "crl_bridge.key"
             : "crl_bridge.cert";
}

// One upstream's rules (config_bridge.h). `at` is "upstreams[i]".
Status checkUpstream(const Loader& l, const Config& config, const Upstream& u,
                     const std::string& at) {
  const bool bridged = u.revocation_source != RevocationSource::Ocsp;
  if (u.fqdns.empty() && u.revocation_source != RevocationSource::Crl) {
    const std::string key = at + ".fqdns";
    const char* why = " (only an upstream with revocation_source: crl has no OCSP responder)";
    if (!l.has(key)) return l.fail(key, l.lineAt(at), std::string("required") + why);
    return l.failAt(key, std::string("must not be empty") + why);
  }
  if (!bridged && !u.crls.empty()) {
    return l.failAt(at + ".crls",
                    "only used with revocation_source crl or ocsp-then-crl (this upstream's "
                    "answers come from its OCSP responders)");
  }
  if (bridged && u.crls.empty() && config.crl.urls.empty()) {
    return l.failAt(at + ".revocation_source",
                    std::string(revocationSourceName(u.revocation_source)) +
                        " needs the CRLs to answer from: list them in " + at +
                        ".crls (or crl.urls)");
  }
  if (bridged && !config.crl_bridge) {
    return l.failAt(at + ".revocation_source",
                    std::string(revocationSourceName(u.revocation_source)) +
                        " needs the crl_bridge section (the key and certificate that sign "
                        "the answers built from CRLs)");
  }
  for (size_t j = 1; j < u.crls.size(); ++j) {
    if (std::find(u.crls.begin(), u.crls.begin() + static_cast<long>(j), u.crls[j]) !=
        u.crls.begin() + static_cast<long>(j)) {
      return l.failAt(indexed(at + ".crls", j), "duplicate URL " + inQuotes(u.crls[j]));
    }
  }
  return Ok{};
}

}  // namespace

Result<RevocationSource> revocationSourceValue(Loader& l, const Item& v) {
  return oneOf<RevocationSource>({{"ocsp", RevocationSource::Ocsp},
                                  {"crl", RevocationSource::Crl},
                                  {"ocsp-then-crl", RevocationSource::OcspThenCrl}})(l, v);
}

const Schema<CrlBridge>& crlBridgeSchema() {
  static const Schema<CrlBridge> schema = {
      field("key", &CrlBridge::key_path, credentialPath, Need::Required),
      field("cert", &CrlBridge::cert_path, credentialPath, Need::Required),
      field("unlisted", &CrlBridge::unlisted,
            oneOf<UnlistedPolicy>(
                {{"unknown", UnlistedPolicy::Unknown}, {"good", UnlistedPolicy::Good}})),
      field("known_serials", &CrlBridge::known_serials, listOf(knownSerialsPath)),
  };
  return schema;
}

Status checkBridge(const Loader& l, Config& config, int64_t now) {
  for (size_t i = 0; i < config.upstreams.size(); ++i) {
    auto s = checkUpstream(l, config, config.upstreams[i], indexed("upstreams", i));
    if (!s.ok()) return s;
  }
  if (!config.crl_bridge) return Ok{};
  CrlBridge& bridge = *config.crl_bridge;
  auto loaded = loadResponderCredentials(bridge.key_path, bridge.cert_path, now);
  if (!loaded.ok()) {
    // The loader's detail names the key it is about; the message names it once, as its path.
    const std::string key = credentialKey(loaded.error());
    std::string_view detail = loaded.error().detail;
    if (detail.starts_with(key + " ")) detail.remove_prefix(key.size() + 1);
    return l.failAt(key, detail);
  }
  bridge.credentials = std::move(*loaded);
  return Ok{};
}

void warnAboutBridge(const Config& config) {
  if (!config.crl_bridge || config.crl_bridge->unlisted != UnlistedPolicy::Good) return;
  logEvent(LogLevel::Warn, "crl_bridge_unlisted_good",
           {{"file", config.path},
            {"why", "serials no CRL lists are answered good even if never issued (a forged "
                    "certificate too); crl_bridge.unlisted: unknown answers good only for "
                    "known serials"}});
}

const char* revocationSourceName(RevocationSource s) {
  switch (s) {
    case RevocationSource::Ocsp: return "ocsp";
    case RevocationSource::Crl: return "crl";
    case RevocationSource::OcspThenCrl: return "ocsp-then-crl";
  }
  return "ocsp";
}

}  // namespace ocsp::conf
