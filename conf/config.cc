// Config loader (STYLE.md "Config and operations"). Phase 1 walks the YAML with one schema
// table per map (key -> parser): unknown keys, wrong types and bad values stop the load, and
// every value's line is recorded under its dotted path. Phase 2 fills the defaults that depend
// on other keys and checks the rules that span fields, naming the recorded line. Warnings are
// logged only once the whole file is accepted, so a rejected file logs nothing but its error.
#include "conf/config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <span>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

namespace ocsp::conf {

namespace {

namespace fs = std::filesystem;

// A value being parsed, with what an error about it must name.
struct Item {
  YAML::Node node;
  std::string path;  // dotted key path with list indexes: upstreams[1].fqdns[0]
  int line = 1;      // 1-based
};

std::string osError(int err) { return std::error_code(err, std::generic_category()).message(); }

// Values are quoted in messages so that empty strings and stray spaces are visible.
std::string inQuotes(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string join(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

std::string indexed(const std::string& parent, size_t i) {
  return parent + "[" + std::to_string(i) + "]";
}

// yaml-cpp marks are 0-based, and an empty value is marked where the next token starts (often
// the next line), so an empty value is reported on its key's line instead.
int lineOf(const YAML::Node& node, int fallback) {
  if (node.IsNull() || node.Mark().line < 0) return fallback;
  return node.Mark().line + 1;
}

bool sameHost(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// State of one load: where messages point, and what phase 2 needs to point back at phase 1.
class Loader {
 public:
  Loader(std::string file, std::string base_dir)
      : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

  Error fail(const std::string& path, int line, std::string_view message) const {
    return makeError(
        ErrorCategory::Config, "config",
        file_ + ":" + std::to_string(line) + ": " + path + ": " + std::string(message));
  }
  Error fail(const Item& at, std::string_view message) const {
    return fail(at.path, at.line, message);
  }
  // Phase 2: an error about a value phase 1 parsed, on the line phase 1 recorded for it.
  Error failAt(const std::string& path, std::string_view message) const {
    return fail(path, lineAt(path), message);
  }
  // The line phase 1 recorded for `path` (1 if it was not in the file).
  int lineAt(const std::string& path) const {
    auto it = lines_.find(path);
    return it == lines_.end() ? 1 : it->second;
  }

  // The value `node` at `path`; `fallback_line` is its key's line, for empty values.
  Item item(const YAML::Node& node, std::string path, int fallback_line) {
    Item it{node, std::move(path), lineOf(node, fallback_line)};
    lines_[it.path] = it.line;
    return it;
  }

  // Relative issuer paths are relative to the config file, not to the working directory.
  std::string resolvePath(const std::string& p) const {
    if (base_dir_.empty() || fs::path(p).is_absolute()) return p;
    return (fs::path(base_dir_) / p).string();
  }

  // Which issuers[] entry a certificate came from, for phase 2 messages.
  void noteOrigin(const X509* cert, const std::string& path) { origin_[cert] = path; }
  std::string originOf(const X509* cert) const {
    auto it = origin_.find(cert);
    return it == origin_.end() ? std::string("upstreams") : it->second;
  }

 private:
  std::string file_;
  std::string base_dir_;
  std::map<std::string, int> lines_;
  std::map<const X509*, std::string> origin_;
};

// --- Schema tables ---------------------------------------------------------------------------

enum class Need { Optional, Required };

// One key of a map: its name and the parser that stores its value into T.
template <class T>
struct Field {
  std::string_view key;
  Need need;
  std::function<Status(Loader&, const Item&, T&)> parse;
};

template <class T>
using Schema = std::vector<Field<T>>;

template <class R>
struct ResultValue;
template <class V>
struct ResultValue<Result<V>> {
  using type = V;
};
// What a value parser (Loader&, const Item&) -> Result<V> produces.
template <class Parse>
using ParsedType = typename ResultValue<std::invoke_result_t<Parse&, Loader&, const Item&>>::type;

// "expected a list" and the like; an empty value gets its own wording.
Error wrongType(const Loader& l, const Item& v, std::string_view expected) {
  if (v.node.IsNull()) return l.fail(v, "missing value");
  std::string message = "expected " + std::string(expected);
  if (v.node.IsScalar()) message += ": " + inQuotes(v.node.Scalar());
  return l.fail(v, message);
}

template <class T>
Status walkMap(Loader& l, const Item& map, const Schema<T>& schema, T& out) {
  // An empty section ("cache:" with everything under it commented out) means all defaults.
  if (!map.node.IsNull() && !map.node.IsMap()) return wrongType(l, map, "a map");
  std::set<std::string, std::less<>> seen;
  if (map.node.IsMap()) {
    for (const auto& entry : map.node) {
      int key_line = lineOf(entry.first, map.line);
      if (!entry.first.IsScalar()) return l.fail(map.path, key_line, "expected a string key");
      const std::string& key = entry.first.Scalar();
      std::string path = join(map.path, key);
      auto field = std::find_if(schema.begin(), schema.end(),
                                [&](const Field<T>& f) { return f.key == key; });
      if (field == schema.end()) return l.fail(path, key_line, "unknown key");
      // yaml-cpp keeps both entries of a repeated key; silently taking one would hide a typo.
      if (!seen.insert(key).second) return l.fail(path, key_line, "duplicate key");
      if (auto s = field->parse(l, l.item(entry.second, path, key_line), out); !s.ok()) return s;
    }
  }
  for (const auto& f : schema) {
    if (f.need == Need::Required && seen.find(f.key) == seen.end()) {
      return l.fail(join(map.path, f.key), map.line, "required");
    }
  }
  return Ok{};
}

// A key whose parsed value is stored in `member`.
template <class T, class V, class Parse>
Field<T> field(std::string_view key, V T::*member, Parse parse, Need need = Need::Optional) {
  return {key, need, [member, parse](Loader& l, const Item& v, T& out) -> Status {
            auto parsed = parse(l, v);
            if (!parsed.ok()) return parsed.error();
            out.*member = static_cast<V>(std::move(parsed.value()));
            return Ok{};
          }};
}

// A sub-map whose keys are stored in the same object (listen.ocsp -> Config::listen_ocsp).
template <class T>
Field<T> section(std::string_view key, const Schema<T>& schema) {
  return {key, Need::Optional,
          [&schema](Loader& l, const Item& v, T& out) { return walkMap(l, v, schema, out); }};
}

// A map parsed into a fresh T: keys left out keep T's defaults.
template <class T>
auto mapOf(const Schema<T>& schema) {
  return [&schema](Loader& l, const Item& v) -> Result<T> {
    T out;
    if (auto s = walkMap(l, v, schema, out); !s.ok()) return s.error();
    return out;
  };
}

// Every list in the schema needs at least one entry.
template <class Parse>
auto listOf(Parse parse) {
  using V = ParsedType<Parse>;
  return [parse](Loader& l, const Item& v) -> Result<std::vector<V>> {
    if (!v.node.IsNull() && !v.node.IsSequence()) return wrongType(l, v, "a list");
    if (v.node.IsNull() || v.node.size() == 0) return l.fail(v, "must not be empty");
    std::vector<V> out;
    for (const auto& element : v.node) {
      auto parsed = parse(l, l.item(element, indexed(v.path, out.size()), v.line));
      if (!parsed.ok()) return parsed.error();
      out.push_back(std::move(parsed.value()));
    }
    return out;
  };
}

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
  return checkedText(l, v, isHostName, "not a host name");
}

Result<std::string> ipAddress(Loader& l, const Item& v) {
  return checkedText(l, v, isIpLiteral, "not an IP address");
}

// Upstream names become log fields and metric labels, so they stay plain.
bool isPlainName(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

Result<std::string> upstreamName(Loader& l, const Item& v) {
  return checkedText(l, v, isPlainName,
                     "not a valid name (expected letters, digits, '_', '.' and '-')");
}

// Goes verbatim into the HTTP request line, where a space or control character would break it.
bool isUrlPath(const std::string& s) {
  return !s.empty() && s[0] == '/' && std::none_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
  });
}

Result<std::string> urlPath(Loader& l, const Item& v) {
  return checkedText(l, v, isUrlPath, "not a URL path (expected e.g. \"/\" or \"/ocsp\")");
}

auto integer(int64_t min, int64_t max) {
  return [min, max](Loader& l, const Item& v) -> Result<int64_t> {
    if (!v.node.IsScalar()) return wrongType(l, v, "an integer");
    const std::string& s = v.node.Scalar();
    int64_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (end != s.data() + s.size() || ec == std::errc::invalid_argument) {
      return wrongType(l, v, "an integer");
    }
    if (ec == std::errc::result_out_of_range || n < min || n > max) {
      return l.fail(v, "out of range (expected " + std::to_string(min) + ".." +
                           std::to_string(max) + "): " + inQuotes(s));
    }
    return n;
  };
}

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

Result<size_t> sizeOrZero(Loader& l, const Item& v) {
  auto bytes = quantity(l, v, kSizeUnits, std::numeric_limits<size_t>::max(), "a size",
                        "not a size (expected bytes or e.g. 64KiB, 256MiB, 1GiB)");
  if (!bytes.ok()) return bytes.error();
  return static_cast<size_t>(*bytes);
}

// Sizes that bound something that must exist: zero is rejected.
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

// A zero timeout would fail every request.
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

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

// "HOST:PORT" or "[IPv6]:PORT", where HOST is an IP literal or "localhost": the listeners must
// not depend on DNS at start-up, and the workers connect to Redis without blocking, so they
// cannot wait for DNS either. With a `default_port`, the ":PORT" part may be left out.
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
  if (port->empty() ||
      !std::all_of(port->begin(), port->end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return syntax();
  }
  uint64_t n = 0;
  if (std::from_chars(port->data(), port->data() + port->size(), n).ec != std::errc() ||
      n < min_port || n > 65535) {
    return l.fail(v, "port out of range (expected " + std::to_string(min_port) +
                         "..65535): " + inQuotes(a));
  }
  out.port = static_cast<uint16_t>(n);
  return out;
}

// Listen addresses need their port; port 0 picks a free one.
Result<ListenAddress> address(Loader& l, const Item& v) {
  auto hp = hostPort(l, v, std::nullopt, 0);
  if (!hp.ok()) return hp.error();
  return ListenAddress{std::move(hp->host), hp->port};
}

// resolve: FQDN -> IP literal. A bad name is reported at the map, not under itself.
Result<std::map<std::string, std::string>> resolveMap(Loader& l, const Item& v) {
  std::map<std::string, std::string> out;
  if (v.node.IsNull()) return out;
  if (!v.node.IsMap()) return wrongType(l, v, "a map");
  for (const auto& entry : v.node) {
    Item key{entry.first, v.path, lineOf(entry.first, v.line)};
    auto fqdn = hostName(l, key);
    if (!fqdn.ok()) return fqdn.error();
    std::string path = join(v.path, *fqdn);
    if (out.count(*fqdn) != 0) return l.fail(path, key.line, "duplicate key");
    auto ip = ipAddress(l, l.item(entry.second, path, key.line));
    if (!ip.ok()) return ip.error();
    out.emplace(*fqdn, *ip);
  }
  return out;
}

// --- Redis -----------------------------------------------------------------------------------

// Redis and sentinel addresses: the port may be left out (6379, 26379); it is never 0.
auto redisAddress(uint16_t default_port) {
  return [default_port](Loader& l, const Item& v) -> Result<RedisAddress> {
    auto hp = hostPort(l, v, default_port, 1);
    if (!hp.ok()) return hp.error();
    return RedisAddress{std::move(hp->host), hp->port};
  };
}

Result<std::string> unixSocketPath(Loader& l, const Item& v) {
  auto s = text(l, v);
  if (!s.ok()) return s;
  if (s->empty() || (*s)[0] != '/') return l.fail(v, "not an absolute path: " + inQuotes(*s));
  // sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
  if (s->size() > 107) return l.fail(v, "too long for a unix socket path (at most 107 bytes)");
  return s;
}

// The value is a secret: messages never quote it.
Result<std::string> secret(Loader& l, const Item& v) {
  auto s = text(l, v);
  if (s.ok() && s->empty()) return l.fail(v, "must not be empty");
  return s;
}

Result<std::string> masterName(Loader& l, const Item& v) {
  return checkedText(l, v, isPlainName,
                     "not a valid name (expected letters, digits, '_', '.' and '-')");
}

// The first retry waits 100ms; a smaller cap would make that the longest wait.
Result<int64_t> backoffMs(Loader& l, const Item& v) {
  auto ms = durationMs(l, v);
  if (ms.ok() && *ms < 100) {
    return l.fail(v, "must be at least 100ms: " + inQuotes(v.node.Scalar()));
  }
  return ms;
}

// --- Issuer certificates ---------------------------------------------------------------------

bool isCertificateFile(const fs::directory_entry& entry) {
  std::error_code ec;
  if (!entry.is_regular_file(ec)) return false;
  const fs::path ext = entry.path().extension();
  return ext == ".pem" || ext == ".crt" || ext == ".cer";
}

// Appends the certificates of one file. `shown` is the path as the config spells it.
Status readCertFile(Loader& l, const Item& v, const std::string& shown, const std::string& full,
                    std::vector<IssuerCert>* out) {
  // readCertificates does not say why a file cannot be opened; open(2) does.
  int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return l.fail(v, "cannot read " + inQuotes(shown) + ": " + osError(errno));
  ::close(fd);
  std::string why;
  std::vector<X509Ptr> certs = readCertificates(full, &why);
  if (certs.empty()) {
    return l.fail(v, "no certificate in " + inQuotes(shown) + " (expected PEM or DER X.509)");
  }
  for (auto& cert : certs) {
    l.noteOrigin(cert.get(), v.path);
    out->push_back(IssuerCert{full, shareX509(std::move(cert))});
  }
  return Ok{};
}

// One issuers[] entry: a certificate file, or a directory of them (not recursive).
Result<std::vector<IssuerCert>> issuerEntry(Loader& l, const Item& v) {
  auto written = text(l, v);
  if (!written.ok()) return written.error();
  const std::string full = l.resolvePath(*written);
  struct stat st {};
  if (::stat(full.c_str(), &st) != 0) {
    return l.fail(v, "cannot read " + inQuotes(*written) + ": " + osError(errno));
  }
  std::vector<IssuerCert> out;
  if (S_ISREG(st.st_mode)) {
    if (auto s = readCertFile(l, v, *written, full, &out); !s.ok()) return s.error();
    return out;
  }
  if (!S_ISDIR(st.st_mode)) return l.fail(v, "not a file or directory: " + inQuotes(*written));

  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(full, ec), end; !ec && it != end; it.increment(ec)) {
    if (isCertificateFile(*it)) names.push_back(it->path().filename().string());
  }
  if (ec) return l.fail(v, "cannot read " + inQuotes(*written) + ": " + ec.message());
  if (names.empty()) {
    return l.fail(v,
                  "no certificate files (*.pem, *.crt, *.cer) in directory " + inQuotes(*written));
  }
  std::sort(names.begin(), names.end());  // load order must not depend on the file system
  for (const auto& name : names) {
    auto s = readCertFile(l, v, (fs::path(*written) / name).string(),
                          (fs::path(full) / name).string(), &out);
    if (!s.ok()) return s.error();
  }
  return out;
}

Result<std::vector<IssuerCert>> issuerFiles(Loader& l, const Item& v) {
  auto groups = listOf(issuerEntry)(l, v);
  if (!groups.ok()) return groups.error();
  std::vector<IssuerCert> all;
  for (auto& group : *groups) {
    for (auto& issuer : group) all.push_back(std::move(issuer));
  }
  return all;
}

// --- The schema ------------------------------------------------------------------------------

const Schema<Config>& listenSchema() {
  static const Schema<Config> schema = {
      field("ocsp", &Config::listen_ocsp, address),
      field("admin", &Config::listen_admin, address),
  };
  return schema;
}

const Schema<Limits>& limitsSchema() {
  static const Schema<Limits> schema = {
      field("max_request_bytes", &Limits::max_request_bytes, sizeValue),
      field("max_header_bytes", &Limits::max_header_bytes, sizeValue),
      field("client_timeout", &Limits::client_timeout_ms, timeoutMs),
      field("upstream_timeout", &Limits::upstream_timeout_ms, timeoutMs),
      field("max_upstream_response_bytes", &Limits::max_upstream_response_bytes, sizeValue),
  };
  return schema;
}

const Schema<Cache>& cacheSchema() {
  static const Schema<Cache> schema = {
      field("memory_bytes", &Cache::memory_bytes, sizeOrZero),  // 0 = no in-process cache
      field("max_age", &Cache::max_age_s, seconds),  // 0 = no cap beyond nextUpdate
      field("no_next_update_ttl", &Cache::no_next_update_ttl_s, seconds),
      field("clock_skew", &Cache::clock_skew_s, seconds),
      field("refresh_percent", &Cache::refresh_percent, integer(1, 100)),
  };
  return schema;
}

const Schema<Logging>& loggingSchema() {
  static const Schema<Logging> schema = {
      field("level", &Logging::level,
            oneOf<LogLevel>({{"debug", LogLevel::Debug},
                             {"info", LogLevel::Info},
                             {"warn", LogLevel::Warn},
                             {"error", LogLevel::Error}})),
  };
  return schema;
}

const Schema<Upstream>& upstreamSchema() {
  static const Schema<Upstream> schema = {
      field("name", &Upstream::name, upstreamName, Need::Required),
      field("fqdns", &Upstream::fqdns, listOf(hostName), Need::Required),
      field("scheme", &Upstream::scheme,
            oneOf<std::string>({{"http", "http"}, {"https", "https"}})),
      field("port", &Upstream::port, integer(1, 65535)),  // 0 = the scheme's port (phase 2)
      field("path", &Upstream::path, urlPath),
      field("issuers", &Upstream::issuers, issuerFiles, Need::Required),
  };
  return schema;
}

const Schema<Redis>& redisSchema() {
  static const Schema<Redis> schema = {
      field("address", &Redis::address, redisAddress(6379)),
      field("unix_socket", &Redis::unix_socket, unixSocketPath),
      field("sentinels", &Redis::sentinels, listOf(redisAddress(26379))),
      field("master_name", &Redis::master_name, masterName),
      field("password", &Redis::password, secret),
      field("db", &Redis::db, integer(0, 15)),
      field("key_prefix", &Redis::key_prefix, text),
      field("connect_timeout", &Redis::connect_timeout_ms, timeoutMs),
      field("command_timeout", &Redis::command_timeout_ms, timeoutMs),
      field("reconnect_max_backoff", &Redis::reconnect_max_backoff_ms, backoffMs),
  };
  return schema;
}

const Schema<Config>& configSchema() {
  static const Schema<Config> schema = {
      section("listen", listenSchema()),
      field("workers", &Config::workers, integer(0, 256)),  // 0 is resolved by the server
      field("limits", &Config::limits, mapOf(limitsSchema())),
      field("cache", &Config::cache, mapOf(cacheSchema())),
      field("nonce", &Config::nonce,
            oneOf<NoncePolicy>(
                {{"ignore", NoncePolicy::Ignore}, {"passthrough", NoncePolicy::Passthrough}})),
      field("logging", &Config::logging, mapOf(loggingSchema())),
      field("resolve", &Config::resolve, resolveMap),
      field("upstreams", &Config::upstreams, listOf(mapOf(upstreamSchema())), Need::Required),
      field("redis", &Config::redis, mapOf(redisSchema())),
  };
  return schema;
}

// --- Phase 2 ---------------------------------------------------------------------------------

// An OCSP CertID names its issuer by subject and key (RFC 6960 §4.1.1), so two certificates
// with the same subject and key (a re-issued or cross-signed CA) are the same issuer. The
// subject DER is self-delimiting, so the concatenation is unambiguous.
std::string issuerIdentity(const X509* cert) {
  std::string id = toDer(X509_get_subject_name(cert), i2d_X509_NAME);
  const ASN1_BIT_STRING* key = X509_get0_pubkey_bitstr(cert);
  if (key != nullptr) {
    id.append(reinterpret_cast<const char*>(ASN1_STRING_get0_data(key)),
              static_cast<size_t>(ASN1_STRING_length(key)));
  }
  return id;
}

// redis: one way to find the server, and master_name exactly when it is found by sentinels.
Status checkRedis(const Loader& l, const Redis& r) {
  std::vector<std::string> given;  // in schema order
  if (r.address) given.push_back("redis.address");
  if (!r.unix_socket.empty()) given.push_back("redis.unix_socket");
  if (!r.sentinels.empty()) given.push_back("redis.sentinels");
  if (given.empty()) {
    return l.failAt("redis", "one of address, unix_socket or sentinels is required");
  }
  if (given.size() > 1) {
    return l.failAt(given[1], "conflicts with " + given[0] +
                                  " (set exactly one of address, unix_socket, sentinels)");
  }
  if (!r.sentinels.empty() && r.master_name.empty()) {
    return l.fail("redis.master_name", l.lineAt("redis"), "required with sentinels");
  }
  if (r.sentinels.empty() && !r.master_name.empty()) {
    return l.failAt("redis.master_name", "only valid with sentinels");
  }
  return Ok{};
}

Status checkRules(const Loader& l, Config& config) {
  std::map<std::string, size_t> names;
  for (size_t i = 0; i < config.upstreams.size(); ++i) {
    Upstream& u = config.upstreams[i];
    const std::string at = indexed("upstreams", i);
    if (!names.emplace(u.name, i).second) {
      return l.failAt(at + ".name", "duplicate upstream name " + inQuotes(u.name));
    }
    for (size_t j = 1; j < u.fqdns.size(); ++j) {
      for (size_t k = 0; k < j; ++k) {
        if (sameHost(u.fqdns[j], u.fqdns[k])) {
          return l.failAt(indexed(at + ".fqdns", j), "duplicate host name " + inQuotes(u.fqdns[j]));
        }
      }
    }
    if (u.port == 0) u.port = u.scheme == "https" ? 443 : 80;
  }

  // Requests are routed by issuer, so one issuer in two upstreams would make the route depend
  // on load order. Within one upstream a repeat (a file also found in a listed directory) is
  // harmless and kept once.
  std::map<std::string, size_t> owner;  // issuer identity -> upstream index
  for (size_t i = 0; i < config.upstreams.size(); ++i) {
    Upstream& u = config.upstreams[i];
    std::vector<IssuerCert> kept;
    for (auto& issuer : u.issuers) {
      auto [it, first] = owner.emplace(issuerIdentity(issuer.cert.get()), i);
      if (first) {
        kept.push_back(std::move(issuer));
      } else if (it->second != i) {
        return l.failAt(l.originOf(issuer.cert.get()),
                        "issuer certificate " + inQuotes(subjectLine(issuer.cert.get())) +
                            " is configured for both upstream " +
                            inQuotes(config.upstreams[it->second].name) + " and upstream " +
                            inQuotes(u.name));
      }
    }
    u.issuers = std::move(kept);
  }
  if (config.redis) return checkRedis(l, *config.redis);
  return Ok{};
}

// Things worth an operator's attention that must not stop the proxy.
void warnAbout(const Config& config) {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (const auto& u : config.upstreams) {
    for (const auto& issuer : u.issuers) {
      // Not an error: CAs keep answering for certificates of an expired issuer, and refusing
      // to start would take every other issuer down with it.
      auto not_before = asn1ToEpoch(X509_get0_notBefore(issuer.cert.get()));
      auto not_after = asn1ToEpoch(X509_get0_notAfter(issuer.cert.get()));
      if ((not_before && now < *not_before) || (not_after && now > *not_after)) {
        logEvent(LogLevel::Warn, "issuer_not_valid_now",
                 {{"file", issuer.path},
                  {"upstream", u.name},
                  {"subject", subjectLine(issuer.cert.get())},
                  {"not_before", not_before ? rfc3339(*not_before) : ""},
                  {"not_after", not_after ? rfc3339(*not_after) : ""}});
      }
    }
  }
  for (const auto& [fqdn, ip] : config.resolve) {
    bool used = std::any_of(config.upstreams.begin(), config.upstreams.end(), [&](const auto& u) {
      return std::any_of(u.fqdns.begin(), u.fqdns.end(),
                         [&](const std::string& f) { return sameHost(f, fqdn); });
    });
    if (!used) {
      logEvent(LogLevel::Warn, "resolve_unused",
               {{"file", config.path}, {"fqdn", fqdn}, {"ip", ip}});
    }
  }
}

// 0 on success, else the errno.
int readWholeFile(const std::string& path, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : 0;
      ::close(fd);
      return err;
    }
    out->append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

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
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

Result<std::shared_ptr<const Config>> parseConfig(const std::string& yaml_text,
                                                  const std::string& name,
                                                  const std::string& base_dir) {
  Loader loader(name, base_dir);
  Config config;
  config.path = name;
  try {
    std::vector<YAML::Node> documents = YAML::LoadAll(yaml_text);
    if (documents.size() > 1) {
      return loader.fail("", lineOf(documents[1], 1), "more than one YAML document");
    }
    YAML::Node root = documents.empty() ? YAML::Node() : documents[0];
    if (auto s = walkMap(loader, loader.item(root, "", 1), configSchema(), config); !s.ok()) {
      return s.error();
    }
  } catch (const YAML::Exception& e) {
    return loader.fail("", std::max(e.mark.line, 0) + 1, "not valid YAML: " + e.msg);
  }
  if (auto s = checkRules(loader, config); !s.ok()) return s.error();
  warnAbout(config);
  return std::make_shared<const Config>(std::move(config));
}

Result<std::shared_ptr<const Config>> loadConfig(const std::string& path) {
  std::string text;
  if (int err = readWholeFile(path, &text); err != 0) {
    return makeError(ErrorCategory::Config, "config",
                     path + ": cannot read config: " + osError(err));
  }
  return parseConfig(text, path, fs::path(path).parent_path().string());
}

}  // namespace ocsp::conf
