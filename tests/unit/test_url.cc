#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <string_view>

#include "core/url.h"

namespace ocsp {

TEST_CASE("absolute http URLs are split into scheme, host, port and target") {
  struct Row {
    const char* text;
    const char* host;
    uint16_t port;
    bool explicit_port;
    const char* target;
    const char* authority;
  };
  const Row rows[] = {
      {"http://ocsp.digicert.com", "ocsp.digicert.com", 80, false, "/", "ocsp.digicert.com"},
      {"http://OCSP.DigiCert.com/", "ocsp.digicert.com", 80, false, "/", "ocsp.digicert.com"},
      {"HTTP://ocsp.example:8080/MFQw%2Fx", "ocsp.example", 8080, true, "/MFQw%2Fx",
       "ocsp.example:8080"},
      {"http://crl.example:80/ca.crl?x=1", "crl.example", 80, true, "/ca.crl?x=1", "crl.example"},
      {"https://crl.example/ca.crl", "crl.example", 443, false, "/ca.crl", "crl.example"},
      {"http://crl.example?x", "crl.example", 80, false, "/?x", "crl.example"},
      {"http://[::1]:81/", "::1", 81, true, "/", "[::1]:81"},
  };
  for (const Row& r : rows) {
    CAPTURE(r.text);
    auto url = parseHttpUrl(r.text);
    REQUIRE(url.ok());
    CHECK(url->host == r.host);
    CHECK(url->port == r.port);
    CHECK(url->explicit_port == r.explicit_port);
    CHECK(url->target == r.target);
    CHECK(url->authority() == r.authority);
    CHECK_FALSE(url->has_userinfo);
  }
}

TEST_CASE("a URL's normal form lower-cases the host and drops the default port") {
  CHECK(parseHttpUrl("HTTP://OCSP.example:8080/MFQw%2Fx")->text() ==
        "http://ocsp.example:8080/MFQw%2Fx");
  CHECK(parseHttpUrl("http://crl.example:80/ca.crl?x=1")->text() == "http://crl.example/ca.crl?x=1");
  CHECK(parseHttpUrl("http://crl.example")->text() == "http://crl.example/");
  CHECK(parseHttpUrl("https://[::1]:443/x")->text() == "https://[::1]/x");
}

TEST_CASE("IP literals and userinfo are reported, not hidden") {
  auto v4 = parseHttpUrl("http://192.0.2.7/");
  REQUIRE(v4.ok());
  CHECK(v4->host_is_ip);
  auto v6 = parseHttpUrl("http://[2001:db8::1]/");
  REQUIRE(v6.ok());
  CHECK(v6->host_is_ip);
  auto user = parseHttpUrl("http://user:secret@ocsp.example/");
  REQUIRE(user.ok());
  CHECK(user->has_userinfo);
  CHECK(user->host == "ocsp.example");
  CHECK_FALSE(parseHttpUrl("http://ocsp.example/")->host_is_ip);
}

TEST_CASE("malformed URLs are rejected with the reason") {
  struct Row {
    const char* text;
    const char* code;
  };
  const Row rows[] = {
      {"/relative/path", "not_absolute"},
      {"ocsp.example", "not_absolute"},
      {"://x", "not_absolute"},
      {"ftp://ocsp.example/", "bad_scheme"},
      {"http:///path", "bad_host"},
      {"http://exa mple/", "bad_host"},
      {"http://a%2Eb/", "bad_host"},
      {"http://ocsp.example:0/", "bad_port"},
      {"http://ocsp.example:65536/", "bad_port"},
      {"http://ocsp.example:/", "bad_port"},
      {"http://ocsp.example:8x/", "bad_port"},
      {"http://[::1/", "bad_port"},
      {"http://[not-v6]/", "bad_host"},
      {"http://ocsp.example/a b", "bad_target"},
      {"http://ocsp.example/a#frag", "bad_target"},
      {"http://ocsp.example/a\r\nX: y", "bad_target"},
  };
  for (const Row& r : rows) {
    CAPTURE(r.text);
    auto url = parseHttpUrl(r.text);
    REQUIRE_FALSE(url.ok());
    CHECK(url.error().code == r.code);
    CHECK(url.error().category == ErrorCategory::MalformedRequest);
  }
}

TEST_CASE("a NUL byte in the host does not end an IP address early") {
  // inet_pton reads a C string (found by tests/fuzz/fuzz_url).
  using namespace std::string_view_literals;
  for (std::string_view text : {"http://10.0.0.1\0.example/"sv, "http://[::1\0x]/"sv}) {
    auto url = parseHttpUrl(text);
    REQUIRE_FALSE(url.ok());
    CHECK(url.error().code == "bad_host");
  }
}

TEST_CASE("the Host header must name the URL's host and port") {
  auto url = parseHttpUrl("http://ocsp.example/x");
  REQUIRE(url.ok());
  CHECK(hostHeaderMatches("ocsp.example", *url));
  CHECK(hostHeaderMatches("OCSP.example:80", *url));
  CHECK_FALSE(hostHeaderMatches("ocsp.example:8080", *url));
  CHECK_FALSE(hostHeaderMatches("other.example", *url));
  CHECK_FALSE(hostHeaderMatches("ocsp.example:", *url));
  auto with_port = parseHttpUrl("http://ocsp.example:8080/x");
  REQUIRE(with_port.ok());
  CHECK(hostHeaderMatches("ocsp.example:8080", *with_port));
  CHECK(hostHeaderMatches("ocsp.example", *with_port));  // as OpenSSL's client sends it
  CHECK_FALSE(hostHeaderMatches("ocsp.example:80", *with_port));
  CHECK_FALSE(hostHeaderMatches("other.example", *with_port));
}

}  // namespace ocsp
