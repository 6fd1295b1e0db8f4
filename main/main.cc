// ocsp-proxy: OCSP/CRL revocation-checking caching proxy. Command-line entry point.
#include <curl/curl.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "conf/config.h"
#include "core/log.h"
#include "proxy/server.h"
#include "tools/check.h"
#include "tools/client_config.h"
#include "tools/egress_test.h"
#include "tools/explain.h"
#include "tools/firewall_list.h"
#include "tools/issuers_import.h"
#include "tools/report.h"
#include "tools/responder_key.h"

namespace {

constexpr const char* kDefaultConfig = "/etc/ocsp-proxy/ocsp-proxy.yaml";

void usage(FILE* out) {
  std::fprintf(out,
               "Usage: ocsp-proxy [--config FILE] [--check-config]\n"
               "       ocsp-proxy check --cert LEAF.pem [...]   (ocsp-proxy check --help)\n"
               "       ocsp-proxy explain --cert LEAF.pem [--chain FILE] [--error CODE]\n"
               "                          [--proxy URL] [--admin URL] [--log FILE] [--json]\n"
               "                                          (ocsp-proxy explain --help)\n"
               "       ocsp-proxy report [--json] [FILE...]     (ocsp-proxy report --help)\n"
               "       ocsp-proxy report --impact ISSUER | --serials LIST [--deadline DATE]\n"
               "                         [FILE...]\n"
               "       ocsp-proxy client-config --for PRODUCT [--config FILE] [--host NAME]\n"
               "                                          (ocsp-proxy client-config --help)\n"
               "       ocsp-proxy firewall-list [--config FILE] [--format plain|csv|json|squid]\n"
               "       ocsp-proxy egress test [--config FILE] [--json] [--timeout-ms N]\n"
               "       ocsp-proxy issuers import BUNDLE... [--config FILE] [--out DIR]\n"
               "                                          (ocsp-proxy issuers import --help)\n"
               "       ocsp-proxy responder-key new --out DIR [...]\n"
               "                                          (ocsp-proxy responder-key --help)\n"
               "       ocsp-proxy --version | --help\n"
               "\n"
               "OCSP revocation-checking caching proxy: answers OCSP requests (POST or RFC 5019\n"
               "GET) from configured upstream responders, validates every response, and caches\n"
               "it until nextUpdate.\n"
               "\n"
               "Options:\n"
               "  --config FILE    configuration file (default %s)\n"
               "  --check-config   validate the configuration and exit: 0 if valid, 1 if not\n"
               "  --version        print the version and exit\n"
               "  --help           print this help and exit\n"
               "\n"
               "Subcommands:\n"
               "  check            ask about one certificate (through the proxy or directly)\n"
               "                   and print status, times and chain flags; exit code 0 good,\n"
               "                   1 revoked, 2 unknown, 3 error\n"
               "  explain          name the real cause behind a client's revocation error\n"
               "                   (\"certificate expired\", CRYPT_E_REVOCATION_OFFLINE, ...) in\n"
               "                   one sentence, with the evidence: the chain asked about, the\n"
               "                   proxy's /status and its revocation log\n"
               "  report           summarise revocation logs (JSON Lines) for the network team;\n"
               "                   --impact/--serials: who uses the certificates an incident\n"
               "                   touches\n"
               "  client-config    the settings that point one client product at this proxy\n"
               "  firewall-list    every host:port the proxy may contact, to allow by FQDN\n"
               "  egress test      from this machine, reach each of those hosts and make one\n"
               "                   real request; a table of what works and why not\n"
               "  issuers import   build the issuer catalogue (upstreams[].issuers) from CA\n"
               "                   certificate bundles, routing each CA to an upstream\n"
               "  responder-key new  make the key (and certificate or request) that signs the\n"
               "                   answers the proxy builds from CRLs, and print how clients\n"
               "                   are told to trust it\n"
               "\n"
               "Signals: SIGHUP reloads the config (an invalid one is logged and the running\n"
               "one kept) and reopens the revocation log; SIGTERM/SIGINT stop accepting, let\n"
               "requests in flight finish (limits.drain_timeout) and exit 0; SIGUSR1 only\n"
               "reopens the revocation log (logrotate).\n"
               "Logs go to stderr, one logfmt line per event.\n",
               kDefaultConfig);
}

// A Redis password in a file every local user can read is not a secret.
void warnIfSecretIsReadable(const ocsp::conf::Config& config) {
  if (!config.redis || config.redis->password.empty()) return;
  struct stat st {};
  if (::stat(config.path.c_str(), &st) != 0 || (st.st_mode & S_IROTH) == 0) return;
  ocsp::logEvent(ocsp::LogLevel::Warn, "config_permissions",
                 {{"path", config.path},
                  {"detail", "holds redis.password and is world-readable; chmod o-r it"}});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "check") == 0) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = ocsp::check::runCheck(argc - 1, argv + 1);
    curl_global_cleanup();
    return rc;
  }
  if (argc > 1 && std::strcmp(argv[1], "explain") == 0) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = ocsp::explain::runExplain(argc - 1, argv + 1);
    curl_global_cleanup();
    return rc;
  }
  if (argc > 1 && std::strcmp(argv[1], "firewall-list") == 0) {
    return ocsp::tools::runFirewallList(argc - 1, argv + 1);
  }
  if (argc > 1 && std::strcmp(argv[1], "egress") == 0) {
    return ocsp::tools::runEgress(argc - 1, argv + 1);
  }
  if (argc > 1 && std::strcmp(argv[1], "issuers") == 0) {
    return ocsp::tools::runIssuers(argc - 1, argv + 1);
  }
  if (argc > 1 && std::strcmp(argv[1], "responder-key") == 0) {
    return ocsp::tools::runResponderKey(argc - 1, argv + 1);
  }
  if (argc > 1 && std::strcmp(argv[1], "client-config") == 0) {
    return ocsp::tools::runClientConfig(argc - 1, argv + 1);
  }
  if (argc > 1 && std::strcmp(argv[1], "report") == 0) {
    return ocsp::report::runReport(argc - 1, argv + 1);
  }
  std::string config_path = kDefaultConfig;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      usage(stdout);
      return 0;
    }
    if (arg == "--version") {
      std::printf("ocsp-proxy %s\n", OCSP_PROXY_VERSION);
      return 0;
    }
    if (arg == "--check-config") {
      check_only = true;
    } else if (!ocsp::conf::configPathOption(argc, argv, i, &config_path)) {
      std::fprintf(stderr, "ocsp-proxy: unknown argument: %s\n\n", arg.c_str());
      usage(stderr);
      return 2;
    }
  }

  auto config = ocsp::conf::loadConfig(config_path);
  if (!config) {
    std::fprintf(stderr, "ocsp-proxy: %s\n", config.error().detail.c_str());
    return 1;
  }
  if (check_only) {
    size_t issuers = 0;
    for (const auto& u : (*config)->upstreams) issuers += u.issuers.size();
    std::printf("%s: OK (%zu upstreams, %zu issuer certificates, %zu watched intermediates)\n",
                config_path.c_str(), (*config)->upstreams.size(), issuers,
                (*config)->watch.intermediates.size());
    return 0;
  }
  ocsp::setLogLevel((*config)->logging.level);
  warnIfSecretIsReadable(**config);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  int rc = ocsp::runServer(*config);
  curl_global_cleanup();
  return rc;
}
