#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
// `ocsp-proxy client-config` (tools/client_config.h): the settings each product is given,
// line by line, for the local-responder, forward and transparent modes, and the address
// clients are told (--host, wildcard listeners, port 0).
#include <doctest/doctest.h>

#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/test_util.h"
#include "tools/client_config.h"

namespace ocsp::tools {
namespace {

const ProxyEndpoint kProxy{.host = "10.20.0.5", .port = 8080, .forward_enabled = true};

// `text` has `line` as one whole line.
bool hasLine(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

// The lines of the section "## TITLE" up to the next section.
std::vector<std::string> section(const std::string& text, const std::string& title) {
  std::vector<std::string> out;
  bool in = false;
  std::istringstream lines(text);
  for (std::string l; std::getline(lines, l);) {
    if (l.starts_with("## "))
      in = l == "## " + title;
    else if (in)
      out.push_back(l);
  }
  return out;
}

std::shared_ptr<const conf::Config> configListeningOn(const std::string& listen,
                                                      const std::string& more = "") {
  const std::string yaml = "listen: {ocsp: \"" + listen + "\"}\n" + more +
                           "upstreams:\n"
                           "  - name: a\n"
                           "    fqdns: [ocsp.a.test]\n"
                           "    issuers: [" +
                           test::realData("aws-lc-ocsp/ca_cert.pem") + "]\n";
  auto loaded = conf::parseConfig(yaml, "F", "/nonexistent");
  REQUIRE_MESSAGE(loaded.ok(), loaded.error().detail);
  return *loaded;
}

TEST_CASE("each product gets its own documented settings with the proxy's URL or address") {
  const struct {
    ClientProduct product;
    std::vector<std::string> lines;
  } rows[] = {
      {ClientProduct::Windows,
       {"OCSP responder URL: http://10.20.0.5:8080/",
        "netsh winhttp set proxy proxy-server=\"http=10.20.0.5:8080\" bypass-list=\"<local>\""}},
      {ClientProduct::Java,
       {"ocsp.enable=true", "ocsp.responderURL=http://10.20.0.5:8080/",
        "-Dhttp.proxyHost=10.20.0.5 -Dhttp.proxyPort=8080"}},
      {ClientProduct::Apache,
       {"SSLOCSPEnable on", "SSLOCSPDefaultResponder http://10.20.0.5:8080/",
        "SSLOCSPOverrideResponder on", "SSLOCSPUseRequestNonce off", "SSLUseStapling on",
        "SSLStaplingForceURL http://10.20.0.5:8080/", "SSLOCSPProxyURL http://10.20.0.5:8080/"}},
      {ClientProduct::Nginx,
       {"ssl_ocsp on;", "ssl_ocsp_responder http://10.20.0.5:8080/;", "ssl_stapling on;",
        "ssl_stapling_responder http://10.20.0.5:8080/;",
        "# nginx has no proxy setting for OCSP: use the local-responder lines above."}},
      {ClientProduct::FreeRadius,
       {"ocsp {", "    enable = yes", "    override_cert_url = yes",
        "    url = \"http://10.20.0.5:8080/\"", "    use_nonce = no", "}",
        "# FreeRADIUS has no proxy setting for OCSP: use the local-responder lines above."}},
      {ClientProduct::OpenSsl,
       {"openssl ocsp -url http://10.20.0.5:8080/ -issuer ISSUER.pem -cert LEAF.pem -CAfile "
        "ROOTS.pem",
        "openssl ocsp -proxy 10.20.0.5:8080 -url CA_OCSP_URL -issuer ISSUER.pem -cert LEAF.pem "
        "-CAfile ROOTS.pem"}},
  };
  for (const auto& row : rows) {
    const std::string text = renderClientConfig(row.product, kProxy);
    CAPTURE(text);
    for (const auto& line : row.lines) {
      CAPTURE(line);
      CHECK(hasLine(text, line));
    }
    // Every product: the transparent mode asks nothing of the client, and port 80 of the proxy.
    CHECK(hasLine(text, "#   10.20.0.5"));
    CHECK(hasLine(
        text,
        "# Nothing to change on the client. In the site's DNS, point the CAs' OCSP, CRL and"));
    CHECK(hasLine(text,
                  "# listen.ocsp is on port 8080: listen on port 80 too, or redirect port 80 to it "
                  "in the firewall."));
  }
}

TEST_CASE("the nginx snippet is directives nginx knows, each 'name value;' on its own line") {
  const std::set<std::string> known = {"ssl_ocsp", "ssl_ocsp_responder", "ssl_stapling",
                                       "ssl_stapling_verify", "ssl_stapling_responder"};
  const std::regex directive(R"(^([a-z_]+) ([^;{}#]+);$)");
  const auto lines = section(renderClientConfig(ClientProduct::Nginx, kProxy), "Local responder");
  int directives = 0;
  for (const auto& l : lines) {
    if (l.empty() || l.starts_with("#")) continue;
    CAPTURE(l);
    std::smatch m;
    REQUIRE(std::regex_match(l, m, directive));
    CHECK(known.count(m[1].str()) == 1);
    ++directives;
  }
  CHECK(directives == 5);
}

TEST_CASE("forward mode disabled: no proxy settings, the local responder is named instead") {
  ProxyEndpoint no_forward = kProxy;
  no_forward.forward_enabled = false;
  for (ClientProduct p : {ClientProduct::Windows, ClientProduct::Java, ClientProduct::Apache,
                          ClientProduct::OpenSsl}) {
    const std::string text = renderClientConfig(p, no_forward);
    CAPTURE(text);
    CHECK(hasLine(
        text, "# forward.enabled is false: this proxy refuses forward-proxy requests (HTTP 403)."));
    CHECK(text.find("netsh winhttp set proxy") == std::string::npos);
    CHECK(text.find("-Dhttp.proxyHost") == std::string::npos);
    CHECK(text.find("SSLOCSPProxyURL") == std::string::npos);
    CHECK(text.find("openssl ocsp -proxy") == std::string::npos);
  }
}

TEST_CASE(
    "an IPv6 address is bracketed in URLs; port 80 needs no redirect; a name needs a resolver") {
  const ProxyEndpoint v6{.host = "2001:db8::5", .port = 80};
  const std::string text = renderClientConfig(ClientProduct::Nginx, v6);
  CHECK(hasLine(text, "ssl_ocsp_responder http://[2001:db8::5]:80/;"));
  CHECK(text.find("redirect port 80") == std::string::npos);
  CHECK(text.find("resolver") == std::string::npos);
  const ProxyEndpoint named{.host = "ocsp-proxy.hospital.example", .port = 8080};
  CHECK(hasLine(
      renderClientConfig(ClientProduct::Nginx, named),
      "# ocsp-proxy.hospital.example is a name: nginx resolves it with its `resolver` directive."));
}

TEST_CASE("the address clients are told: listen.ocsp, or --host, which a wildcard listener needs") {
  const auto local = clientEndpoint(*configListeningOn("127.0.0.1:8080"), "");
  REQUIRE(local);
  CHECK(local->responderUrl() == "http://127.0.0.1:8080/");
  CHECK(local->forward_enabled);

  const auto wildcard = configListeningOn("0.0.0.0:80", "forward: {enabled: false}\n");
  const auto refused = clientEndpoint(*wildcard, "");
  REQUIRE(!refused);
  CHECK(refused.error().detail ==
        "listen.ocsp is 0.0.0.0:80, every interface: give the name or address clients use with "
        "--host NAME");
  const auto named = clientEndpoint(*wildcard, "ocsp-proxy.hospital.example");
  REQUIRE(named);
  CHECK(named->hostPort() == "ocsp-proxy.hospital.example:80");
  CHECK(!named->forward_enabled);
  const auto bracketed = clientEndpoint(*wildcard, "[2001:db8::5]");
  REQUIRE(bracketed);
  CHECK(bracketed->responderUrl() == "http://[2001:db8::5]:80/");

  for (const char* bad : {"proxy:8080", "http://proxy/", "0.0.0.0", "two words"}) {
    CAPTURE(bad);
    const auto r = clientEndpoint(*wildcard, bad);
    REQUIRE(!r);
    CHECK(r.error().detail.starts_with(
        "--host takes the name or address clients reach the proxy by"));
  }
  const auto port0 = clientEndpoint(*configListeningOn("127.0.0.1:0"), "");
  REQUIRE(!port0);
  CHECK(port0.error().detail ==
        "listen.ocsp's port is 0 (a free port chosen at start): clients need a fixed port; set "
        "one in F");
}

TEST_CASE("products by name; anything else is not one") {
  CHECK(parseClientProduct("freeradius") == ClientProduct::FreeRadius);
  CHECK(parseClientProduct("openssl") == ClientProduct::OpenSsl);
  CHECK(!parseClientProduct("Windows"));
  CHECK(!parseClientProduct("iis"));
}

}  // namespace
}  // namespace ocsp::tools
