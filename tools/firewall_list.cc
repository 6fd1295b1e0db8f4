#include "tools/firewall_list.h"

#include <cstdio>
#include <cstring>
#include <set>
#include <string>

#include "conf/config.h"
#include "core/json.h"
#include "upstream/allow_list.h"

namespace ocsp::tools {

namespace {
void usage(FILE* out) {
  std::fprintf(out,
               "Usage: ocsp-proxy firewall-list [--config FILE] [--format plain|csv|json|squid]\n"
               "\n"
               "Prints every host and port ocsp-proxy may contact, with what it is for: OCSP\n"
               "upstreams (upstreams[].fqdns on their port), CRL hosts (crl.fqdns and the hosts\n"
               "of crl.urls), AIA hosts (forward.aia_fqdns) and Redis. Allow these by FQDN in\n"
               "the firewall; nothing else is ever contacted.\n"
               "\n"
               "  --config FILE   configuration file (default /etc/ocsp-proxy/ocsp-proxy.yaml)\n"
               "  --format F      plain: host:port<TAB>purpose lines (default)\n"
               "                  csv:   host,port,purpose rows with a header (RFC 4180)\n"
               "                  json:  an array of {\"host\", \"port\", \"purpose\"}\n"
               "                  squid: acl and http_access lines for an outbound squid\n");
}

bool parseFormat(const std::string& s, FirewallFormat* out) {
  if (s == "plain") *out = FirewallFormat::Plain;
  else if (s == "csv") *out = FirewallFormat::Csv;
  else if (s == "json") *out = FirewallFormat::Json;
  else if (s == "squid") *out = FirewallFormat::Squid;
  else return false;
  return true;
}

// RFC 4180 §2: a field with a comma, quote or line break is quoted, quotes doubled.
std::string csvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

bool isHttp(const FirewallEntry& e) { return e.purpose.rfind("redis", 0) != 0; }

std::string renderSquid(const std::vector<FirewallEntry>& entries) {
  std::set<std::string> hosts;
  std::set<uint16_t> ports;
  std::string out =
      "# Outbound HTTP that ocsp-proxy needs (ocsp-proxy firewall-list --format squid).\n"
      "# The CAs' services sit behind CDNs: allow them by name, never by address.\n";
  for (const auto& e : entries) {
    if (!isHttp(e)) {
      out += "# not HTTP, allow in the packet filter: " + e.host + ":" +
             std::to_string(e.port) + " (" + e.purpose + ")\n";
      continue;
    }
    hosts.insert(e.host);
    ports.insert(e.port);
  }
  if (hosts.empty()) return out + "# no HTTP host to allow\n";
  out += "acl ocsp_proxy_hosts dstdomain";
  for (const auto& h : hosts) out += " " + h;
  out += "\nacl ocsp_proxy_ports port";
  for (uint16_t p : ports) out += " " + std::to_string(p);
  out += "\nhttp_access allow ocsp_proxy_hosts ocsp_proxy_ports\n";
  return out;
}

}  // namespace

std::vector<FirewallEntry> firewallEntries(const conf::Config& config) {
  std::vector<FirewallEntry> out;
  AllowList allow(config);
  for (const auto& [host_port, purpose] : allow.everything()) {
    const size_t colon = host_port.rfind(':');
    out.push_back({host_port.substr(0, colon),
                   static_cast<uint16_t>(std::stoul(host_port.substr(colon + 1))), purpose});
  }
  if (config.redis && config.redis->address) {
    out.push_back({config.redis->address->host, config.redis->address->port, "redis"});
  }
  if (config.redis) {
    for (const auto& s : config.redis->sentinels) out.push_back({s.host, s.port, "redis sentinel"});
  }
  return out;
}

std::string renderFirewallList(const std::vector<FirewallEntry>& entries, FirewallFormat format) {
  std::string out;
  switch (format) {
    case FirewallFormat::Plain:
      for (const auto& e : entries) {
        out += e.host + ":" + std::to_string(e.port) + "\t" + e.purpose + "\n";
      }
      return out;
    case FirewallFormat::Csv:
      out = "host,port,purpose\r\n";  // RFC 4180 §2: CRLF line breaks
      for (const auto& e : entries) {
        out += csvField(e.host) + "," + std::to_string(e.port) + "," + csvField(e.purpose) + "\r\n";
      }
      return out;
    case FirewallFormat::Json:
      out = "[";
      for (size_t i = 0; i < entries.size(); ++i) {
        out += i ? ",\n " : "\n ";
        out += "{\"host\": " + jsonString(entries[i].host) +
               ", \"port\": " + std::to_string(entries[i].port) +
               ", \"purpose\": " + jsonString(entries[i].purpose) + "}";
      }
      return out + (entries.empty() ? "]\n" : "\n]\n");
    case FirewallFormat::Squid:
      return renderSquid(entries);
  }
  return out;
}

int runFirewallList(int argc, char** argv) {
  std::string path = "/etc/ocsp-proxy/ocsp-proxy.yaml";
  FirewallFormat format = FirewallFormat::Plain;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      usage(stdout);
      return 0;
    }
    if (arg == "--format" || arg.rfind("--format=", 0) == 0) {
      std::string value = arg == "--format" ? (i + 1 < argc ? argv[++i] : "") : arg.substr(9);
      if (!parseFormat(value, &format)) {
        std::fprintf(stderr,
                     "ocsp-proxy firewall-list: --format takes plain, csv, json or squid, not "
                     "\"%s\"\n",
                     value.c_str());
        return 64;
      }
      continue;
    }
    if (!conf::configPathOption(argc, argv, i, &path)) {
      std::fprintf(stderr, "ocsp-proxy firewall-list: unknown argument: %s\n\n", arg.c_str());
      usage(stderr);
      return 64;
    }
  }
  auto config = conf::loadConfig(path);
  if (!config) {
    std::fprintf(stderr, "ocsp-proxy: %s\n", config.error().detail.c_str());
    return 1;
  }
  const std::string out = renderFirewallList(firewallEntries(**config), format);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace ocsp::tools
