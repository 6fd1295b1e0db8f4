#include "upstream/allow_list.h"

#include <cctype>

namespace ocsp {

namespace {
std::string hostPort(const std::string& host, uint16_t port) {
  return host + ":" + std::to_string(port);
}

// The path of `target` ends in a file name extension certificates are published under.
bool namesCertificateFile(const std::string& target) {
  std::string path = target.substr(0, target.find('?'));
  const size_t dot = path.rfind('.');
  if (dot == std::string::npos || path.find('/', dot) != std::string::npos) return false;
  std::string ext = path.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == "crt" || ext == "cer" || ext == "der" || ext == "p7c" || ext == "p7b" ||
         ext == "pem";
}
}  // namespace

AllowList::AllowList(const conf::Config& config) {
  for (size_t u = 0; u < config.upstreams.size(); ++u) {
    const conf::Upstream& up = config.upstreams[u];
    for (size_t f = 0; f < up.fqdns.size(); ++f) {
      targets_.emplace(up.fqdns[f], Entry{up.port, TargetKind::Ocsp, u, f});
      described_.emplace(hostPort(up.fqdns[f], up.port), "ocsp upstream " + up.name);
    }
  }
  for (const conf::HostAndPort& h : config.crl.fqdns) {
    targets_.emplace(h.host, Entry{h.port, TargetKind::Crl, 0, 0});
    described_.emplace(hostPort(h.host, h.port), "crl");
  }
  for (const std::string& text : config.crl.urls) {
    auto url = parseHttpUrl(text);
    if (url && url->target.find('?') != std::string::npos) crl_urls_with_query_.insert(url->text());
  }
  for (const conf::HostAndPort& h : config.forward.aia_fqdns) {
    aia_.emplace(h.host, h.port);
    described_.emplace(hostPort(h.host, h.port), "aia");
  }
}

Result<ForwardTarget> AllowList::classify(const HttpUrl& url) const {
  auto refuse = [&](const char* code, const std::string& why) -> Result<ForwardTarget> {
    return makeError(ErrorCategory::Unauthorized, code, why);
  };
  if (url.scheme != "http") return refuse("scheme", "only http:// URLs are proxied");
  if (url.has_userinfo) return refuse("userinfo", "URLs with user information are refused");
  if (url.host_is_ip) {
    return refuse("ip_literal", "an IP address is not an allowed host; use the FQDN");
  }
  auto [first, last] = targets_.equal_range(url.host);
  auto [aia_first, aia_last] = aia_.equal_range(url.host);
  if (first == last && aia_first == aia_last) {
    return refuse("not_allowed", url.host + " is not an allowed host");
  }
  bool aia = false;
  for (auto it = aia_first; it != aia_last; ++it) aia = aia || it->second == url.port;
  if (aia && namesCertificateFile(url.target)) return ForwardTarget{TargetKind::Aia, 0, 0};
  for (auto it = first; it != last; ++it) {
    if (it->second.port != url.port) continue;
    if (it->second.kind == TargetKind::Crl && url.target.find('?') != std::string::npos &&
        crl_urls_with_query_.count(url.text()) == 0) {
      return refuse(
          "crl_query",
          "a CRL URL with a query string is fetched only if crl.urls lists it: " + url.text());
    }
    return ForwardTarget{it->second.kind, it->second.upstream_index, it->second.fqdn_index};
  }
  if (aia) return ForwardTarget{TargetKind::Aia, 0, 0};
  return refuse("port", url.host + " is not allowed on port " + std::to_string(url.port));
}

bool AllowList::lists(const HttpUrl& url) const {
  if (url.scheme != "http" || url.has_userinfo || url.host_is_ip) return false;
  auto [a, b] = aia_.equal_range(url.host);
  for (auto it = a; it != b; ++it) {
    if (it->second == url.port) return true;
  }
  auto [first, last] = targets_.equal_range(url.host);
  for (auto it = first; it != last; ++it) {
    if (it->second.port == url.port) return true;
  }
  return false;
}

std::multimap<std::string, std::string> AllowList::everything() const { return described_; }

}  // namespace ocsp
