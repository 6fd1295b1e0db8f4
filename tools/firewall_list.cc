#include "tools/firewall_list.h"

#include <cstdio>
#include <string>

#include "conf/config.h"
#include "upstream/allow_list.h"

namespace ocsp::tools {

namespace {
void usage(FILE* out) {
  std::fprintf(out,
               "Usage: ocsp-proxy firewall-list [--config FILE]\n"
               "\n"
               "Prints every host and port ocsp-proxy may contact, one per line, with what it\n"
               "is for: OCSP upstreams (upstreams[].fqdns on their port), CRL hosts (crl.fqdns\n"
               "and the hosts of crl.urls) and AIA hosts (forward.aia_fqdns). Allow these by\n"
               "FQDN in the firewall; nothing else is ever contacted (Redis aside).\n"
               "\n"
               "  --config FILE   configuration file (default /etc/ocsp-proxy/ocsp-proxy.yaml)\n");
}
}  // namespace

int runFirewallList(int argc, char** argv) {
  std::string path = "/etc/ocsp-proxy/ocsp-proxy.yaml";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      usage(stdout);
      return 0;
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
  AllowList allow(**config);
  for (const auto& [host_port, purpose] : allow.everything()) {
    std::printf("%s\t%s\n", host_port.c_str(), purpose.c_str());
  }
  if ((*config)->redis && (*config)->redis->address) {
    const auto& a = *(*config)->redis->address;
    std::printf("%s:%u\tredis\n", a.host.c_str(), static_cast<unsigned>(a.port));
  }
  for (const auto& s : (*config)->redis ? (*config)->redis->sentinels
                                         : std::vector<conf::RedisAddress>{}) {
    std::printf("%s:%u\tredis sentinel\n", s.host.c_str(), static_cast<unsigned>(s.port));
  }
  return 0;
}

}  // namespace ocsp::tools
