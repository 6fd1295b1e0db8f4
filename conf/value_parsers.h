#pragma once
// The scalar value parsers of the config (STYLE.md "One schema table, two phases"): each has
// the shape (Loader&, const Item&) -> Result<V>, goes into a schema table through field(), and
// composes with listOf and mapOf (conf/yaml_schema.h). Every error names the file, the line
// and the dotted key path; a value is quoted in its message. Nothing here knows about
// ocsp-proxy's own keys.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conf/config.h"  // isHostName, isIpLiteral
#include "conf/yaml_schema.h"
#include "core/ossl.h"

namespace ocsp::conf {

// --- Value parsers ---------------------------------------------------------------------------

Result<std::string> text(Loader& l, const Item& v);
// A string that `valid` accepts, else "<complaint>: "value"".
Result<std::string> checkedText(Loader& l, const Item& v, bool (*valid)(const std::string&),
                                std::string_view complaint);
// A DNS host name, lower-cased: DNS names compare case-insensitively (RFC 4343 §3), and the
// URL parser lower-cases the hosts of requests, so the names the config holds (upstreams[].fqdns,
// resolve keys) are matched by plain comparison wherever they are used.
Result<std::string> hostName(Loader& l, const Item& v);
// An http(s) URL whose host is an FQDN (firewalls allow by name), without user information:
// crl.urls, watch.intermediates[].ocsp_url.
Result<std::string> fqdnUrl(Loader& l, const Item& v);
Result<std::string> ipAddress(Loader& l, const Item& v);
// Letters, digits, '_', '.' and '-': names that become log fields and metric labels.
Result<std::string> plainName(Loader& l, const Item& v);
// An absolute URL path ("/", "/ocsp") without spaces or control characters.
Result<std::string> urlPath(Loader& l, const Item& v);

// An integer in [min, max]: integer(1, 65535).
struct IntegerRange {
  int64_t min;
  int64_t max;
  Result<int64_t> operator()(Loader& l, const Item& v) const;
};
inline IntegerRange integer(int64_t min, int64_t max) { return {min, max}; }

// One of a fixed set of words, each standing for a value.
template <class V>
auto oneOf(std::vector<std::pair<std::string_view, V>> choices) {
  std::string names;
  for (const auto& choice : choices) {
    if (!names.empty()) names += ", ";
    names += choice.first;
  }
  return [choices = std::move(choices), names](Loader& l, const Item& v) -> Result<V> {
    auto s = text(l, v);
    if (!s.ok()) return s.error();
    for (const auto& [name, value] : choices) {
      if (s.value() == name) return value;
    }
    return l.fail(v, "must be one of " + names + ": " + inQuotes(*s));
  };
}

// The certificates in the file `full` (PEM, or one DER certificate), each noted as coming from
// v.path. `shown` is the path as the config spells it, for messages. At least one, else an
// error.
Result<std::vector<X509Ptr>> certificatesIn(Loader& l, const Item& v, const std::string& shown,
                                            const std::string& full);

// true | false, spelled exactly so (not yes/no/on/off).
Result<bool> boolean(Loader& l, const Item& v);

// Sizes are bytes or a number with a binary unit (64KiB, 256MiB, 1GiB).
Result<size_t> sizeOrZero(Loader& l, const Item& v);
// Sizes that bound something that must exist: zero is rejected.
Result<size_t> sizeValue(Loader& l, const Item& v);
// Durations take a unit (250ms, 10s, 5m, 1h, 7d); stored in milliseconds.
Result<int64_t> durationMs(Loader& l, const Item& v);
// A zero timeout would fail every request.
Result<int64_t> timeoutMs(Loader& l, const Item& v);
// A duration stored in whole seconds.
Result<int64_t> seconds(Loader& l, const Item& v);

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

// "HOST:PORT" or "[IPv6]:PORT", where HOST is an IP literal or "localhost": the listeners must
// not depend on DNS at start-up, and the workers connect to Redis without blocking, so they
// cannot wait for DNS either. With a `default_port`, the ":PORT" part may be left out.
Result<HostPort> hostPort(Loader& l, const Item& v, std::optional<uint16_t> default_port,
                          uint16_t min_port);

// "FQDN" or "FQDN:PORT" (port 1..65535, else `default_port`), the host lower-cased. IP
// literals are refused: firewalls allow these hosts by name.
Result<HostPort> fqdnPort(Loader& l, const Item& v, uint16_t default_port);

}  // namespace ocsp::conf
