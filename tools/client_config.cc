#include "tools/client_config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>

namespace ocsp::tools {
namespace {

constexpr const char* kUsage =
    "Usage: ocsp-proxy client-config --for windows|java|apache|nginx|freeradius|openssl\n"
    "                                [--config FILE] [--host NAME]\n"
    "\n"
    "Prints the settings that point one client product at this proxy: as its local OCSP\n"
    "responder (http://HOST:PORT/), as its HTTP proxy (forward mode), and what the\n"
    "transparent (DNS) mode needs of it (nothing). HOST:PORT is listen.ocsp.\n"
    "\n"
    "Options:\n"
    "  --for PRODUCT   windows, java, apache, nginx, freeradius or openssl\n"
    "  --config FILE   configuration file (default /etc/ocsp-proxy/ocsp-proxy.yaml)\n"
    "  --host NAME     the name or address clients reach the proxy by (required when\n"
    "                  listen.ocsp is 0.0.0.0 or ::)\n"
    "  --help          print this help and exit\n"
    "\n"
    "Exit status: 0 printed, 1 the configuration does not load, 64 bad usage.\n";

bool isWildcard(std::string_view host) {
  return host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]";
}

// An IP literal or a name: what --host may hold (no scheme, port, path or spaces).
bool isPlainHost(std::string_view host) {
  if (host.empty()) return false;
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == ':' || c == '_';
    if (!ok) return false;
  }
  // One colon is "host:port"; IPv6 literals have at least two.
  const auto colons = std::count(host.begin(), host.end(), ':');
  return colons != 1;
}

bool isIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::string heading(std::string_view product, const ProxyEndpoint& e) {
  return "# ocsp-proxy settings for " + std::string(product) +
         "\n# Local responder: " + e.responderUrl() + "\n# Forward proxy: " +
         (e.forward_enabled ? e.hostPort() : "disabled (forward.enabled: false)") + "\n";
}

std::string forwardDisabled() {
  return "# forward.enabled is false: this proxy refuses forward-proxy requests (HTTP 403).\n"
         "# Use the local-responder settings above, or enable forward mode.\n";
}

// Every product: the transparent mode needs nothing of the client.
std::string transparent(const ProxyEndpoint& e) {
  std::string out =
      "\n## Transparent mode (DNS override)\n"
      "# Nothing to change on the client. In the site's DNS, point the CAs' OCSP, CRL and\n"
      "# caIssuers host names (ocsp-proxy firewall-list prints them) at this address:\n"
      "#   " +
      e.host +
      "\n"
      "# The client then reaches the proxy by the URLs in its certificates, on port 80.\n";
  if (e.port != 80) {
    out += "# listen.ocsp is on port " + std::to_string(e.port) +
           ": listen on port 80 too, or redirect port 80 to it in the firewall.\n";
  }
  return out;
}

// Windows: the WinHTTP proxy ("Netsh.exe commands", https://learn.microsoft.com/en-us/windows/
// win32/winhttp/netsh-exe-commands: set proxy proxy-server="http=HOST:PORT" bypass-list=) and
// the per-CA OCSP responder URL of Group Policy ("Appendix A: Managing OCSP Settings with Group
// Policy", https://learn.microsoft.com/en-us/previous-versions/windows/it-pro/
// windows-server-2008-R2-and-2008/ee619786(v=ws.10)).
std::string windows(const ProxyEndpoint& e) {
  std::string out = heading("Windows (CryptoAPI: every program that checks through Windows)", e);
  out +=
      "\n## Local responder\n"
      "# Group Policy, per CA (the URLs added here are tried before the certificate's own):\n"
      "#   Computer Configuration > Policies > Windows Settings > Security Settings >\n"
      "#   Public Key Policies > Intermediate Certification Authorities (import the CA\n"
      "#   certificate if it is not listed) > the CA certificate > Properties > OCSP tab:\n"
      "#   type the URL below and click Add URL.\n"
      "OCSP responder URL: " +
      e.responderUrl() + "\n";
  out += "\n## Forward proxy\n";
  if (!e.forward_enabled) return out + forwardDisabled() + transparent(e);
  out +=
      "# Windows fetches OCSP, CRLs and caIssuers certificates through the WinHTTP proxy\n"
      "# (services and the system account too). In an elevated prompt:\n"
      "netsh winhttp set proxy proxy-server=\"http=" +
      e.hostPort() +
      "\" bypass-list=\"<local>\"\n"
      "# Check: netsh winhttp show proxy. Undo: netsh winhttp reset proxy.\n"
      "# Every plain-http WinHTTP request of the machine then goes to the proxy, which\n"
      "# refuses (HTTP 403) hosts not on its allow list: use this where plain http is used\n"
      "# for revocation only, and the transparent mode elsewhere.\n";
  return out + transparent(e);
}

// Java: the OCSP security properties ("Java PKI Programmer's Guide", Appendix C: ocsp.enable,
// ocsp.responderURL; https://docs.oracle.com/en/java/javase/21/security/
// java-pki-programmers-guide.html), the JSSE switch com.sun.net.ssl.checkRevocation and the CRL
// switch com.sun.security.enableCRLDP (same guide), and the networking properties
// http.proxyHost/http.proxyPort (https://docs.oracle.com/en/java/javase/21/docs/api/
// java.base/java/net/doc-files/net-properties.html).
std::string java(const ProxyEndpoint& e) {
  std::string out = heading("Java (PKIX revocation checking, JSSE)", e);
  out +=
      "\n## Local responder\n"
      "# ocsp.* are security properties, not -D system properties. Write these two lines\n"
      "# to a file (e.g. /etc/ocsp-proxy/java-ocsp.security):\n"
      "ocsp.enable=true\n"
      "ocsp.responderURL=" +
      e.responderUrl() +
      "\n"
      "# and start the JVM with it (TLS clients also need revocation checking on):\n"
      "#   java -Djava.security.properties=/etc/ocsp-proxy/java-ocsp.security \\\n"
      "#        -Dcom.sun.net.ssl.checkRevocation=true ...\n"
      "# or set them in code before the first certificate check:\n"
      "#   java.security.Security.setProperty(\"ocsp.enable\", \"true\");\n"
      "#   java.security.Security.setProperty(\"ocsp.responderURL\", \"" +
      e.responderUrl() + "\");\n";
  out += "\n## Forward proxy\n";
  if (!e.forward_enabled) return out + forwardDisabled() + transparent(e);
  out +=
      "# The certificates' own OCSP URLs (and caIssuers downloads), fetched through the\n"
      "# proxy. JVM options:\n"
      "-Dhttp.proxyHost=" +
      e.host + " -Dhttp.proxyPort=" + std::to_string(e.port) +
      "\n"
      "# CRL distribution points through the proxy too: -Dcom.sun.security.enableCRLDP=true\n";
  return out + transparent(e);
}

// Apache httpd mod_ssl (https://httpd.apache.org/docs/2.4/mod/mod_ssl.html): SSLOCSPEnable,
// SSLOCSPDefaultResponder, SSLOCSPOverrideResponder, SSLOCSPUseRequestNonce (2.4.10),
// SSLOCSPProxyURL (2.4.19), SSLUseStapling, SSLStaplingCache, SSLStaplingForceURL.
std::string apache(const ProxyEndpoint& e) {
  std::string out = heading("Apache httpd (mod_ssl)", e);
  out +=
      "\n## Local responder\n"
      "# Client certificates (SSLVerifyClient), in the <VirtualHost>:\n"
      "SSLOCSPEnable on\n"
      "SSLOCSPDefaultResponder " +
      e.responderUrl() +
      "\n"
      "SSLOCSPOverrideResponder on\n"
      "# Answers served from the proxy's cache carry no nonce (config key `nonce`):\n"
      "SSLOCSPUseRequestNonce off\n"
      "# Stapling of the server's own certificate. SSLStaplingCache goes outside any\n"
      "# <VirtualHost>, the other two inside:\n"
      "SSLStaplingCache shmcb:logs/ssl_stapling(32768)\n"
      "SSLUseStapling on\n"
      "SSLStaplingForceURL " +
      e.responderUrl() + "\n";
  out += "\n## Forward proxy\n";
  if (!e.forward_enabled) return out + forwardDisabled() + transparent(e);
  out +=
      "# Client certificates, their own responder URLs through the proxy (httpd 2.4.19+;\n"
      "# stapling has no proxy setting: use SSLStaplingForceURL above):\n"
      "SSLOCSPEnable on\n"
      "SSLOCSPProxyURL " +
      e.responderUrl() + "\n";
  return out + transparent(e);
}

// nginx ngx_http_ssl_module (https://nginx.org/en/docs/http/ngx_http_ssl_module.html):
// ssl_ocsp, ssl_ocsp_responder (1.19.0), ssl_stapling, ssl_stapling_responder,
// ssl_stapling_verify. nginx has no proxy setting for its OCSP requests.
std::string nginx(const ProxyEndpoint& e) {
  std::string out = heading("nginx (ngx_http_ssl_module)", e);
  out +=
      "\n## Local responder\n"
      "# In the server { } block. Client certificates (with ssl_verify_client on and\n"
      "# ssl_client_certificate; nginx 1.19.0+):\n"
      "ssl_ocsp on;\n"
      "ssl_ocsp_responder " +
      e.responderUrl() +
      ";\n"
      "# Stapling of the server's own certificate:\n"
      "ssl_stapling on;\n"
      "ssl_stapling_verify on;\n"
      "ssl_stapling_responder " +
      e.responderUrl() + ";\n";
  if (!isIpLiteral(e.host)) {
    out += "# " + e.host + " is a name: nginx resolves it with its `resolver` directive.\n";
  }
  out +=
      "\n## Forward proxy\n"
      "# nginx has no proxy setting for OCSP: use the local-responder lines above.\n";
  return out + transparent(e);
}

// FreeRADIUS 3 EAP module (raddb/mods-available/eap, tls-config tls-common { ocsp { } }:
// enable, override_cert_url, url, use_nonce; https://github.com/FreeRADIUS/freeradius-server/
// blob/v3.2.x/raddb/mods-available/eap). It has no proxy setting for OCSP.
std::string freeradius(const ProxyEndpoint& e) {
  std::string out = heading("FreeRADIUS (EAP-TLS, mods-available/eap)", e);
  out +=
      "\n## Local responder\n"
      "# Inside tls-config tls-common { }:\n"
      "ocsp {\n"
      "    enable = yes\n"
      "    override_cert_url = yes\n"
      "    url = \"" +
      e.responderUrl() +
      "\"\n"
      "    # answers served from the proxy's cache carry no nonce (config key `nonce`)\n"
      "    use_nonce = no\n"
      "}\n"
      "\n## Forward proxy\n"
      "# FreeRADIUS has no proxy setting for OCSP: use the local-responder lines above.\n";
  return out + transparent(e);
}

// OpenSSL `openssl ocsp` (https://docs.openssl.org/3.0/man1/openssl-ocsp/): -url, -proxy
// (3.0+), -issuer, -cert, -CAfile. `openssl s_client -status` only asks the server for a
// stapled answer; `openssl verify` does no OCSP (https://docs.openssl.org/3.0/man1/
// openssl-s_client/, openssl-verify/).
std::string openssl(const ProxyEndpoint& e) {
  std::string out = heading("OpenSSL (openssl ocsp)", e);
  out +=
      "\n## Local responder\n"
      "openssl ocsp -url " +
      e.responderUrl() + " -issuer ISSUER.pem -cert LEAF.pem -CAfile ROOTS.pem\n";
  out += "\n## Forward proxy\n";
  if (!e.forward_enabled) {
    out += forwardDisabled();
  } else {
    out +=
        "# CA_OCSP_URL is the certificate's own: openssl x509 -noout -ocsp_uri -in LEAF.pem\n"
        "openssl ocsp -proxy " +
        e.hostPort() + " -url CA_OCSP_URL -issuer ISSUER.pem -cert LEAF.pem -CAfile ROOTS.pem\n";
  }
  out +=
      "# `openssl s_client -status` takes no responder URL (it asks the server for a\n"
      "# stapled answer) and `openssl verify` does no OCSP: neither has a setting here.\n";
  return out + transparent(e);
}

}  // namespace

std::optional<ClientProduct> parseClientProduct(std::string_view name) {
  if (name == "windows") return ClientProduct::Windows;
  if (name == "java") return ClientProduct::Java;
  if (name == "apache") return ClientProduct::Apache;
  if (name == "nginx") return ClientProduct::Nginx;
  if (name == "freeradius") return ClientProduct::FreeRadius;
  if (name == "openssl") return ClientProduct::OpenSsl;
  return std::nullopt;
}

std::string ProxyEndpoint::hostPort() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string ProxyEndpoint::responderUrl() const { return "http://" + hostPort() + "/"; }

Result<ProxyEndpoint> clientEndpoint(const conf::Config& config, std::string_view host) {
  const auto usage = [](std::string msg) {
    return makeError(ErrorCategory::Config, "usage", std::move(msg));
  };
  const conf::ListenAddress& listen = config.listen_ocsp;
  ProxyEndpoint e;
  e.port = listen.port;
  e.forward_enabled = config.forward.enabled;
  if (!host.empty()) {
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    if (!isPlainHost(host) || isWildcard(host)) {
      return usage(
          "--host takes the name or address clients reach the proxy by (the port is "
          "listen.ocsp's), not \"" +
          std::string(host) + "\"");
    }
    e.host = std::string(host);
  } else if (isWildcard(listen.host)) {
    return usage("listen.ocsp is " + listen.host + ":" + std::to_string(listen.port) +
                 ", every interface: give the name or address clients use with --host NAME");
  } else {
    e.host = listen.host;
  }
  if (e.port == 0) {
    return usage(
        "listen.ocsp's port is 0 (a free port chosen at start): clients need a fixed "
        "port; set one in " +
        config.path);
  }
  return e;
}

std::string renderClientConfig(ClientProduct product, const ProxyEndpoint& endpoint) {
  switch (product) {
    case ClientProduct::Windows:
      return windows(endpoint);
    case ClientProduct::Java:
      return java(endpoint);
    case ClientProduct::Apache:
      return apache(endpoint);
    case ClientProduct::Nginx:
      return nginx(endpoint);
    case ClientProduct::FreeRadius:
      return freeradius(endpoint);
    case ClientProduct::OpenSsl:
      return openssl(endpoint);
  }
  return {};
}

int runClientConfig(int argc, char** argv) {
  std::string path = "/etc/ocsp-proxy/ocsp-proxy.yaml";
  std::string host;
  std::optional<ClientProduct> product;
  const auto bad = [](const std::string& msg) {
    std::fprintf(stderr, "ocsp-proxy client-config: %s\n\n%s", msg.c_str(), kUsage);
    return 64;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    if (name == "--for" || name == "--host") {
      if (eq == std::string::npos && i + 1 == argc) return bad(name + " needs a value");
      const std::string value = eq == std::string::npos ? argv[++i] : arg.substr(eq + 1);
      if (name == "--host") {
        host = value;
      } else if (!(product = parseClientProduct(value))) {
        return bad("--for takes windows, java, apache, nginx, freeradius or openssl, not \"" +
                   value + "\"");
      }
      continue;
    }
    if (!conf::configPathOption(argc, argv, i, &path)) return bad("unknown argument: " + arg);
  }
  if (!product) return bad("--for PRODUCT is required");
  auto config = conf::loadConfig(path);
  if (!config) {
    std::fprintf(stderr, "ocsp-proxy: %s\n", config.error().detail.c_str());
    return 1;
  }
  auto endpoint = clientEndpoint(**config, host);
  if (!endpoint) return bad(endpoint.error().detail);
  const std::string out = renderClientConfig(*product, *endpoint);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace ocsp::tools
