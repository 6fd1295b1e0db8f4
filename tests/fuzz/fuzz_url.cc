// Fuzz target: the forward-proxy URL parser and Host header match (core/url.h parseHttpUrl,
// hostHeaderMatches). Input: a URL, optionally followed by "\n" and a Host header value.
// Checked on an accepted URL: the fields keep their documented form (lower-case http(s)
// scheme, a lower-case host made of name or address characters only, a port in 1..65535, a
// target starting with '/' and free of spaces, control characters and fragments); the
// normal form text() parses back to the same URL; the URL's own authority() is a Host header
// that matches it.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/url.h"
#include "tests/fuzz/fuzz_util.h"

namespace ocsp {
namespace {

bool hasUpperCase(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return std::isupper(c) != 0; });
}

// What a DNS name, an IPv4 address or an IPv6 literal (without brackets) is made of.
bool hostCharacters(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == ':';
  });
}

void checkForm(const HttpUrl& url) {
  FUZZ_CHECK(url.scheme == "http" || url.scheme == "https");
  FUZZ_CHECK(!url.host.empty());
  FUZZ_CHECK(!hasUpperCase(url.host));
  FUZZ_CHECK(hostCharacters(url.host));
  FUZZ_CHECK(url.port != 0);
  FUZZ_CHECK(url.explicit_port || url.port == (url.scheme == "https" ? 443 : 80));
  FUZZ_CHECK(!url.target.empty() && url.target.front() == '/');
  for (unsigned char c : url.target) FUZZ_CHECK(c > 0x20 && c != 0x7f && c != '#');
}

}  // namespace
}  // namespace ocsp

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ocsp;
  std::string_view input = fuzz::asView(data, size);
  std::string_view header;
  bool has_header = false;
  if (size_t nl = input.find('\n'); nl != std::string_view::npos) {
    header = input.substr(nl + 1);
    input = input.substr(0, nl);
    has_header = true;
  }
  auto url = parseHttpUrl(input);
  if (!url.ok()) {
    FUZZ_CHECK(url.error().category == ErrorCategory::MalformedRequest);
    return 0;
  }
  checkForm(*url);
  const std::string normal = url->text();
  auto again = parseHttpUrl(normal);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->scheme == url->scheme);
  FUZZ_CHECK(again->host == url->host);
  FUZZ_CHECK(again->port == url->port);
  FUZZ_CHECK(again->target == url->target);
  FUZZ_CHECK(again->host_is_ip == url->host_is_ip);
  FUZZ_CHECK(again->text() == normal);
  FUZZ_CHECK(hostHeaderMatches(url->authority(), *url));
  if (has_header) hostHeaderMatches(header, *url);
  return 0;
}
