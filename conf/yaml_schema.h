#pragma once
// Generic YAML schema machinery for the config loader (STYLE.md "One schema table, two
// phases"). A Schema<T> is a table of keys, each with the parser that stores its value into a
// T; walkMap applies it to one YAML map, rejecting unknown, repeated and missing keys. Value
// parsers have the shape (Loader&, const Item&) -> Result<V> and compose: listOf(hostName),
// mapOf(schema), oneOf<V>({...}) (the scalar parsers are in conf/value_parsers.h). Every error is "file:line: dotted.path: message", and the
// Loader records each value's line under its path so that phase 2 can point back at it.
// Each key also says whether a reload (SIGHUP) applies it or only a restart does (Apply): the
// server asks the table which keys those are (restartKeysOf, keepRunningValues) instead of
// keeping its own list.
// Nothing here knows about ocsp-proxy's own keys; conf/config_schema.cc holds those tables.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/result.h"

namespace ocsp::conf {

// A value being parsed, with what an error about it must name.
struct Item {
  YAML::Node node;
  std::string path;  // dotted key path with list indexes: upstreams[1].fqdns[0]
  int line = 1;      // 1-based
};

// State of one load: where messages point, and what phase 2 needs to point back at phase 1.
class Loader {
 public:
  Loader(std::string file, std::string base_dir);

  Error fail(const std::string& path, int line, std::string_view message) const;
  Error fail(const Item& at, std::string_view message) const;
  // Phase 2: an error about a value phase 1 parsed, on the line phase 1 recorded for it.
  Error failAt(const std::string& path, std::string_view message) const;
  // The line phase 1 recorded for `path` (1 if it was not in the file).
  int lineAt(const std::string& path) const;
  // Whether `path` was in the file.
  bool has(const std::string& path) const { return lines_.count(path) != 0; }

  // The value `node` at `path`; `fallback_line` is its key's line, for empty values.
  Item item(const YAML::Node& node, std::string path, int fallback_line);

  // Relative paths are relative to the config file, not to the working directory.
  std::string resolvePath(const std::string& p) const;

  // Which config path an object loaded in phase 1 (a certificate) came from, for phase 2
  // messages; `fallback` if it was not noted.
  void noteOrigin(const void* object, const std::string& path);
  std::string originOf(const void* object, std::string_view fallback) const;

 private:
  std::string file_;
  std::string base_dir_;
  std::map<std::string, int> lines_;
  std::map<const void*, std::string> origin_;
};

// --- Message helpers -------------------------------------------------------------------------

// strerror(err), thread-safe.
std::string osError(int err);
// Values are quoted in messages so that empty strings and stray spaces are visible.
std::string inQuotes(std::string_view s);
// "parent.key", or "key" at the root.
std::string join(const std::string& parent, std::string_view key);
// "parent[i]".
std::string indexed(const std::string& parent, size_t i);
// yaml-cpp marks are 0-based, and an empty value is marked where the next token starts (often
// the next line), so an empty value is reported on its key's line instead.
int lineOf(const YAML::Node& node, int fallback);
// DNS names compare case-insensitively (RFC 4343).
bool sameHost(std::string_view a, std::string_view b);
// An IP literal where a host name is needed: firewalls allow these hosts by name.
Error fqdnRequired(const Loader& l, const Item& v, std::string_view value);
// "expected a list" and the like; an empty value gets its own wording.
Error wrongType(const Loader& l, const Item& v, std::string_view expected);

// --- Schema tables ---------------------------------------------------------------------------

enum class Need { Optional, Required };

// Reload: a SIGHUP's new generation takes the file's value. Restart: the value is held by what
// lives as long as the process (a listener, the worker pool, a cache's size, the revocation
// log), so a reload keeps the running value and says so; only a restart applies it.
enum class Apply { Reload, Restart };

// One key of a map: its name, the parser that stores its value into T, and (both null when
// none) the Restart keys at or under it: `restart_keys` appends their dotted paths under
// `parent`; `keep_running` copies each running value that differs into `fresh` and appends
// its path to `kept`.
template <class T>
struct Field {
  std::string_view key;
  Need need;
  std::function<Status(Loader&, const Item&, T&)> parse;
  std::function<void(const std::string& parent, std::vector<std::string>& out)> restart_keys = {};
  std::function<void(T& fresh, const T& running, const std::string& parent,
                     std::vector<std::string>& kept)>
      keep_running = {};
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

// The dotted paths of the Restart keys of `schema`, in table order, under `parent`.
template <class T>
void restartKeysOf(const Schema<T>& schema, const std::string& parent,
                   std::vector<std::string>& out) {
  for (const auto& f : schema) {
    if (f.restart_keys) f.restart_keys(parent, out);
  }
}

// Gives every Restart key of `schema` whose value differs its running value back in `fresh`;
// appends the dotted path of each to `kept`, in table order.
template <class T>
void keepRunningValues(const Schema<T>& schema, T& fresh, const T& running,
                       const std::string& parent, std::vector<std::string>& kept) {
  for (const auto& f : schema) {
    if (f.keep_running) f.keep_running(fresh, running, parent, kept);
  }
}

// A key whose parsed value is stored in `member`. `apply` is its reload column, written
// first so that it stands out in the table: field<Apply::Restart>("workers", ...).
template <Apply apply = Apply::Reload, class T, class V, class Parse>
Field<T> field(std::string_view key, V T::*member, Parse parse, Need need = Need::Optional) {
  Field<T> f{key, need,
             [member, parse](Loader& l, const Item& v, T& out) -> Status {
               auto parsed = parse(l, v);
               if (!parsed.ok()) return parsed.error();
               out.*member = static_cast<V>(std::move(parsed.value()));
               return Ok{};
             },
             nullptr, nullptr};
  if constexpr (apply == Apply::Restart) {
    f.restart_keys = [key](const std::string& parent, std::vector<std::string>& out) {
      out.push_back(join(parent, key));
    };
    f.keep_running = [key, member](T& fresh, const T& running, const std::string& parent,
                                   std::vector<std::string>& kept) {
      if (fresh.*member == running.*member) return;
      fresh.*member = running.*member;
      kept.push_back(join(parent, key));
    };
  }
  return f;
}

// A sub-map whose keys are stored in the same object (listen.ocsp -> Config::listen_ocsp).
template <class T>
Field<T> section(std::string_view key, const Schema<T>& schema) {
  return {key, Need::Optional,
          [&schema](Loader& l, const Item& v, T& out) { return walkMap(l, v, schema, out); },
          [key, &schema](const std::string& parent, std::vector<std::string>& out) {
            restartKeysOf(schema, join(parent, key), out);
          },
          [key, &schema](T& fresh, const T& running, const std::string& parent,
                         std::vector<std::string>& kept) {
            keepRunningValues(schema, fresh, running, join(parent, key), kept);
          }};
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

// A sub-map stored in `member` (limits -> Config::limits): field(key, member, mapOf(schema)),
// whose Restart keys are those of `schema` under `key`.
template <class T, class V>
Field<T> sectionOf(std::string_view key, V T::*member, const Schema<V>& schema) {
  Field<T> f = field(key, member, mapOf(schema));
  f.restart_keys = [key, &schema](const std::string& parent, std::vector<std::string>& out) {
    restartKeysOf(schema, join(parent, key), out);
  };
  f.keep_running = [key, member, &schema](T& fresh, const T& running, const std::string& parent,
                                          std::vector<std::string>& kept) {
    keepRunningValues(schema, fresh.*member, running.*member, join(parent, key), kept);
  };
  return f;
}

// A list in the schema needs at least one entry: an empty one is usually a list whose entries
// were left out by mistake. AnyNumber is for lists where none is a plain "nothing to do".
enum class Entries { AtLeastOne, AnyNumber };

template <class Parse>
auto listOf(Parse parse, Entries entries = Entries::AtLeastOne) {
  using V = ParsedType<Parse>;
  return [parse, entries](Loader& l, const Item& v) -> Result<std::vector<V>> {
    if (!v.node.IsNull() && !v.node.IsSequence()) return wrongType(l, v, "a list");
    if (v.node.IsNull() || v.node.size() == 0) {
      if (entries == Entries::AnyNumber) return std::vector<V>{};
      return l.fail(v, "must not be empty");
    }
    std::vector<V> out;
    for (const auto& element : v.node) {
      auto parsed = parse(l, l.item(element, indexed(v.path, out.size()), v.line));
      if (!parsed.ok()) return parsed.error();
      out.push_back(std::move(parsed.value()));
    }
    return out;
  };
}

}  // namespace ocsp::conf
