// The non-template half of the schema machinery: the Loader and the message helpers.
#include "conf/yaml_schema.h"

#include <cctype>
#include <filesystem>
#include <system_error>

namespace ocsp::conf {

namespace {
namespace fs = std::filesystem;
}  // namespace

// --- Loader ----------------------------------------------------------------------------------

Loader::Loader(std::string file, std::string base_dir)
    : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

Error Loader::fail(const std::string& path, int line, std::string_view message) const {
  return makeError(ErrorCategory::Config, "config",
                   file_ + ":" + std::to_string(line) + ": " + path + ": " + std::string(message));
}

Error Loader::fail(const Item& at, std::string_view message) const {
  return fail(at.path, at.line, message);
}

Error Loader::failAt(const std::string& path, std::string_view message) const {
  return fail(path, lineAt(path), message);
}

int Loader::lineAt(const std::string& path) const {
  auto it = lines_.find(path);
  return it == lines_.end() ? 1 : it->second;
}

Item Loader::item(const YAML::Node& node, std::string path, int fallback_line) {
  Item it{node, std::move(path), lineOf(node, fallback_line)};
  lines_[it.path] = it.line;
  return it;
}

std::string Loader::resolvePath(const std::string& p) const {
  if (base_dir_.empty() || fs::path(p).is_absolute()) return p;
  return (fs::path(base_dir_) / p).string();
}

void Loader::noteOrigin(const void* object, const std::string& path) { origin_[object] = path; }

std::string Loader::originOf(const void* object, std::string_view fallback) const {
  auto it = origin_.find(object);
  return it == origin_.end() ? std::string(fallback) : it->second;
}

// --- Message helpers -------------------------------------------------------------------------

std::string osError(int err) { return std::error_code(err, std::generic_category()).message(); }

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

Error fqdnRequired(const Loader& l, const Item& v, std::string_view value) {
  return l.fail(v,
                "an FQDN is required, not an IP address (firewalls allow these hosts by "
                "name): " +
                    inQuotes(value));
}

Error wrongType(const Loader& l, const Item& v, std::string_view expected) {
  if (v.node.IsNull()) return l.fail(v, "missing value");
  std::string message = "expected " + std::string(expected);
  if (v.node.IsScalar()) message += ": " + inQuotes(v.node.Scalar());
  return l.fail(v, message);
}

}  // namespace ocsp::conf
