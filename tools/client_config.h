#pragma once
// `ocsp-proxy client-config --for windows|java|apache|nginx|freeradius|openssl [--config FILE]
// [--host NAME]`: the exact settings that point one client product at this proxy, for the
// address it listens on (listen.ocsp) and the modes it serves on it:
//   local responder   the client names http://HOST:PORT/ as its OCSP responder, for every CA
//   forward proxy     the client keeps the CAs' URLs and uses HOST:PORT as its HTTP proxy
//                     (forward.enabled; products without a proxy setting for OCSP say so)
//   transparent       nothing to set on the client: the site's DNS points the CAs' names at
//                     the proxy, which must then take port 80
// Each product's section uses that product's documented syntax; the page each comes from is
// cited next to its text in client_config.cc. Placeholders the proxy cannot know are in
// capitals: LEAF.pem, ISSUER.pem, ROOTS.pem, CA_OCSP_URL.
//
// HOST is --host when given, else listen.ocsp's address. A wildcard listener (0.0.0.0, ::)
// names no address a client can use, so --host is then required; so is a real port (a
// listen.ocsp port of 0 is chosen at start and cannot be told to clients).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "conf/config.h"
#include "core/result.h"

namespace ocsp::tools {

enum class ClientProduct { Windows, Java, Apache, Nginx, FreeRadius, OpenSsl };
std::optional<ClientProduct> parseClientProduct(std::string_view name);

// Where clients reach the proxy, and what it serves there.
struct ProxyEndpoint {
  std::string host;  // a name or an IP literal (IPv6 without brackets)
  uint16_t port = 0;
  bool forward_enabled = true;  // forward.enabled

  std::string hostPort() const;      // "10.0.0.5:8080", "[2001:db8::5]:8080"
  std::string responderUrl() const;  // "http://10.0.0.5:8080/"
};

// The endpoint from the config and --host ("" = none). Errors (code "usage") say what to give.
Result<ProxyEndpoint> clientEndpoint(const conf::Config& config, std::string_view host);

// The settings text for one product, ending in '\n'. Pure.
std::string renderClientConfig(ClientProduct product, const ProxyEndpoint& endpoint);

// argv[0] = "client-config". Prints the settings; exit 0, 1 for a config that does not load
// (message on stderr), 64 for bad usage.
int runClientConfig(int argc, char** argv);

}  // namespace ocsp::tools
