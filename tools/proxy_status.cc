#include "tools/proxy_status.h"

#include <charconv>
#include <optional>
#include <utility>
#include <vector>

#include "tools/check_http.h"

namespace ocsp::explain {
namespace {

constexpr int kMaxDepth = 64;

struct Json {
  enum class Kind { Null, Bool, Number, String, Array, Object } kind = Kind::Null;
  std::string text;  // strings (decoded), numbers as written, "true"/"false"
  std::vector<Json> items;
  // An object's members as two parallel lists: a vector of pair<string, Json> would need
  // Json complete where Json is being defined (clang with libstdc++ refuses it).
  std::vector<std::string> member_names;
  std::vector<Json> member_values;

  const Json* get(std::string_view key) const {
    for (size_t i = 0; i < member_names.size(); ++i) {
      if (member_names[i] == key) return &member_values[i];
    }
    return nullptr;
  }
  std::string str(std::string_view key) const {
    const Json* v = get(key);
    return v && v->kind == Kind::String ? v->text : "";
  }
  const std::vector<Json>* array(std::string_view key) const {
    const Json* v = get(key);
    return v && v->kind == Kind::Array ? &v->items : nullptr;
  }
};

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Recursive descent over one document; the first fault stops it (error_ says where).
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}

  std::optional<Json> document() {
    Json v;
    if (!value(v, 0)) return std::nullopt;
    space();
    if (at_ != s_.size()) {
      fail("text after the document");
      return std::nullopt;
    }
    return v;
  }
  const std::string& error() const { return error_; }

 private:
  bool fail(const char* what) {
    if (error_.empty()) error_ = std::string(what) + " at byte " + std::to_string(at_ + 1);
    return false;
  }
  void space() {
    while (at_ < s_.size() &&
           (s_[at_] == ' ' || s_[at_] == '\t' || s_[at_] == '\n' || s_[at_] == '\r')) {
      ++at_;
    }
  }
  bool eat(char c) {
    space();
    if (at_ < s_.size() && s_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  bool literal(std::string_view word) {
    if (s_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }
  bool hex4(uint32_t& cp) {
    if (at_ + 4 > s_.size()) return false;
    const char* end = s_.data() + at_ + 4;
    if (std::from_chars(s_.data() + at_, end, cp, 16).ptr != end) return false;
    at_ += 4;
    return true;
  }
  // After the opening quote.
  bool string(std::string& out) {
    while (at_ < s_.size()) {
      char c = s_[at_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return fail("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_ == s_.size()) break;
      char e = s_[at_++];
      static constexpr std::string_view kFrom = "\"\\/bfnrt", kTo = "\"\\/\b\f\n\r\t";
      if (size_t i = kFrom.find(e); i != std::string_view::npos) {
        out += kTo[i];
        continue;
      }
      uint32_t cp = 0, low = 0;
      if (e != 'u' || !hex4(cp)) return fail("bad escape");
      if (cp >= 0xD800 && cp <= 0xDBFF) {  // a high surrogate needs its low half
        if (!literal("\\u") || !hex4(low) || low < 0xDC00 || low > 0xDFFF) {
          return fail("bad surrogate pair");
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return fail("bad surrogate pair");
      }
      appendUtf8(out, cp);
    }
    return fail("unterminated string");
  }
  bool number(Json& v) {
    size_t start = at_;
    if (s_[at_] == '-') ++at_;
    auto digits = [this] {
      size_t from = at_;
      while (at_ < s_.size() && s_[at_] >= '0' && s_[at_] <= '9') ++at_;
      return at_ > from;
    };
    if (!digits()) return fail("bad number");
    if (at_ < s_.size() && s_[at_] == '.' && (++at_, !digits())) return fail("bad number");
    if (at_ < s_.size() && (s_[at_] == 'e' || s_[at_] == 'E')) {
      ++at_;
      if (at_ < s_.size() && (s_[at_] == '+' || s_[at_] == '-')) ++at_;
      if (!digits()) return fail("bad number");
    }
    v.kind = Json::Kind::Number;
    v.text = std::string(s_.substr(start, at_ - start));
    return true;
  }
  bool value(Json& v, int depth) {
    space();
    if (at_ == s_.size()) return fail("truncated document");
    char c = s_[at_];
    if (c == '"') {
      ++at_;
      v.kind = Json::Kind::String;
      return string(v.text);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return number(v);
    if (literal("null")) return true;
    for (std::string_view word : {"true", "false"}) {
      if (literal(word)) {
        v.kind = Json::Kind::Bool;
        v.text = word;
        return true;
      }
    }
    if (c != '{' && c != '[') return fail("unexpected character");
    if (depth == kMaxDepth) return fail("nesting too deep");
    ++at_;
    bool object = c == '{';
    v.kind = object ? Json::Kind::Object : Json::Kind::Array;
    if (eat(object ? '}' : ']')) return true;
    do {
      Json item;
      if (object) {
        std::string key;
        if (!eat('"') || !string(key)) return fail("expected a member name");
        if (!eat(':')) return fail("expected ':'");
        if (!value(item, depth + 1)) return false;
        v.member_names.push_back(std::move(key));
        v.member_values.push_back(std::move(item));
      } else {
        if (!value(item, depth + 1)) return false;
        v.items.push_back(std::move(item));
      }
    } while (eat(','));
    return eat(object ? '}' : ']') || fail(object ? "expected ',' or '}'" : "expected ',' or ']'");
  }

  std::string_view s_;
  size_t at_ = 0;
  std::string error_;
};

}  // namespace

ProxyState parseProxyStatus(std::string_view json, std::string url) {
  ProxyState state;
  state.url = std::move(url);
  Reader reader(json);
  auto doc = reader.document();
  if (!doc || doc->kind != Json::Kind::Object) {
    state.error = "not a JSON object: " + (doc ? std::string("another JSON value") : reader.error());
    return state;
  }
  if (const auto* upstreams = doc->array("upstreams")) {
    for (const Json& up : *upstreams) {
      const auto* fqdns = up.array("fqdns");
      if (fqdns == nullptr) continue;
      for (const Json& f : *fqdns) {
        ProxyState::Circuit c{f.str("fqdn"), f.str("circuit"), 0};
        const Json* failures = f.get("consecutive_failures");
        if (failures && failures->kind == Json::Kind::Number) {
          std::from_chars(failures->text.data(), failures->text.data() + failures->text.size(),
                          c.consecutive_failures);
        }
        if (!c.fqdn.empty()) state.circuits.push_back(std::move(c));
      }
    }
  }
  if (const auto* watched = doc->array("watched_intermediates")) {
    for (const Json& w : *watched) {
      state.watched.push_back({w.str("name"), w.str("subject"), w.str("state"),
                               w.str("revocation_time"), w.str("via"), w.str("detail")});
    }
  }
  return state;
}

ProxyState fetchProxyStatus(const std::string& admin_url, int64_t timeout_ms) {
  std::string url = admin_url + (admin_url.ends_with("/") ? "" : "/") + "status";
  auto answer = check::httpExchange({url, "", std::nullopt, timeout_ms});
  if (!answer) {
    ProxyState state;
    state.url = url;
    state.error = answer.error().detail;
    return state;
  }
  if (answer->status != 200) {
    ProxyState state;
    state.url = url;
    state.error = "HTTP " + std::to_string(answer->status);
    return state;
  }
  return parseProxyStatus(answer->body, url);
}

}  // namespace ocsp::explain
