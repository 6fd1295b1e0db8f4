// Config loader (STYLE.md "Config and operations"). Phase 1 walks the YAML with one schema
// table per map (key -> parser; conf/config_schema.h): unknown keys, wrong types and bad values
// stop the load, and every value's line is recorded under its dotted path. Phase 2, here, fills
// the defaults that depend on other keys and checks the rules that span fields, naming the
// recorded line. Warnings are logged only once the whole file is accepted, so a rejected file
// logs nothing but its error.
#include "conf/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>

#include "conf/config_bridge.h"
#include "conf/config_schema.h"
#include "conf/config_warnings.h"
#include "conf/config_watch.h"
#include "conf/watch_issuers.h"
#include "conf/yaml_document.h"
#include "conf/yaml_schema.h"
#include "core/url.h"

namespace ocsp::conf {

namespace {

namespace fs = std::filesystem;

// --- Phase 2 ---------------------------------------------------------------------------------

// An OCSP CertID names its issuer by subject and key (RFC 6960 §4.1.1), so two certificates
// with the same subject and key (a re-issued or cross-signed CA) are the same issuer. The
// subject DER is self-delimiting, so the concatenation is unambiguous.
std::string issuerIdentity(const X509* cert) {
  std::string id = toDer(X509_get_subject_name(cert), i2d_X509_NAME);
  const ASN1_BIT_STRING* key = X509_get0_pubkey_bitstr(cert);
  if (key != nullptr) {
    id.append(reinterpret_cast<const char*>(ASN1_STRING_get0_data(key)),
              static_cast<size_t>(ASN1_STRING_length(key)));
  }
  return id;
}

// redis: one way to find the server, and master_name exactly when it is found by sentinels.
Status checkRedis(const Loader& l, const Redis& r) {
  std::vector<std::string> given;  // in schema order
  if (r.address) given.push_back("redis.address");
  if (!r.unix_socket.empty()) given.push_back("redis.unix_socket");
  if (!r.sentinels.empty()) given.push_back("redis.sentinels");
  if (given.empty()) {
    return l.failAt("redis", "one of address, unix_socket or sentinels is required");
  }
  if (given.size() > 1) {
    return l.failAt(given[1], "conflicts with " + given[0] +
                                  " (set exactly one of address, unix_socket, sentinels)");
  }
  if (!r.sentinels.empty() && r.master_name.empty()) {
    return l.fail("redis.master_name", l.lineAt("redis"), "required with sentinels");
  }
  if (r.sentinels.empty() && !r.master_name.empty()) {
    return l.failAt("redis.master_name", "only valid with sentinels");
  }
  return Ok{};
}

// An allow-list names each host and port once.
Status checkNoRepeats(const Loader& l, const std::vector<HostAndPort>& hosts,
                      const std::string& path) {
  for (size_t j = 1; j < hosts.size(); ++j) {
    for (size_t k = 0; k < j; ++k) {
      if (hosts[j].host == hosts[k].host && hosts[j].port == hosts[k].port) {
        return l.failAt(indexed(path, j), "duplicate host " + inQuotes(hostAndPortText(hosts[j])));
      }
    }
  }
  return Ok{};
}

// The trust store is only read in forward mode, so a host without one can turn it off.
Status checkForward(const Loader& l, const Forward& f) {
  if (auto s = checkNoRepeats(l, f.aia_fqdns, "forward.aia_fqdns"); !s.ok()) return s;
  if (!f.enabled) return Ok{};
  struct stat st {};
  if (::stat(f.trust_store.c_str(), &st) != 0) {
    return l.failAt("forward.trust_store",
                    "cannot read " + inQuotes(f.trust_store) + ": " + osError(errno));
  }
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
    return l.failAt("forward.trust_store", "not a file or directory: " + inQuotes(f.trust_store));
  }
  return Ok{};
}

// crl.fqdns gains the host of every crl.urls entry. A host:port is either an OCSP upstream or
// a CRL host, never both: forward mode picks the handling of a request by its host and port.
Status checkCrl(const Loader& l, Config& config) {
  Crl& crl = config.crl;
  if (crl.max_inflight_bytes < crl.max_bytes) {
    // A download reserves crl.max_bytes before it starts: below that, none ever would.
    return l.failAt("crl.max_inflight_bytes",
                    "must be at least crl.max_bytes (" + std::to_string(crl.max_bytes) +
                        " bytes): a download reserves that much until its size is known");
  }
  if (auto s = checkNoRepeats(l, crl.fqdns, "crl.fqdns"); !s.ok()) return s;
  std::vector<std::string> origin;  // the key each crl.fqdns entry comes from
  for (size_t i = 0; i < crl.fqdns.size(); ++i) origin.push_back(indexed("crl.fqdns", i));
  std::vector<std::string> url_origin;  // the key each crl.urls entry comes from
  for (size_t i = 0; i < crl.urls.size(); ++i) url_origin.push_back(indexed("crl.urls", i));
  // The CRL bridge's CRLs are kept warm and allow-listed like crl.urls (conf/config_bridge.h).
  for (size_t u = 0; u < config.upstreams.size(); ++u) {
    const std::vector<std::string>& crls = config.upstreams[u].crls;
    for (size_t j = 0; j < crls.size(); ++j) {
      if (std::find(crl.urls.begin(), crl.urls.end(), crls[j]) != crl.urls.end()) continue;
      crl.urls.push_back(crls[j]);
      url_origin.push_back(indexed(indexed("upstreams", u) + ".crls", j));
    }
  }
  for (size_t i = 0; i < crl.urls.size(); ++i) {
    const std::string& at = url_origin[i];
    if (std::find(crl.urls.begin(), crl.urls.begin() + static_cast<long>(i), crl.urls[i]) !=
        crl.urls.begin() + static_cast<long>(i)) {
      return l.failAt(at, "duplicate URL " + inQuotes(crl.urls[i]));
    }
    auto url = parseHttpUrl(crl.urls[i]);  // accepted in phase 1
    if (!url.ok()) return l.failAt(at, "not a valid URL (" + url.error().detail + ")");
    HostAndPort host{url->host, url->port};
    bool listed = std::any_of(crl.fqdns.begin(), crl.fqdns.end(), [&](const HostAndPort& h) {
      return h.host == host.host && h.port == host.port;
    });
    if (!listed) {
      crl.fqdns.push_back(std::move(host));
      origin.push_back(at);
    }
  }
  for (size_t i = 0; i < crl.fqdns.size(); ++i) {
    for (const Upstream& u : config.upstreams) {
      bool shared = u.port == crl.fqdns[i].port &&
                    std::any_of(u.fqdns.begin(), u.fqdns.end(), [&](const std::string& f) {
                      return sameHost(f, crl.fqdns[i].host);
                    });
      if (shared) {
        return l.failAt(origin[i], inQuotes(hostAndPortText(crl.fqdns[i])) +
                                       " is both an OCSP upstream and a CRL host (upstream " +
                                       inQuotes(u.name) + ")");
      }
    }
  }
  // A certificate also found in a listed directory is kept once.
  std::set<std::string> seen;
  std::vector<IssuerCert> kept;
  for (auto& issuer : crl.issuers) {
    if (seen.insert(issuerIdentity(issuer.cert.get())).second) kept.push_back(std::move(issuer));
  }
  crl.issuers = std::move(kept);
  return Ok{};
}

Status checkRules(const Loader& l, Config& config) {
  std::map<std::string, size_t> names;
  for (size_t i = 0; i < config.upstreams.size(); ++i) {
    Upstream& u = config.upstreams[i];
    const std::string at = indexed("upstreams", i);
    if (!names.emplace(u.name, i).second) {
      return l.failAt(at + ".name", "duplicate upstream name " + inQuotes(u.name));
    }
    for (size_t j = 1; j < u.fqdns.size(); ++j) {
      for (size_t k = 0; k < j; ++k) {
        if (sameHost(u.fqdns[j], u.fqdns[k])) {
          return l.failAt(indexed(at + ".fqdns", j), "duplicate host name " + inQuotes(u.fqdns[j]));
        }
      }
    }
    if (u.port == 0) u.port = u.scheme == "https" ? 443 : 80;
  }

  // Requests are routed by issuer, so one issuer in two upstreams would make the route depend
  // on load order. Within one upstream a repeat (a file also found in a listed directory) is
  // harmless and kept once.
  std::map<std::string, size_t> owner;  // issuer identity -> upstream index
  for (size_t i = 0; i < config.upstreams.size(); ++i) {
    Upstream& u = config.upstreams[i];
    std::vector<IssuerCert> kept;
    for (auto& issuer : u.issuers) {
      auto [it, first] = owner.emplace(issuerIdentity(issuer.cert.get()), i);
      if (first) {
        kept.push_back(std::move(issuer));
      } else if (it->second != i) {
        return l.failAt(l.originOf(issuer.cert.get(), "upstreams"),
                        "issuer certificate " + inQuotes(subjectLine(issuer.cert.get())) +
                            " is configured for both upstream " +
                            inQuotes(config.upstreams[it->second].name) + " and upstream " +
                            inQuotes(u.name));
      }
    }
    u.issuers = std::move(kept);
  }
  if (config.redis) {
    if (auto s = checkRedis(l, *config.redis); !s.ok()) return s;
  }
  if (auto s = checkForward(l, config.forward); !s.ok()) return s;
  if (auto s = checkWatch(l, config.watch); !s.ok()) return s;
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  addWatchedIssuers(config, now);
  if (auto s = checkBridge(l, config, now); !s.ok()) return s;
  return checkCrl(l, config);
}

// 0 on success, else the errno.
int readWholeFile(const std::string& path, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : 0;
      ::close(fd);
      return err;
    }
    out->append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

Result<std::shared_ptr<const Config>> parseConfig(const std::string& yaml_text,
                                                  const std::string& name,
                                                  const std::string& base_dir) {
  Loader loader(name, base_dir);
  Config config;
  config.path = name;
  try {
    if (auto s = checkOneDocument(loader, yaml_text); !s.ok()) return s.error();
    YAML::Node root = YAML::Load(yaml_text);
    if (auto s = walkMap(loader, loader.item(root, "", 1), configSchema(), config); !s.ok()) {
      return s.error();
    }
  } catch (const YAML::Exception& e) {
    return loader.fail("", std::max(e.mark.line, 0) + 1, "not valid YAML: " + e.msg);
  }
  if (auto s = checkRules(loader, config); !s.ok()) return s.error();
  warnAboutConfig(config);
  return std::make_shared<const Config>(std::move(config));
}

Result<std::shared_ptr<const Config>> loadConfig(const std::string& path) {
  std::string text;
  if (int err = readWholeFile(path, &text); err != 0) {
    return makeError(ErrorCategory::Config, "config",
                     path + ": cannot read config: " + osError(err));
  }
  return parseConfig(text, path, fs::path(path).parent_path().string());
}

bool configPathOption(int argc, char** argv, int& i, std::string* path) {
  const std::string_view arg = argv[i];
  if (arg == "--config" && i + 1 < argc) {
    *path = argv[++i];
    return true;
  }
  if (!arg.starts_with("--config=")) return false;
  *path = arg.substr(std::string_view("--config=").size());
  return true;
}

}  // namespace ocsp::conf
