#include "core/url.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace ocsp {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Error bad(const char* code, std::string detail) {
  return Error{ErrorCategory::MalformedRequest, code, std::move(detail)};
}

// inet_pton reads a C string: a NUL inside `s` would hide the rest ("10.0.0.1\0.example" read
// as 10.0.0.1; certificates' IA5String URLs may hold one). Found by tests/fuzz/fuzz_url.
bool isIpv4(const std::string& s) {
  in_addr a{};
  return s.find('\0') == std::string::npos && inet_pton(AF_INET, s.c_str(), &a) == 1;
}

bool isIpv6(const std::string& s) {
  in6_addr a{};
  return s.find('\0') == std::string::npos && inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

// RFC 3986 reg-name restricted to what DNS can carry: letters, digits, '-', '.', '_'.
bool isRegName(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.' || c == '_';
  });
}

uint16_t defaultPort(std::string_view scheme) { return scheme == "https" ? 443 : 80; }

// Parses "1..65535" with nothing else around it.
bool parsePort(std::string_view s, uint16_t* out) {
  if (s.empty() || s.size() > 5) return false;
  unsigned n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size() || n == 0 || n > 65535) return false;
  *out = static_cast<uint16_t>(n);
  return true;
}

// Splits "host[:port]" (host possibly "[v6]") into a lower-cased host and a port.
// False if the shape is wrong; `port` keeps its value when no port is written.
bool splitHostPort(std::string_view hp, std::string* host, uint16_t* port, bool* explicit_port,
                   bool* bracketed) {
  std::string_view port_text;
  bool has_port = false;
  *bracketed = !hp.empty() && hp.front() == '[';
  if (*bracketed) {
    size_t close = hp.find(']');
    if (close == std::string_view::npos) return false;
    *host = lower(hp.substr(1, close - 1));
    std::string_view rest = hp.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port_text = rest.substr(1);
      has_port = true;
    }
  } else {
    size_t colon = hp.rfind(':');
    if (colon != std::string_view::npos) {
      port_text = hp.substr(colon + 1);
      has_port = true;
      hp = hp.substr(0, colon);
    }
    *host = lower(hp);
  }
  *explicit_port = has_port;
  return !has_port || parsePort(port_text, port);
}

}  // namespace

std::string HttpUrl::authority() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != defaultPort(scheme)) h += ":" + std::to_string(port);
  return h;
}

Result<HttpUrl> parseHttpUrl(std::string_view text) {
  size_t sep = text.find("://");
  if (sep == std::string_view::npos || sep == 0) {
    return bad("not_absolute", "not an absolute URL (expected http://host/...)");
  }
  HttpUrl url;
  url.scheme = lower(text.substr(0, sep));
  if (url.scheme != "http" && url.scheme != "https") {
    return bad("bad_scheme", "scheme must be http or https, not \"" + url.scheme + "\"");
  }
  std::string_view rest = text.substr(sep + 3);
  size_t auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view target =
      auth_end == std::string_view::npos ? std::string_view() : rest.substr(auth_end);

  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    url.has_userinfo = true;
    authority = authority.substr(at + 1);
  }
  url.port = defaultPort(url.scheme);
  bool bracketed = false;
  if (!splitHostPort(authority, &url.host, &url.port, &url.explicit_port, &bracketed)) {
    return bad("bad_port", "bad host or port in \"" + std::string(authority) + "\"");
  }
  if (bracketed) {
    if (!isIpv6(url.host)) return bad("bad_host", "not an IPv6 address: [" + url.host + "]");
    url.host_is_ip = true;
  } else if (isIpv4(url.host)) {
    url.host_is_ip = true;
  } else if (!isRegName(url.host)) {
    return bad("bad_host", "not a host name: \"" + url.host + "\"");
  }

  for (unsigned char c : target) {
    if (c <= 0x20 || c == 0x7f || c == '#') {
      return bad("bad_target", "path has a space, control character or fragment");
    }
  }
  url.target = target.empty() ? "/" : std::string(target);
  if (url.target.front() == '?') url.target.insert(0, "/");
  return url;
}

Result<HttpUrl> originFormUrl(std::string_view host_header, std::string_view target) {
  // A Host value holding '/', '?', '#' or '@' would move the target or hide the host.
  if (host_header.empty() || host_header.find_first_of("/?#@") != std::string_view::npos) {
    return bad("bad_host", "not a Host header value: \"" + std::string(host_header) + "\"");
  }
  std::string text = "http://";
  text.append(host_header).append(target);
  return parseHttpUrl(text);
}

bool hostHeaderMatches(std::string_view host_header, const HttpUrl& url) {
  std::string host;
  uint16_t port = defaultPort(url.scheme);
  bool explicit_port = false;
  bool bracketed = false;
  if (!splitHostPort(host_header, &host, &port, &explicit_port, &bracketed)) return false;
  // Clients differ on a non-default port: curl writes it, OpenSSL's HTTP client leaves it
  // out. A port that is written must agree; the host always must.
  return host == url.host && (!explicit_port || port == url.port);
}

}  // namespace ocsp
