#include "tools/issuers_import.h"

#include <cstdio>
#include <ctime>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "conf/config.h"
#include "conf/yaml_schema.h"
#include "pki/issuer_catalogue.h"
#include "tools/catalogue_files.h"
#include "tools/subcommand.h"
#include "tools/log_record.h"

namespace ocsp::tools {

namespace {


void usage(FILE* out) {
  std::fprintf(
      out,
      "Usage: ocsp-proxy issuers import BUNDLE... [--config FILE] [--roots PATH]...\n"
      "                                 [--out DIR] [--at TIME]\n"
      "\n"
      "Builds the issuer catalogue: from certificate bundles (PEM with any number of\n"
      "certificates, DER, PKCS#7; files or directories of them), keeps every CA certificate\n"
      "that is valid and chains, signature by signature, to a root: the self-signed\n"
      "certificates of the config's upstreams[].issuers, and those of --roots. Each kept\n"
      "certificate is routed to an upstream: the one serving the OCSP host that the CAs it\n"
      "issued name (most of them), else the OCSP host of its own AIA, else its issuer's\n"
      "upstream (CRL-only CAs). Prints what was kept and why, what was skipped and why (unparseable,\n"
      "not_a_ca, expired, not_yet_valid, no_configured_root, duplicate, unroutable), RFC 5280\n"
      "departures OpenSSL tolerates, the OCSP hosts no upstream serves and the CRL and\n"
      "caIssuers hosts the config does not allow yet.\n"
      "\n"
      "  --config FILE   configuration whose upstreams route (default\n"
      "                  /etc/ocsp-proxy/ocsp-proxy.yaml)\n"
      "  --roots [UPSTREAM=]PATH\n"
      "                  more root certificates (a bundle or directory), repeatable; with\n"
      "                  UPSTREAM=, a root nothing else routes goes to that upstream\n"
      "  --out DIR       write DIR/<upstream>/*.pem, DIR/index.json and DIR/CATALOGUE.md\n"
      "                  (the .pem files already in DIR/<upstream>/ are replaced); without it\n"
      "                  nothing is written\n"
      "  --at TIME       judge validity at TIME (YYYY-MM-DD or RFC 3339; default now)\n"
      "\n"
      "Exit 0 when at least one certificate of the bundles or --roots was kept, 1 when none\n"
      "was or an input cannot be read, 64 for bad usage. Point upstreams[].issuers at\n"
      "DIR/<upstream> to use the catalogue.\n");
}

struct Options {
  std::string config = "/etc/ocsp-proxy/ocsp-proxy.yaml";
  std::vector<std::string> bundles, roots;
  std::string out;
  std::string command;  // as typed, for the catalogue's "regenerate with"
  int64_t at = static_cast<int64_t>(std::time(nullptr));
};

// nullopt and a message for bad usage; `help` set for --help.
std::optional<Options> parseArgs(int argc, char** argv, bool* help, std::string* error) {
  Options o;
  o.command = "ocsp-proxy issuers import";
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string* into) {
      if (i + 1 >= argc) {
        *error = arg + " needs a value";
        return false;
      }
      *into = argv[++i];
      o.command += " " + arg + " " + *into;
      return true;
    };
    std::string v;
    if (arg == "--help" || arg == "-h") {
      *help = true;
      return o;
    } else if (arg == "--config") {
      if (!value(&o.config)) return std::nullopt;
    } else if (arg == "--out") {
      if (!value(&o.out)) return std::nullopt;
    } else if (arg == "--roots") {
      if (!value(&v)) return std::nullopt;
      o.roots.push_back(v);
    } else if (arg == "--at") {
      if (!value(&v)) return std::nullopt;
      auto ms = report::parseTime(v, true);
      if (!ms) {
        *error = "--at: not a time (YYYY-MM-DD or RFC 3339): " + v;
        return std::nullopt;
      }
      o.at = *ms / 1000;
    } else if (arg.rfind("--", 0) == 0) {
      *error = "unknown option: " + arg;
      return std::nullopt;
    } else {
      o.bundles.push_back(arg);
      o.command += " " + arg;
    }
  }
  if (o.bundles.empty() && o.roots.empty()) {
    *error = "no bundle given";
    return std::nullopt;
  }
  return o;
}

bool allows(const std::vector<conf::HostAndPort>& hosts, const std::string& host) {
  for (const auto& h : hosts) {
    if (conf::sameHost(h.host, host)) return true;
  }
  return false;
}

void printReport(const Catalogue& c, const std::vector<CatalogueUpstream>& upstreams,
                 const conf::Config& config) {
  std::printf("%-8s %-24s %-40s %s\n", "KEPT", "UPSTREAM", "OCSP HOST", "SUBJECT (WHY)");
  for (const auto& k : c.kept) {
    std::printf("kept     %-24s %-40s %s%s (%s)\n", upstreams[k.upstream].name.c_str(),
                k.routed_host.empty() ? "-" : k.routed_host.c_str(), k.subject.c_str(),
                k.root ? " [root]" : "", k.why.c_str());
  }
  for (const auto& s : c.skipped) {
    std::printf("skipped  %-24s %s %s: %s\n", std::string(skipReasonName(s.reason)).c_str(),
                s.origin.c_str(), s.subject.empty() ? "-" : s.subject.c_str(), s.detail.c_str());
  }
  auto notes = [](const std::string& origin, const std::string& subject,
                  const std::vector<std::string>& list) {
    for (const auto& n : list) {
      std::printf("note     %s %s: %s\n", origin.c_str(), subject.c_str(), n.c_str());
    }
  };
  for (const auto& k : c.kept) notes(k.origin, k.subject, k.notes);
  for (const auto& s : c.skipped) notes(s.origin, s.subject, s.notes);

  std::printf("\nKept %zu:", c.kept.size());
  for (size_t u = 0; u < upstreams.size(); ++u) {
    size_t n = 0;
    for (const auto& k : c.kept) n += k.upstream == u;
    if (n) std::printf(" %s %zu;", upstreams[u].name.c_str(), n);
  }
  std::map<std::string, size_t> by_reason;
  for (const auto& s : c.skipped) ++by_reason[std::string(skipReasonName(s.reason))];
  std::printf("\nSkipped %zu:", c.skipped.size());
  for (const auto& [reason, n] : by_reason) std::printf(" %s %zu;", reason.c_str(), n);
  std::printf("\n");
  for (const auto& [host, n] : c.unserved_ocsp_hosts) {
    std::printf("unserved OCSP host %s (named by %zu kept certificates; add an upstream)\n",
                host.c_str(), n);
  }
  for (const auto& host : c.crl_hosts) {
    if (!allows(config.crl.fqdns, host)) std::printf("CRL host not in crl.fqdns: %s\n", host.c_str());
  }
  for (const auto& host : c.ca_issuers_hosts) {
    if (!allows(config.forward.aia_fqdns, host)) {
      std::printf("caIssuers host not in forward.aia_fqdns: %s\n", host.c_str());
    }
  }
}

int runImport(const Options& o) {
  auto config = conf::loadConfig(o.config);
  if (!config) {
    std::fprintf(stderr, "ocsp-proxy: %s\n", config.error().detail.c_str());
    return 1;
  }
  std::vector<CatalogueUpstream> upstreams;
  std::vector<CatalogueRoot> roots;
  std::set<std::string> configured;  // origins of the config's own roots
  for (size_t u = 0; u < (*config)->upstreams.size(); ++u) {
    const auto& up = (*config)->upstreams[u];
    upstreams.push_back(CatalogueUpstream{up.name, up.fqdns});
    for (const auto& issuer : up.issuers) {
      if (!isSelfSigned(issuer.cert.get())) continue;
      roots.push_back(CatalogueRoot{issuer.cert, issuer.path, u});
      configured.insert(issuer.path);
    }
  }
  std::vector<CatalogueInput> inputs;
  std::string error;
  for (const auto& arg : o.roots) {
    // "UPSTREAM=PATH" binds the roots to an upstream (their route when no rule decides).
    std::string path = arg;
    size_t bound = kNoUpstream;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      for (size_t u = 0; u < upstreams.size(); ++u) {
        if (upstreams[u].name == arg.substr(0, eq)) bound = u;
      }
      if (bound == kNoUpstream) {
        std::fprintf(stderr, "ocsp-proxy issuers import: --roots %s: no upstream named %s\n",
                     arg.c_str(), arg.substr(0, eq).c_str());
        return 1;
      }
      path = arg.substr(eq + 1);
    }
    auto read = readBundle(path, &error);
    if (!read) {
      std::fprintf(stderr, "ocsp-proxy issuers import: %s\n", error.c_str());
      return 1;
    }
    for (auto& in : *read) {
      const auto* p = reinterpret_cast<const unsigned char*>(in.der.data());
      X509Ptr cert(in.der.empty() ? nullptr : d2i_X509(nullptr, &p, static_cast<long>(in.der.size())));
      if (cert && isSelfSigned(cert.get())) {
        roots.push_back(CatalogueRoot{shareX509(std::move(cert)), in.origin, bound});
      } else {
        inputs.push_back(std::move(in));  // reported like any bundle entry
      }
    }
  }
  for (const auto& path : o.bundles) {
    auto read = readBundle(path, &error);
    if (!read) {
      std::fprintf(stderr, "ocsp-proxy issuers import: %s\n", error.c_str());
      return 1;
    }
    for (auto& in : *read) inputs.push_back(std::move(in));
  }

  Catalogue catalogue = buildCatalogue(upstreams, roots, inputs, o.at);
  printReport(catalogue, upstreams, **config);
  if (!o.out.empty()) {
    if (!writeCatalogue(o.out, catalogue, upstreams, o.command, o.at, &error)) {
      std::fprintf(stderr, "ocsp-proxy issuers import: %s\n", error.c_str());
      return 1;
    }
    std::printf("Wrote %s\n", o.out.c_str());
  }
  size_t imported = 0;
  for (const auto& k : catalogue.kept) imported += configured.count(k.origin) == 0;
  if (imported == 0) {
    std::fprintf(stderr, "ocsp-proxy issuers import: no certificate of the bundles was kept\n");
    return 1;
  }
  return 0;
}

}  // namespace

int runIssuers(int argc, char** argv) {
  return runSubcommand<Options>(argc, argv, "issuers", "import", usage, parseArgs, runImport);
}

}  // namespace ocsp::tools
