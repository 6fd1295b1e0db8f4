// The scalar value parsers of the config: text, host names, integers, sizes, durations,
// addresses (conf/value_parsers.h).
#include "conf/value_parsers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <span>
#include <system_error>

#include "core/url.h"

namespace ocsp::conf {

namespace {

namespace fs = std::filesystem;

struct Unit {
  std::string_view suffix;
  uint64_t factor;
};

// Sizes are binary and case-sensitive: "1MB" or "1k" are rejected rather than guessed at.
constexpr Unit kSizeUnits[] = {{"", 1},
                               {"B", 1},
                               {"KiB", uint64_t{1} << 10},
                               {"MiB", uint64_t{1} << 20},
                               {"GiB", uint64_t{1} << 30}};
// Duration units, in milliseconds. No bare numbers: "10" could mean seconds or milliseconds.
constexpr Unit kDurationUnits[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};

enum class Quantity { Ok, Malformed, TooLarge };

// "<digits><unit>" -> digits * unit factor, at most `max`.
Quantity parseQuantity(std::string_view s, std::span<const Unit> units, uint64_t max,
                       uint64_t* out) {
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  if (digits == 0) return Quantity::Malformed;
  auto unit = std::find_if(units.begin(), units.end(),
                           [&](const Unit& u) { return u.suffix == s.substr(digits); });
  if (unit == units.end()) return Quantity::Malformed;
  uint64_t n = 0;
  if (std::from_chars(s.data(), s.data() + digits, n).ec != std::errc()) return Quantity::TooLarge;
  if (__builtin_mul_overflow(n, unit->factor, out) || *out > max) return Quantity::TooLarge;
  return Quantity::Ok;
}

// A scalar "<digits><unit>"; `malformed` says what was expected instead.
Result<uint64_t> quantity(Loader& l, const Item& v, std::span<const Unit> units, uint64_t max,
                          std::string_view kind, std::string_view malformed) {
  if (!v.node.IsScalar()) return wrongType(l, v, kind);
  const std::string& s = v.node.Scalar();
  uint64_t n = 0;
  switch (parseQuantity(s, units, max, &n)) {
    case Quantity::Malformed:
      return l.fail(v, std::string(malformed) + ": " + inQuotes(s));
    case Quantity::TooLarge:
      return l.fail(v, "too large: " + inQuotes(s));
    case Quantity::Ok:
      break;
  }
  return n;
}

bool isDecimal(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A port number of decimal digits, within [min_port, 65535].
std::optional<uint16_t> portNumber(std::string_view digits, uint16_t min_port) {
  uint64_t n = 0;
  if (std::from_chars(digits.data(), digits.data() + digits.size(), n).ec != std::errc() ||
      n < min_port || n > 65535) {
    return std::nullopt;
  }
  return static_cast<uint16_t>(n);
}

bool isPlainName(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

// Goes verbatim into the HTTP request line, where a space or control character would break it.
bool isUrlPath(const std::string& s) {
  return !s.empty() && s[0] == '/' && std::none_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
  });
}

}  // namespace

// --- Value parsers ---------------------------------------------------------------------------

Result<std::string> text(Loader& l, const Item& v) {
  if (!v.node.IsScalar()) return wrongType(l, v, "a string");
  return v.node.Scalar();
}

Result<std::string> checkedText(Loader& l, const Item& v, bool (*valid)(const std::string&),
                                std::string_view complaint) {
  auto s = text(l, v);
  if (s.ok() && !valid(s.value())) return l.fail(v, std::string(complaint) + ": " + inQuotes(*s));
  return s;
}

Result<std::string> hostName(Loader& l, const Item& v) {
  auto s = checkedText(l, v, isHostName, "not a host name");
  if (s.ok()) {
    std::transform(s->begin(), s->end(), s->begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  return s;
}

Result<std::string> ipAddress(Loader& l, const Item& v) {
  return checkedText(l, v, isIpLiteral, "not an IP address");
}

Result<std::string> plainName(Loader& l, const Item& v) {
  return checkedText(l, v, isPlainName,
                     "not a valid name (expected letters, digits, '_', '.' and '-')");
}

Result<std::string> urlPath(Loader& l, const Item& v) {
  return checkedText(l, v, isUrlPath, "not a URL path (expected e.g. \"/\" or \"/ocsp\")");
}

Result<int64_t> IntegerRange::operator()(Loader& l, const Item& v) const {
  if (!v.node.IsScalar()) return wrongType(l, v, "an integer");
  const std::string& s = v.node.Scalar();
  int64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (end != s.data() + s.size() || ec == std::errc::invalid_argument) {
    return wrongType(l, v, "an integer");
  }
  if (ec == std::errc::result_out_of_range || n < min || n > max) {
    return l.fail(v, "out of range (expected " + std::to_string(min) + ".." + std::to_string(max) +
                         "): " + inQuotes(s));
  }
  return n;
}

Result<std::vector<X509Ptr>> certificatesIn(Loader& l, const Item& v, const std::string& shown,
                                            const std::string& full) {
  // readCertificates does not say why a file cannot be opened; open(2) does.
  int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return l.fail(v, "cannot read " + inQuotes(shown) + ": " + osError(errno));
  ::close(fd);
  std::string why;
  std::vector<X509Ptr> certs = readCertificates(full, &why);
  if (certs.empty()) {
    return l.fail(v, "no certificate in " + inQuotes(shown) + " (expected PEM or DER X.509)");
  }
  for (const auto& cert : certs) l.noteOrigin(cert.get(), v.path);
  return certs;
}

Result<bool> boolean(Loader& l, const Item& v) {
  static const auto parse = oneOf<bool>({{"true", true}, {"false", false}});
  return parse(l, v);
}

Result<size_t> sizeOrZero(Loader& l, const Item& v) {
  auto bytes = quantity(l, v, kSizeUnits, std::numeric_limits<size_t>::max(), "a size",
                        "not a size (expected bytes or e.g. 64KiB, 256MiB, 1GiB)");
  if (!bytes.ok()) return bytes.error();
  return static_cast<size_t>(*bytes);
}

Result<size_t> sizeValue(Loader& l, const Item& v) {
  auto bytes = sizeOrZero(l, v);
  if (bytes.ok() && *bytes == 0) {
    return l.fail(v, "must be greater than 0: " + inQuotes(v.node.Scalar()));
  }
  return bytes;
}

Result<int64_t> durationMs(Loader& l, const Item& v) {
  auto ms = quantity(l, v, kDurationUnits, std::numeric_limits<int64_t>::max(), "a duration",
                     "not a duration (expected e.g. 250ms, 10s, 5m, 1h, 7d)");
  if (!ms.ok()) return ms.error();
  return static_cast<int64_t>(*ms);
}

Result<int64_t> timeoutMs(Loader& l, const Item& v) {
  auto ms = durationMs(l, v);
  if (ms.ok() && *ms == 0) return l.fail(v, "must be greater than 0: " + inQuotes(v.node.Scalar()));
  return ms;
}

// Cache times are compared with OCSP times, which have a resolution of one second.
Result<int64_t> seconds(Loader& l, const Item& v) {
  auto ms = durationMs(l, v);
  if (!ms.ok()) return ms;
  if (*ms % 1000 != 0) {
    return l.fail(v, "not a whole number of seconds: " + inQuotes(v.node.Scalar()));
  }
  return *ms / 1000;
}

Result<HostPort> hostPort(Loader& l, const Item& v, std::optional<uint16_t> default_port,
                          uint16_t min_port) {
  auto s = text(l, v);
  if (!s.ok()) return s.error();
  const std::string& a = *s;
  auto syntax = [&] {
    return l.fail(v, std::string("not an address (expected ") +
                         (default_port ? "HOST, HOST:PORT" : "HOST:PORT") +
                         " or [IPv6]:PORT): " + inQuotes(a));
  };
  HostPort out;
  std::optional<std::string_view> port;
  if (!a.empty() && a[0] == '[') {
    size_t close = a.find(']');
    if (close == std::string::npos) return syntax();
    out.host = a.substr(1, close - 1);
    std::string_view rest = std::string_view(a).substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return syntax();
      port = rest.substr(1);
    }
    if (out.host.find(':') == std::string::npos || !isIpLiteral(out.host)) return syntax();
  } else {
    size_t colon = a.find(':');
    if (colon != std::string::npos && a.find(':', colon + 1) != std::string::npos) {
      return syntax();  // IPv6 needs brackets
    }
    out.host = a.substr(0, colon);
    if (colon != std::string::npos) port = std::string_view(a).substr(colon + 1);
    if (!port && !default_port) return syntax();
    if (out.host != "localhost" && !isIpLiteral(out.host)) {
      return l.fail(v, "host must be an IP address or localhost: " + inQuotes(a));
    }
  }
  if (!port) {
    if (!default_port) return syntax();
    out.port = *default_port;
    return out;
  }
  if (!isDecimal(*port)) return syntax();
  auto number = portNumber(*port, min_port);
  if (!number) {
    return l.fail(
        v, "port out of range (expected " + std::to_string(min_port) + "..65535): " + inQuotes(a));
  }
  out.port = *number;
  return out;
}

Result<HostPort> fqdnPort(Loader& l, const Item& v, uint16_t default_port) {
  auto s = text(l, v);
  if (!s.ok()) return s.error();
  const std::string& a = *s;
  size_t colon = a.find(':');
  const std::string host = a.substr(0, colon);
  if (isIpLiteral(a) || isIpLiteral(host) || (!a.empty() && a[0] == '[')) {
    return fqdnRequired(l, v, a);
  }
  HostPort out{host, default_port};
  if (colon != std::string::npos) {
    std::string_view port = std::string_view(a).substr(colon + 1);
    if (!isDecimal(port)) {
      return l.fail(v, "not an address (expected FQDN or FQDN:PORT): " + inQuotes(a));
    }
    auto number = portNumber(port, 1);
    if (!number) return l.fail(v, "port out of range (expected 1..65535): " + inQuotes(a));
    out.port = *number;
  }
  if (!isHostName(out.host)) return l.fail(v, "not a host name: " + inQuotes(a));
  std::transform(out.host.begin(), out.host.end(), out.host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// --- Host name syntax (declared in conf/config.h) --------------------------------------------

bool isHostName(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  std::string_view rest = s;
  std::string_view label;
  for (;;) {  // an empty label also catches "a..b", ".a" and a trailing dot
    size_t dot = rest.find('.');
    label = rest.substr(0, dot);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    if (!std::all_of(label.begin(), label.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
        })) {
      return false;
    }
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  // RFC 1123 §2.1: the top-level label is alphabetic, so a name can never look like a number.
  // Resolvers (inet_aton, WHATWG URL) read a name ending in a decimal or 0x label as IPv4:
  // "1.2.3.4", "127.1", "0x7f.1".
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  if (std::all_of(label.begin(), label.end(), is_digit)) return false;
  if (label.size() >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X') &&
      std::all_of(label.begin() + 2, label.end(),
                  [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; })) {
    return false;
  }
  return true;
}

bool isIpLiteral(const std::string& s) {
  // inet_pton reads a C string: a NUL ("127.0.0.1\0x" in a quoted YAML string) would end it.
  if (s.find('\0') != std::string::npos) return false;
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

Result<std::string> fqdnUrl(Loader& l, const Item& v) {
  auto s = text(l, v);
  if (!s.ok()) return s;
  auto url = parseHttpUrl(*s);
  if (!url.ok()) return l.fail(v, "not a valid URL (" + url.error().detail + "): " + inQuotes(*s));
  // Not quoted: the user information may hold a password.
  if (url->has_userinfo) return l.fail(v, "must not contain user information (user:password@)");
  if (url->host_is_ip || isIpLiteral(url->host)) return fqdnRequired(l, v, *s);
  if (!isHostName(url->host)) return l.fail(v, "not a host name: " + inQuotes(url->host));
  return s;
}

}  // namespace ocsp::conf
