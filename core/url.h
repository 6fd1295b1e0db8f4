#pragma once
// Absolute http(s) URLs as they appear in a forward-proxy request line (RFC 9112 §3.2.2
// absolute-form), in AIA/CRL distribution point extensions, and in the config (crl.urls).
// A strict parser: it accepts what RFC 3986 §3 allows for these schemes and says why it
// rejects the rest. It does no DNS and no percent-decoding of the host.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace ocsp {

struct HttpUrl {
  std::string scheme;          // "http" or "https", lower-cased
  std::string host;            // lower-cased; an IPv6 literal without its brackets
  uint16_t port = 0;           // the explicit port, else 80 (http) or 443 (https)
  bool explicit_port = false;
  bool has_userinfo = false;   // "user[:pass]@" was present (the parser drops its value)
  bool host_is_ip = false;     // IPv4 dotted quad or IPv6 literal
  std::string target;          // path and query as sent ("/" when empty); never a fragment
  // "host" or "host:port" (the port only when it is not the scheme's default): the form a
  // Host header takes (RFC 9110 §7.2) and the allow-list key.
  std::string authority() const;
  // The URL in normal form: scheme://authority/target (lower-case host, default port left
  // out). What is fetched, and the key a CRL is cached under.
  std::string text() const { return scheme + "://" + authority() + target; }
};

// Errors have category MalformedRequest and these codes:
//   not_absolute  no "scheme://"            bad_scheme   not http or https
//   bad_host      empty or invalid host     bad_port     not 1..65535
//   bad_target    control characters, spaces, or a fragment in the target
Result<HttpUrl> parseHttpUrl(std::string_view text);

// The target URI of an origin-form request (RFC 9112 §3.3): "http://" + the Host header's
// value + the target. Errors as parseHttpUrl, and bad_host for a Host value that is not
// just uri-host [":" port] (userinfo, a path, a query).
Result<HttpUrl> originFormUrl(std::string_view host_header, std::string_view target);

// A Host header value (RFC 9110 §7.2: uri-host [":" port]) compared with a URL's authority:
// case-insensitive host; a port the header writes must equal the URL's (a header without a
// port matches any: OpenSSL's client omits a non-default port, curl writes it).
bool hostHeaderMatches(std::string_view host_header, const HttpUrl& url);

}  // namespace ocsp
