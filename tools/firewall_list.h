#pragma once
// `ocsp-proxy firewall-list --config FILE [--format plain|csv|json|squid]`: every FQDN and port
// the proxy may contact (upstream responders, CRL hosts, AIA hosts, Redis), so that the
// firewall can allow them by name, as the CAs ask (their services sit behind CDNs whose
// addresses change). The formats, each for a kind of firewall tooling:
//   plain  "host:port<TAB>purpose" lines, sorted (the default; for people and grep)
//   csv    RFC 4180: a header "host,port,purpose", then one row per entry
//   json   one array of {"host","port","purpose"} objects
//   squid  squid.conf lines for an outbound squid that the proxy's traffic passes: one
//          dstdomain ACL of the HTTP hosts, one port ACL, the http_access rule; Redis is not
//          HTTP and is named in a comment only
#include <cstdint>
#include <string>
#include <vector>

#include "conf/config.h"

namespace ocsp::tools {

struct FirewallEntry {
  std::string host;
  uint16_t port = 0;
  std::string purpose;  // "ocsp upstream NAME", "crl", "aia", "redis", "redis sentinel"
};

enum class FirewallFormat { Plain, Csv, Json, Squid };

// Every host:port the proxy may contact under `config`, with its purpose: the AllowList's
// (upstream/allow_list.h) sorted entries, then Redis and its sentinels.
std::vector<FirewallEntry> firewallEntries(const conf::Config& config);

// The entries in the given format, ending with a newline. Pure.
std::string renderFirewallList(const std::vector<FirewallEntry>& entries, FirewallFormat format);

// argv[0] = "firewall-list". Prints the list; exit 0, 1 for a config that does not load
// (message on stderr), 64 for bad usage.
int runFirewallList(int argc, char** argv);

}  // namespace ocsp::tools
