#include "tools/report.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <unordered_map>

#include "core/json.h"
#include "core/log.h"

namespace ocsp::report {
namespace {

constexpr size_t kReadChunkBytes = 1 << 20;
constexpr int kMaxNesting = 32;  // inside ignored fields
constexpr int64_t kMsPerDay = 86'400'000;
constexpr int64_t kNoTime = INT64_MIN;
static_assert(kMaxLineBytes == 1 << 20, "the too-long message says 1 MiB");

constexpr const char* kUsage =
    "Usage: ocsp-proxy report [--json] [--since TIME] [--until TIME] [--top N] [FILE...]\n"
    "\n"
    "Summarises a revocation log (JSON Lines): answers by status and issuer, revoked serials\n"
    "seen, clients still asking about revoked certificates, errors and stale answers by\n"
    "upstream, answers under revoked issuers. FILEs are read in order as one stream; none or\n"
    "\"-\" reads stdin. Malformed lines are counted and skipped.\n"
    "\n"
    "Options:\n"
    "  --json          print one JSON object instead of tables\n"
    "  --since TIME    count answers at or after TIME: RFC 3339 (2026-11-23T10:00:00Z) or a\n"
    "                  date (2026-11-23, midnight UTC)\n"
    "  --until TIME    count answers before TIME\n"
    "  --top N         clients listed per revoked serial (default 20)\n"
    "  --help          print this help and exit\n"
    "\n"
    "Exit status: 0 report printed, 1 an input could not be read, 2 bad usage.\n";

// ---------------------------------------------------------------------------------------------
// Time: RFC 3339 -> milliseconds since the epoch (civil-day arithmetic, no time zone database).

int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  return era * 146097 + static_cast<int64_t>(yoe * 365 + yoe / 4 - yoe / 100 + doy) - 719468;
}

bool readDigits(std::string_view s, size_t at, size_t n, int& out) {
  if (at + n > s.size()) return false;
  out = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)" (RFC 3339 §5.6; digits past milliseconds are
// truncated), or "YYYY-MM-DD" as midnight UTC when `date_alone` is allowed.
std::optional<int64_t> parseTime(std::string_view s, bool date_alone) {
  int y, mo, d, h, mi, sec, oh = 0, om = 0;
  if (!readDigits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !readDigits(s, 5, 2, mo) ||
      s[7] != '-' || !readDigits(s, 8, 2, d) || mo < 1 || mo > 12 || d < 1) {
    return std::nullopt;
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > kDays[mo - 1] + (mo == 2 && leap ? 1 : 0)) return std::nullopt;
  const int64_t day_ms =
      daysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * kMsPerDay;
  if (s.size() == 10) return date_alone ? std::optional(day_ms) : std::nullopt;
  if ((s[10] != 'T' && s[10] != 't') || !readDigits(s, 11, 2, h) || s.size() < 20 || s[13] != ':' ||
      !readDigits(s, 14, 2, mi) || s[16] != ':' || !readDigits(s, 17, 2, sec) || h > 23 ||
      mi > 59 || sec > 60) {
    return std::nullopt;
  }
  size_t at = 19;
  int64_t ms = 0;
  if (s[at] == '.') {
    const size_t first = ++at;
    for (; at < s.size() && s[at] >= '0' && s[at] <= '9'; ++at) {
      if (at - first < 3) ms = ms * 10 + (s[at] - '0');
    }
    if (at == first) return std::nullopt;
    for (size_t k = std::min<size_t>(at - first, 3); k < 3; ++k) ms *= 10;
  }
  if (at < s.size() && (s[at] == 'Z' || s[at] == 'z')) {
    ++at;
  } else if (at < s.size() && (s[at] == '+' || s[at] == '-')) {
    if (!readDigits(s, at + 1, 2, oh) || at + 3 >= s.size() || s[at + 3] != ':' ||
        !readDigits(s, at + 4, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    if (s[at] == '+') oh = -oh, om = -om;  // local time minus the offset is UTC
    at += 6;
  } else {
    return std::nullopt;
  }
  if (at != s.size()) return std::nullopt;
  return day_ms + ((h + oh) * 3600LL + (mi + om) * 60LL + sec) * 1000 + ms;
}

// Answer times carry milliseconds; revocation times only when they have some (OCSP and CRL
// times are whole seconds).
std::string timeText(int64_t ms) { return ms == kNoTime ? "" : rfc3339Ms(ms); }
std::string revocationTimeText(int64_t ms) {
  return ms == kNoTime ? "" : ms % 1000 == 0 ? rfc3339(ms / 1000) : rfc3339Ms(ms);
}

// ---------------------------------------------------------------------------------------------
// One log line -> the known fields, parsed in place. Strings without escapes are views into the
// line; escaped ones are decoded into a per-field buffer reused from line to line.

enum class Kind : uint8_t { Absent, Null, String, Bool, Integer, OtherNumber, Composite };

// clang-format off
enum Field : uint8_t {
  kTime, kClient, kMode, kUpstream, kUpstreamFqdn, kIssuer, kIssuerKeyHash, kHash, kSerial,
  kStatus, kRevocationTime, kRevocationReason, kSource, kValidation, kIssuerRevoked, kLatencyMs,
  kFieldCount
};
struct FieldSpec {
  std::string_view name;
  Kind kind;
  bool nullable;
};
constexpr std::array<FieldSpec, kFieldCount> kSchema = {{
    {"time", Kind::String, false},           {"client", Kind::String, false},
    {"mode", Kind::String, false},           {"upstream", Kind::String, true},
    {"upstream_fqdn", Kind::String, true},   {"issuer", Kind::String, false},
    {"issuer_key_hash", Kind::String, false}, {"hash", Kind::String, false},
    {"serial", Kind::String, false},         {"status", Kind::String, false},
    {"revocation_time", Kind::String, true}, {"revocation_reason", Kind::String, true},
    {"source", Kind::String, true},          {"validation", Kind::String, false},
    {"issuer_revoked", Kind::Bool, false},   {"latency_ms", Kind::Integer, false},
}};
// clang-format on

struct Value {
  Kind kind = Kind::Absent;
  std::string_view str;  // strings; the text of numbers
  bool flag = false;     // booleans
};
using Values = std::array<Value, kFieldCount>;

// Why a line was refused: a fixed message, nullptr for none.
using Fault = const char*;
constexpr Fault kNotObject = "not a JSON object";
constexpr Fault kTruncated = "truncated JSON";
constexpr Fault kSyntax = "JSON syntax error";
constexpr Fault kBadEscape = "bad escape";
constexpr Fault kBadUtf8 = "invalid UTF-8";
constexpr Fault kControlChar = "control character in string";
constexpr Fault kTooDeep = "nesting too deep";
constexpr Fault kTooLong = "line longer than 1 MiB";
constexpr Fault kDuplicate = "duplicate field";
constexpr Fault kMissing = "missing field";
constexpr Fault kWrongType = "wrong type for field";
constexpr Fault kBadValue = "bad value for field";

struct Problem {
  Fault fault = nullptr;
  size_t column = 0;  // 1-based; 0 when a column would not help
  int field = -1;
};

std::string describe(const Problem& p) {
  std::string out = p.fault;
  if (p.field >= 0) out += " \"" + std::string(kSchema[p.field].name) + "\"";
  if (p.column > 0) out += " at column " + std::to_string(p.column);
  return out;
}

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) return out.push_back(static_cast<char>(cp));
  static constexpr unsigned char kLead[] = {0, 0xC0, 0xE0, 0xF0};  // by continuation bytes
  const int tail = cp < 0x800 ? 1 : cp < 0x10000 ? 2 : 3;
  out.push_back(static_cast<char>(kLead[tail] | (cp >> (6 * tail))));
  for (int i = tail - 1; i >= 0; --i) {
    out.push_back(static_cast<char>(0x80 | ((cp >> (6 * i)) & 0x3F)));
  }
}

// Length of the well-formed UTF-8 sequence at s[0] (RFC 3629 §4), 0 if ill-formed.
size_t utf8Length(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  size_t n = 4;
  unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range (Table 3-7 of Unicode)
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    lo = c == 0xE0 ? 0xA0 : 0x80;
    hi = c == 0xED ? 0x9F : 0xBF;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    lo = c == 0xF0 ? 0x90 : 0x80;
    hi = c == 0xF4 ? 0x8F : 0xBF;  // nothing past U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < n || b(1) < lo || b(1) > hi) return 0;
  for (size_t i = 2; i < n; ++i) {
    if (b(i) < 0x80 || b(i) > 0xBF) return 0;
  }
  return n;
}

// Bytes a string holds as they are: printable ASCII but '"' and '\\'.
constexpr std::array<bool, 256> kPlain = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[c] = c != '"' && c != '\\';
  return t;
}();

// Strict RFC 8259 for one line holding one object. Known fields land in `values`; any other
// member is checked and skipped, whatever its shape.
class LineParser {
 public:
  // The views in `values` live until the next call.
  Problem parse(std::string_view line, Values& values) {
    s_ = line;
    at_ = 0;
    values.fill(Value{});
    skipSpace();
    if (at_ == s_.size() || s_[at_] != '{') return {kNotObject};
    ++at_;
    skipSpace();
    size_t next_field = 0;
    if (at_ < s_.size() && s_[at_] == '}') {
      ++at_;
    } else {
      while (true) {
        std::string_view key;
        if (Fault f = expect('"')) return problem(f);
        if (Fault f = string(key, &key_scratch_)) return problem(f);
        skipSpace();
        if (Fault f = expect(':')) return problem(f);
        skipSpace();
        // The writer keeps the schema's order, so the field after the last one is tried first.
        size_t index = next_field;
        if (index == kFieldCount || kSchema[index].name != key) {
          index =
              static_cast<size_t>(std::find_if(kSchema.begin(), kSchema.end(),
                                               [&](const FieldSpec& f) { return f.name == key; }) -
                                  kSchema.begin());
        }
        Value ignored;
        if (index < kFieldCount) {
          if (values[index].kind != Kind::Absent) {
            return {kDuplicate, 0, static_cast<int>(index)};
          }
          next_field = index + 1;
        }
        const bool known = index < kFieldCount;
        if (Fault f = value(known ? values[index] : ignored,
                            known ? &scratch_[index] : &ignored_scratch_, 0)) {
          return problem(f);
        }
        skipSpace();
        if (at_ < s_.size() && s_[at_] == ',') {
          ++at_;
          skipSpace();
          continue;
        }
        if (Fault f = expect('}')) return problem(f);
        break;
      }
    }
    skipSpace();
    return at_ == s_.size() ? Problem{} : problem(kSyntax);
  }

 private:
  Problem problem(Fault f) const { return {f, f == kTruncated ? 0 : at_ + 1}; }
  void skipSpace() {
    while (at_ < s_.size() && (s_[at_] == ' ' || s_[at_] == '\t' || s_[at_] == '\r')) ++at_;
  }
  Fault expect(char c) {
    if (at_ == s_.size()) return kTruncated;
    if (s_[at_] != c) return kSyntax;
    ++at_;
    return nullptr;
  }

  // After the opening quote. Decodes into *scratch only once an escape shows up.
  Fault string(std::string_view& out, std::string* scratch) {
    const size_t start = at_;
    bool escaped = false;
    while (true) {
      const size_t plain_from = at_;
      while (at_ < s_.size() && kPlain[static_cast<unsigned char>(s_[at_])]) ++at_;
      if (escaped) scratch->append(s_.substr(plain_from, at_ - plain_from));
      if (at_ == s_.size()) return kTruncated;
      const auto c = static_cast<unsigned char>(s_[at_]);
      if (c == '"') {
        out = escaped ? std::string_view(*scratch) : s_.substr(start, at_ - start);
        ++at_;
        return nullptr;
      }
      if (c < 0x20) return kControlChar;
      if (c == '\\') {
        if (!escaped) scratch->assign(s_.substr(start, at_ - start));
        escaped = true;
        const size_t backslash = at_;
        if (Fault f = escape(*scratch)) {
          if (f == kBadEscape) at_ = backslash;  // the column points at the escape
          return f;
        }
        continue;
      }
      const size_t n = utf8Length(s_.substr(at_));
      if (n == 0) return kBadUtf8;
      if (escaped) scratch->append(s_.substr(at_, n));
      at_ += n;
    }
  }

  // At a backslash (RFC 8259 §7).
  Fault escape(std::string& out) {
    if (at_ + 1 >= s_.size()) return kTruncated;
    const char e = s_[at_ + 1];
    at_ += 2;
    static constexpr std::string_view kFrom = "\"\\/bfnrt", kTo = "\"\\/\b\f\n\r\t";
    if (const size_t i = kFrom.find(e); i != std::string_view::npos) {
      out += kTo[i];
      return nullptr;
    }
    if (e != 'u') return kBadEscape;
    uint32_t cp;
    if (Fault f = hex4(cp)) return f;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return kBadEscape;  // a low surrogate alone
    if (cp >= 0xD800 && cp <= 0xDBFF) {                   // a high one needs its low half next
      if (at_ + 2 > s_.size()) return kTruncated;
      if (s_[at_] != '\\' || s_[at_ + 1] != 'u') return kBadEscape;
      at_ += 2;
      uint32_t low;
      if (Fault f = hex4(low)) return f;
      if (low < 0xDC00 || low > 0xDFFF) return kBadEscape;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    appendUtf8(out, cp);
    return nullptr;
  }
  Fault hex4(uint32_t& cp) {
    if (at_ + 4 > s_.size()) return kTruncated;
    const char* end = s_.data() + at_ + 4;
    if (std::from_chars(s_.data() + at_, end, cp, 16).ptr != end) return kBadEscape;
    at_ += 4;
    return nullptr;
  }

  Fault digits() {
    const size_t first = at_;
    while (at_ < s_.size() && s_[at_] >= '0' && s_[at_] <= '9') ++at_;
    if (at_ > first) return nullptr;
    return at_ == s_.size() ? kTruncated : kSyntax;
  }
  // RFC 8259 §6; `out.kind` says whether it was a plain integer.
  Fault number(Value& out) {
    const size_t start = at_;
    if (s_[at_] == '-') ++at_;
    if (at_ < s_.size() && s_[at_] == '0') {
      ++at_;
    } else if (Fault f = digits()) {
      return f;
    }
    out.kind = Kind::Integer;
    if (at_ < s_.size() && s_[at_] == '.') {
      ++at_;
      if (Fault f = digits()) return f;
      out.kind = Kind::OtherNumber;
    }
    if (at_ < s_.size() && (s_[at_] == 'e' || s_[at_] == 'E')) {
      ++at_;
      if (at_ < s_.size() && (s_[at_] == '+' || s_[at_] == '-')) ++at_;
      if (Fault f = digits()) return f;
      out.kind = Kind::OtherNumber;
    }
    out.str = s_.substr(start, at_ - start);
    return nullptr;
  }

  Fault literal(std::string_view word) {
    const std::string_view rest = s_.substr(at_, word.size());
    if (rest != word) return word.starts_with(rest) ? kTruncated : kSyntax;
    at_ += word.size();
    return nullptr;
  }

  // Any JSON value; objects and arrays are checked and skipped (Kind::Composite).
  Fault value(Value& out, std::string* scratch, int depth) {
    if (at_ == s_.size()) return kTruncated;
    const char c = s_[at_];
    if (c == '"') {
      ++at_;
      out.kind = Kind::String;
      return string(out.str, scratch);
    }
    if (c == 't' || c == 'f') {
      out.kind = Kind::Bool;
      out.flag = c == 't';
      return literal(out.flag ? "true" : "false");
    }
    if (c == 'n') {
      out.kind = Kind::Null;
      return literal("null");
    }
    if (c == '-' || (c >= '0' && c <= '9')) return number(out);
    if (c != '{' && c != '[') return kSyntax;
    if (depth == kMaxNesting) return kTooDeep;
    out.kind = Kind::Composite;
    const char close = c == '{' ? '}' : ']';
    ++at_;
    skipSpace();
    if (at_ < s_.size() && s_[at_] == close) {
      ++at_;
      return nullptr;
    }
    while (true) {
      if (close == '}') {
        std::string_view key;
        if (Fault f = expect('"')) return f;
        if (Fault f = string(key, &ignored_scratch_)) return f;
        skipSpace();
        if (Fault f = expect(':')) return f;
        skipSpace();
      }
      Value inner;
      if (Fault f = value(inner, &ignored_scratch_, depth + 1)) return f;
      skipSpace();
      if (at_ == s_.size() || s_[at_] != ',') return expect(close);
      ++at_;
      skipSpace();
    }
  }

  std::string_view s_;
  size_t at_ = 0;
  std::array<std::string, kFieldCount> scratch_;
  std::string key_scratch_;
  std::string ignored_scratch_;
};

// ---------------------------------------------------------------------------------------------
// The checked answer.

enum AnswerStatus : uint8_t { kGood, kRevoked, kUnknown, kError, kStatusCount };
constexpr std::array<std::string_view, kStatusCount> kStatusNames = {"good", "revoked", "unknown",
                                                                     "error"};

struct Answer {
  int64_t time_ms = 0;
  AnswerStatus status = kGood;
  std::string_view client, upstream, fqdn, issuer, key_hash, serial, validation;
  int64_t revocation_ms = kNoTime;
  std::optional<std::string_view> reason;
  bool stale = false;
  bool issuer_revoked = false;
};

Problem checkAnswer(const Values& v, Answer& a) {
  const auto bad = [](Fault f, Field field) { return Problem{f, 0, field}; };
  for (size_t i = 0; i < kFieldCount; ++i) {
    const auto field = static_cast<Field>(i);
    if (v[i].kind == Kind::Absent) return bad(kMissing, field);
    if (v[i].kind != kSchema[i].kind && !(kSchema[i].nullable && v[i].kind == Kind::Null)) {
      return bad(kWrongType, field);
    }
  }
  const auto time = parseTime(v[kTime].str, false);
  if (!time) return bad(kBadValue, kTime);
  a.time_ms = *time;
  if (v[kMode].str != "responder" && v[kMode].str != "forward") return bad(kBadValue, kMode);
  const auto status = std::find(kStatusNames.begin(), kStatusNames.end(), v[kStatus].str);
  if (status == kStatusNames.end()) return bad(kBadValue, kStatus);
  a.status = static_cast<AnswerStatus>(status - kStatusNames.begin());
  if (v[kRevocationTime].kind == Kind::String) {
    const auto revoked_at = parseTime(v[kRevocationTime].str, false);
    if (!revoked_at) return bad(kBadValue, kRevocationTime);
    a.revocation_ms = *revoked_at;
  }
  const std::string_view source = v[kSource].str;  // "" when null
  if (v[kSource].kind == Kind::String && source != "memory" && source != "redis" &&
      source != "upstream" && source != "stale") {
    return bad(kBadValue, kSource);
  }
  a.validation = v[kValidation].str;
  if (a.validation != "ok" && a.validation != "unvalidated" &&
      !(a.validation.starts_with("error:") && a.validation.size() > 6)) {
    return bad(kBadValue, kValidation);
  }
  int64_t latency_ms;
  const std::string_view l = v[kLatencyMs].str;
  if (std::from_chars(l.data(), l.data() + l.size(), latency_ms).ec != std::errc()) {
    return bad(kBadValue, kLatencyMs);
  }
  a.client = v[kClient].str;
  a.upstream = v[kUpstream].str;
  a.fqdn = v[kUpstreamFqdn].str;
  a.issuer = v[kIssuer].str;
  a.key_hash = v[kIssuerKeyHash].str;
  a.serial = v[kSerial].str;
  if (v[kRevocationReason].kind == Kind::String) a.reason = v[kRevocationReason].str;
  a.stale = source == "stale";
  a.issuer_revoked = v[kIssuerRevoked].flag;
  return {};
}

// "10.0.0.5:51234" -> "10.0.0.5", "[::1]:5000" -> "::1"; anything else as it is.
std::string_view clientAddress(std::string_view c) {
  if (c.starts_with('[')) {
    const size_t close = c.find(']');
    return close == std::string_view::npos ? c : c.substr(1, close - 1);
  }
  const size_t colon = c.rfind(':');
  return colon != std::string_view::npos && c.find(':') == colon ? c.substr(0, colon) : c;
}

void appendLower(std::string& out, std::string_view s) {
  const size_t from = out.size();
  out += s;
  for (size_t i = from; i < out.size(); ++i) {
    if (out[i] >= 'A' && out[i] <= 'Z') out[i] = static_cast<char>(out[i] - 'A' + 'a');
  }
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using Interned = std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>>;

// Index of `key` in `rows`, appending the row `make` returns the first time.
template <class Row, class Make>
uint32_t intern(Interned& index, std::vector<Row>& rows, std::string_view key, Make make) {
  if (auto it = index.find(key); it != index.end()) return it->second;
  const auto id = static_cast<uint32_t>(rows.size());
  index.emplace(std::string(key), id);
  rows.push_back(make());
  return id;
}

// Ids 0..n-1 that pass `keep`, in `less` order.
template <class Keep, class Less>
std::vector<uint32_t> ordered(size_t n, Keep keep, Less less) {
  std::vector<uint32_t> ids;
  for (uint32_t i = 0; i < n; ++i) {
    if (keep(i)) ids.push_back(i);
  }
  std::sort(ids.begin(), ids.end(), less);
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Rendering. Each table section is built once as cells; the text and JSON renderers show the
// same cells, so the two outputs cannot drift apart.

using Counts = std::map<std::string, uint64_t, std::less<>>;

struct Cell {
  enum Type : uint8_t { kNumber, kText, kList, kCounts };
  Type type = kText;
  uint64_t number = 0;                    // kNumber; kList: how many there are in all
  std::string text{};                     // kText: "" shows as "-" and as null
  std::vector<std::string_view> items{};  // kList: those listed
  const Counts* counts = nullptr;         // kCounts
};
Cell numberCell(uint64_t n) { return {.type = Cell::kNumber, .number = n}; }
Cell textCell(std::string s) { return {.type = Cell::kText, .text = std::move(s)}; }

struct Column {
  std::string_view header;  // text
  std::string_view key;     // JSON
};
// Rows are made when shown, so a report with a million revoked serials never holds a million
// rows of cells at once.
struct Section {
  std::string_view title;
  std::string_view key;
  std::vector<Column> columns;
  std::vector<uint32_t> ids;                       // one per row, in order
  std::function<std::vector<Cell>(uint32_t)> row;  // the cells of a row
};

// Log text is untrusted: control characters (C0, DEL, C1) are shown as \xNN, never sent to a
// terminal.
std::string displayed(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const auto next = i + 1 < s.size() ? static_cast<unsigned char>(s[i + 1]) : 0;
    const bool c1 = c == 0xC2 && next >= 0x80 && next < 0xA0;
    if (c < 0x20 || c == 0x7F || c1) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c1 ? static_cast<unsigned>(s[++i] & 0xFF) : c);
      out += buf;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string cellText(const Cell& c) {
  std::string out;
  switch (c.type) {
    case Cell::kNumber:
      return std::to_string(c.number);
    case Cell::kText:
      return c.text.empty() ? "-" : displayed(c.text);
    case Cell::kList:
      for (auto item : c.items) out += (out.empty() ? "" : ", ") + displayed(item);
      if (c.number > c.items.size() && !c.items.empty()) {
        out += " (+" + std::to_string(c.number - c.items.size()) + " more)";
      }
      break;
    case Cell::kCounts:
      for (const auto& [k, n] : *c.counts) {
        out += (out.empty() ? "" : " ") + displayed(k) + "=" + std::to_string(n);
      }
      break;
  }
  return out.empty() ? "-" : out;
}

size_t displayWidth(std::string_view s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// Columns two spaces apart, numbers right-aligned, the last column not padded.
void appendTable(std::string& out, const Section& s) {
  if (s.ids.empty()) {
    out += "  (none)\n";
    return;
  }
  std::vector<size_t> width;
  for (const auto& c : s.columns) width.push_back(c.header.size());
  std::vector<bool> right(s.columns.size(), false);
  for (uint32_t id : s.ids) {
    const auto cells = s.row(id);
    for (size_t i = 0; i < cells.size(); ++i) {
      width[i] = std::max(width[i], displayWidth(cellText(cells[i])));
      right[i] = cells[i].type == Cell::kNumber;
    }
  }
  const auto line = [&](const std::vector<std::string>& shown) {
    out += ' ';
    for (size_t i = 0; i < shown.size(); ++i) {
      const std::string& v = shown[i];
      const std::string pad(width[i] - displayWidth(v), ' ');
      const bool last = i + 1 == shown.size();
      out += ' ' + (right[i] ? pad + v : last ? v : v + pad) + (last ? "" : " ");
    }
    out += '\n';
  };
  std::vector<std::string> shown;
  for (const auto& c : s.columns) shown.emplace_back(c.header);
  line(shown);
  for (uint32_t id : s.ids) {
    shown.clear();
    for (const Cell& c : s.row(id)) shown.push_back(cellText(c));
    line(shown);
  }
}

// Builds one JSON object member by member; commas come by themselves.
class JsonOut {
 public:
  std::string& str() { return out_; }
  void key(std::string_view k) {
    comma();
    appendJsonString(out_, k);
    out_ += ':';
  }
  void open(char bracket) {
    comma();
    out_ += bracket;
  }
  void close(char bracket) { out_ += bracket; }
  void number(uint64_t n) {
    comma();
    out_ += std::to_string(n);
  }
  void text(std::string_view s) {  // "" is null
    comma();
    if (s.empty()) {
      out_ += "null";
    } else {
      appendJsonString(out_, s);
    }
  }
  void member(std::string_view k, uint64_t n) {
    key(k);
    number(n);
  }
  void member(std::string_view k, std::string_view s) {
    key(k);
    text(s);
  }
  void cell(const Cell& c) {
    switch (c.type) {
      case Cell::kNumber:
        return number(c.number);
      case Cell::kText:
        return text(c.text);
      case Cell::kList:
        open('[');
        for (auto item : c.items) text(item);
        return close(']');
      case Cell::kCounts:
        open('{');
        for (const auto& [k, n] : *c.counts) member(k, n);
        return close('}');
    }
  }

 private:
  void comma() {
    if (!out_.empty() && out_.back() != '{' && out_.back() != '[' && out_.back() != ':') {
      out_ += ',';
    }
  }
  std::string out_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Aggregation.

class Report::Impl {
 public:
  explicit Impl(const Options& o) : options_(o) {}

  void beginInput(std::string name) {
    input_ = std::move(name);
    line_no_ = 0;
    carry_.clear();
    carry_too_long_ = false;
  }

  void feed(std::string_view bytes) {
    while (!bytes.empty()) {
      const void* nl = std::memchr(bytes.data(), '\n', bytes.size());
      if (nl == nullptr) return carry(bytes);
      const auto n = static_cast<size_t>(static_cast<const char*>(nl) - bytes.data());
      if (carry_.empty() && !carry_too_long_) {
        line(bytes.substr(0, n));  // the common case: parsed in place in the read buffer
      } else {
        carry(bytes.substr(0, n));
        endCarried();
      }
      bytes.remove_prefix(n + 1);
    }
  }

  void endInput() {
    if (!carry_.empty() || carry_too_long_) endCarried();
  }

  std::string text() const;
  std::string json() const;

 private:
  struct IssuerRow {
    std::string name, key_hash;
    std::array<uint64_t, kStatusCount> by_status{};
    uint64_t total = 0;
    uint64_t flagged = 0;  // answers with issuer_revoked
    int64_t flagged_last = kNoTime;
  };
  struct SerialRow {
    uint32_t issuer = 0;
    std::string serial;
    int64_t revocation_ms = kNoTime;
    int reason = -1;  // index into reasons_
    int64_t first = INT64_MAX, last = kNoTime;
    uint64_t answers = 0;
    std::unordered_map<uint32_t, uint64_t> clients{};  // client id -> answers
  };
  struct ClientRow {
    std::string address;
    uint64_t answers = 0;  // revoked answers
    int64_t last = kNoTime;
  };
  struct UpstreamRow {
    std::string upstream, fqdn;
    uint64_t errors = 0, stale = 0;
    Counts errors_by_code{};
  };

  void carry(std::string_view part) {
    if (carry_too_long_) return;
    if (carry_.size() + part.size() > kMaxLineBytes) {
      carry_too_long_ = true;
      carry_.clear();
      return;
    }
    carry_.append(part);
  }
  void endCarried() {
    if (carry_too_long_) {
      ++lines_, ++line_no_;
      malformed({kTooLong});
    } else {
      line(carry_);
    }
    carry_.clear();
    carry_too_long_ = false;
  }

  void line(std::string_view text) {
    ++lines_, ++line_no_;
    if (text.ends_with('\r')) text.remove_suffix(1);
    if (text.size() > kMaxLineBytes) return malformed({kTooLong});
    Problem p = parser_.parse(text, values_);
    Answer a;
    if (!p.fault) p = checkAnswer(values_, a);
    if (p.fault) return malformed(p);
    if ((options_.since_ms && a.time_ms < *options_.since_ms) ||
        (options_.until_ms && a.time_ms >= *options_.until_ms)) {
      ++outside_;
      return;
    }
    add(a);
  }

  void malformed(const Problem& p) {
    if (malformed_.size() < kMalformedListed) {
      malformed_.emplace_back(input_ + ":" + std::to_string(line_no_), describe(p));
    }
    ++malformed_count_;
  }

  void add(const Answer& a) {
    ++answers_;
    ++by_status_[a.status];
    first_ = std::min(first_, a.time_ms);
    last_ = std::max(last_, a.time_ms);

    key_.clear();
    appendLower(key_, a.key_hash);
    key_ += '\0';
    key_ += a.issuer;
    const uint32_t issuer = intern(issuer_index_, issuers_, key_, [&] {
      return IssuerRow{.name = std::string(a.issuer),
                       .key_hash = key_.substr(0, a.key_hash.size())};
    });
    IssuerRow& ir = issuers_[issuer];
    ++ir.by_status[a.status];
    ++ir.total;
    if (a.issuer_revoked) {
      ++ir.flagged;
      ir.flagged_last = std::max(ir.flagged_last, a.time_ms);
    }
    if (a.status == kRevoked) addRevoked(a, issuer);
    if (a.status == kError || a.stale) addUpstreamProblem(a);
  }

  void addRevoked(const Answer& a, uint32_t issuer) {
    key_.clear();
    appendLower(key_, a.key_hash);
    key_ += '\0';
    appendLower(key_, a.serial);
    const uint32_t s = intern(serial_index_, serials_, key_, [&] {
      return SerialRow{.issuer = issuer, .serial = key_.substr(a.key_hash.size() + 1)};
    });
    SerialRow& sr = serials_[s];
    ++sr.answers;
    sr.first = std::min(sr.first, a.time_ms);
    if (a.time_ms >= sr.last) {  // the latest answer says when and why
      sr.last = a.time_ms;
      sr.revocation_ms = a.revocation_ms;
      sr.reason = -1;
      if (a.reason) {
        sr.reason = static_cast<int>(
            intern(reason_index_, reasons_, *a.reason, [&] { return std::string(*a.reason); }));
      }
    }
    const std::string_view address = clientAddress(a.client);
    const uint32_t c = intern(client_index_, clients_, address,
                              [&] { return ClientRow{.address = std::string(address)}; });
    ++sr.clients[c];
    ++clients_[c].answers;
    clients_[c].last = std::max(clients_[c].last, a.time_ms);
  }

  void addUpstreamProblem(const Answer& a) {
    key_.assign(a.upstream) += '\0';
    key_ += a.fqdn;
    const uint32_t u = intern(upstream_index_, upstreams_, key_, [&] {
      return UpstreamRow{.upstream = std::string(a.upstream), .fqdn = std::string(a.fqdn)};
    });
    UpstreamRow& ur = upstreams_[u];
    if (a.stale) ++ur.stale;
    if (a.status == kError) {
      ++ur.errors;
      const std::string_view code =
          a.validation.starts_with("error:") ? a.validation.substr(6) : a.validation;
      auto it = ur.errors_by_code.find(code);
      if (it == ur.errors_by_code.end()) it = ur.errors_by_code.emplace(code, 0).first;
      ++it->second;
    }
  }

  std::vector<Section> sections() const;
  Cell topClients(const SerialRow& s) const;

  const Options options_;
  LineParser parser_;
  Values values_;
  std::string key_;  // reused lookup key: a known issuer or serial costs no allocation
  std::string input_;
  uint64_t line_no_ = 0;
  std::string carry_;  // a line split across feed() calls
  bool carry_too_long_ = false;

  uint64_t lines_ = 0, answers_ = 0, outside_ = 0, malformed_count_ = 0;
  std::vector<std::pair<std::string, std::string>> malformed_;  // where, why
  int64_t first_ = INT64_MAX, last_ = kNoTime;
  std::array<uint64_t, kStatusCount> by_status_{};
  Interned issuer_index_, serial_index_, client_index_, upstream_index_, reason_index_;
  std::vector<IssuerRow> issuers_;
  std::vector<SerialRow> serials_;
  std::vector<ClientRow> clients_;
  std::vector<UpstreamRow> upstreams_;
  std::vector<std::string> reasons_;
};

// Up to --top client addresses, most answers first, and how many there are.
Cell Report::Impl::topClients(const SerialRow& s) const {
  std::vector<std::pair<uint64_t, std::string_view>> all;
  for (const auto& [client, n] : s.clients) all.emplace_back(n, clients_[client].address);
  const size_t n = std::min(options_.top_clients, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<ptrdiff_t>(n), all.end(),
                    [](const auto& x, const auto& y) {
                      return x.first != y.first ? x.first > y.first : x.second < y.second;
                    });
  Cell out{.type = Cell::kList, .number = all.size()};
  for (size_t i = 0; i < n; ++i) out.items.push_back(all[i].second);
  return out;
}

// Sections 3 to 7, each sorted by its count, descending, ties broken by key.
std::vector<Section> Report::Impl::sections() const {
  const auto all = [](uint32_t) { return true; };
  std::vector<uint64_t> serials_per_client(clients_.size(), 0);
  for (const auto& s : serials_) {
    for (const auto& [client, n] : s.clients) ++serials_per_client[client];
  }
  std::vector<Section> out;
  out.push_back(
      {"By issuer",
       "by_issuer",
       {{"TOTAL", "total"},
        {"GOOD", "good"},
        {"REVOKED", "revoked"},
        {"UNKNOWN", "unknown"},
        {"ERROR", "error"},
        {"KEY HASH", "issuer_key_hash"},
        {"ISSUER", "issuer"}},
       ordered(issuers_.size(), all,
               [&](uint32_t x, uint32_t y) {
                 return std::tie(issuers_[y].total, issuers_[x].key_hash, issuers_[x].name) <
                        std::tie(issuers_[x].total, issuers_[y].key_hash, issuers_[y].name);
               }),
       [this](uint32_t i) -> std::vector<Cell> {
         const IssuerRow& r = issuers_[i];
         return {numberCell(r.total),
                 numberCell(r.by_status[kGood]),
                 numberCell(r.by_status[kRevoked]),
                 numberCell(r.by_status[kUnknown]),
                 numberCell(r.by_status[kError]),
                 textCell(r.key_hash),
                 textCell(r.name)};
       }});
  out.push_back(
      {"Revoked serials seen",
       "revoked_serials",
       {{"SERIAL", "serial"},
        {"ANSWERS", "answers"},
        {"REVOKED AT", "revocation_time"},
        {"REASON", "revocation_reason"},
        {"FIRST SEEN", "first_seen"},
        {"LAST SEEN", "last_seen"},
        {"KEY HASH", "issuer_key_hash"},
        {"ISSUER", "issuer"},
        {"CLIENTS", "distinct_clients"},
        {"TOP CLIENTS", "clients"}},
       ordered(serials_.size(), all,
               [&](uint32_t x, uint32_t y) {
                 return std::tie(serials_[y].answers, issuers_[serials_[x].issuer].key_hash,
                                 serials_[x].serial) <
                        std::tie(serials_[x].answers, issuers_[serials_[y].issuer].key_hash,
                                 serials_[y].serial);
               }),
       [this](uint32_t i) -> std::vector<Cell> {
         const SerialRow& s = serials_[i];
         return {textCell(s.serial),
                 numberCell(s.answers),
                 textCell(revocationTimeText(s.revocation_ms)),
                 textCell(s.reason < 0 ? "" : reasons_[s.reason]),
                 textCell(timeText(s.first)),
                 textCell(timeText(s.last)),
                 textCell(issuers_[s.issuer].key_hash),
                 textCell(issuers_[s.issuer].name),
                 numberCell(s.clients.size()),
                 topClients(s)};
       }});
  out.push_back({"Clients still asking about revoked certificates",
                 "clients_with_revoked",
                 {{"CLIENT", "client"},
                  {"REVOKED ANSWERS", "revoked_answers"},
                  {"REVOKED SERIALS", "revoked_serials"},
                  {"LAST SEEN", "last_seen"}},
                 ordered(clients_.size(), all,
                         [&](uint32_t x, uint32_t y) {
                           return std::tie(clients_[y].answers, clients_[x].address) <
                                  std::tie(clients_[x].answers, clients_[y].address);
                         }),
                 [this, per_client = std::move(serials_per_client)](uint32_t i) {
                   return std::vector<Cell>{
                       textCell(clients_[i].address), numberCell(clients_[i].answers),
                       numberCell(per_client[i]), textCell(timeText(clients_[i].last))};
                 }});
  out.push_back({"Errors and stale answers by upstream",
                 "upstream_problems",
                 {{"UPSTREAM", "upstream"},
                  {"FQDN", "upstream_fqdn"},
                  {"ERRORS", "errors"},
                  {"STALE", "stale"},
                  {"ERRORS BY VALIDATION", "errors_by_validation"}},
                 ordered(upstreams_.size(), all,
                         [&](uint32_t x, uint32_t y) {
                           const uint64_t nx = upstreams_[x].errors + upstreams_[x].stale;
                           const uint64_t ny = upstreams_[y].errors + upstreams_[y].stale;
                           return std::tie(ny, upstreams_[x].upstream, upstreams_[x].fqdn) <
                                  std::tie(nx, upstreams_[y].upstream, upstreams_[y].fqdn);
                         }),
                 [this](uint32_t i) -> std::vector<Cell> {
                   const UpstreamRow& u = upstreams_[i];
                   return {textCell(u.upstream), textCell(u.fqdn), numberCell(u.errors),
                           numberCell(u.stale),
                           Cell{.type = Cell::kCounts, .counts = &u.errors_by_code}};
                 }});
  out.push_back(
      {"Answers under revoked issuers",
       "issuer_revoked",
       {{"ANSWERS", "answers"},
        {"LAST SEEN", "last_seen"},
        {"KEY HASH", "issuer_key_hash"},
        {"ISSUER", "issuer"}},
       ordered(
           issuers_.size(), [&](uint32_t i) { return issuers_[i].flagged > 0; },
           [&](uint32_t x, uint32_t y) {
             return std::tie(issuers_[y].flagged, issuers_[x].key_hash, issuers_[x].name) <
                    std::tie(issuers_[x].flagged, issuers_[y].key_hash, issuers_[y].name);
           }),
       [this](uint32_t i) -> std::vector<Cell> {
         return {numberCell(issuers_[i].flagged), textCell(timeText(issuers_[i].flagged_last)),
                 textCell(issuers_[i].key_hash), textCell(issuers_[i].name)};
       }});
  return out;
}

std::string Report::Impl::text() const {
  std::string out = "Revocation log report\n";
  const auto total = [&](std::string_view label, const std::string& value) {
    out += "  " + std::string(label) + std::string(20 - label.size(), ' ') + value + "\n";
  };
  const auto time = [](int64_t ms) { return ms == kNoTime ? "-" : rfc3339Ms(ms); };
  total("lines read", std::to_string(lines_));
  total("answers counted", std::to_string(answers_));
  if (options_.since_ms || options_.until_ms) {
    total("outside time range", std::to_string(outside_));
    total("time range", time(options_.since_ms.value_or(kNoTime)) + " .. " +
                            time(options_.until_ms.value_or(kNoTime)));
  }
  total("malformed lines", std::to_string(malformed_count_));
  for (const auto& [where, why] : malformed_) out += "    " + displayed(where + ": " + why) + "\n";
  if (malformed_count_ > malformed_.size()) {
    out += "    (+" + std::to_string(malformed_count_ - malformed_.size()) + " more)\n";
  }
  total("first answer", time(answers_ ? first_ : kNoTime));
  total("last answer", time(last_));

  out += "\nBy status\n";
  appendTable(out, {"",
                    "",
                    {{"STATUS", ""}, {"ANSWERS", ""}},
                    {kGood, kRevoked, kUnknown, kError},
                    [&](uint32_t i) -> std::vector<Cell> {
                      return {textCell(std::string(kStatusNames[i])), numberCell(by_status_[i])};
                    }});
  for (const Section& s : sections()) {
    out += "\n" + std::string(s.title) + " (" + std::to_string(s.ids.size()) + ")\n";
    appendTable(out, s);
  }
  return out;
}

std::string Report::Impl::json() const {
  JsonOut j;
  j.open('{');
  j.key("totals");
  j.open('{');
  j.member("lines", lines_);
  j.member("answers", answers_);
  j.member("outside_time_range", outside_);
  j.member("since", timeText(options_.since_ms.value_or(kNoTime)));
  j.member("until", timeText(options_.until_ms.value_or(kNoTime)));
  j.member("malformed", malformed_count_);
  j.key("malformed_lines");
  j.open('[');
  for (const auto& [where, why] : malformed_) {
    j.open('{');
    j.member("at", where);
    j.member("error", why);
    j.close('}');
  }
  j.close(']');
  j.member("first_time", timeText(answers_ ? first_ : kNoTime));
  j.member("last_time", timeText(last_));
  j.close('}');

  j.key("by_status");
  j.open('{');
  for (size_t i = 0; i < kStatusCount; ++i) j.member(kStatusNames[i], by_status_[i]);
  j.close('}');

  for (const Section& s : sections()) {
    j.key(s.key);
    j.open('[');
    for (uint32_t id : s.ids) {
      j.open('{');
      const auto cells = s.row(id);
      for (size_t i = 0; i < cells.size(); ++i) {
        j.key(s.columns[i].key);
        j.cell(cells[i]);
      }
      j.close('}');
    }
    j.close(']');
  }
  j.close('}');
  return std::move(j.str()) + "\n";
}

// ---------------------------------------------------------------------------------------------
// Public surface.

Report::Report(const Options& options) : impl_(std::make_unique<Impl>(options)) {}
Report::~Report() = default;
Report::Report(Report&&) noexcept = default;
Report& Report::operator=(Report&&) noexcept = default;
void Report::beginInput(std::string name) { impl_->beginInput(std::move(name)); }
void Report::feed(std::string_view bytes) { impl_->feed(bytes); }
void Report::endInput() { impl_->endInput(); }
std::string Report::text() const { return impl_->text(); }
std::string Report::json() const { return impl_->json(); }

bool Report::read(std::istream& in, std::string name) {
  beginInput(std::move(name));
  std::vector<char> buf(kReadChunkBytes);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    feed({buf.data(), static_cast<size_t>(in.gcount())});
  }
  endInput();
  return !in.bad();
}

Result<Options> parseArgs(int argc, const char* const* argv) {
  Options o;
  const auto usage = [](std::string msg) {
    return makeError(ErrorCategory::Config, "usage", std::move(msg));
  };
  bool only_files = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (only_files || arg == "-" || !arg.starts_with("-")) {
      o.files.emplace_back(arg);
    } else if (arg == "--") {
      only_files = true;
    } else if (arg == "--help" || arg == "-h") {
      o.help = true;
    } else if (arg == "--json") {
      o.json = true;
    } else {  // options with a value: "--name VALUE" or "--name=VALUE"
      const size_t eq = arg.find('=');
      const std::string_view name = arg.substr(0, eq);
      if (name != "--since" && name != "--until" && name != "--top") {
        return usage("unknown option: " + std::string(arg));
      }
      if (eq == std::string_view::npos && i + 1 == argc) {
        return usage(std::string(name) + " needs a value");
      }
      const std::string value(eq == std::string_view::npos ? argv[++i] : arg.substr(eq + 1));
      if (name == "--top") {
        const auto r = std::from_chars(value.data(), value.data() + value.size(), o.top_clients);
        if (r.ec != std::errc() || r.ptr != value.data() + value.size()) {
          return usage("--top needs a number, not \"" + value + "\"");
        }
        continue;
      }
      const auto t = parseTime(value, true);
      if (!t) {
        return usage(std::string(name) +
                     " needs an RFC 3339 time or a date (2026-11-23T00:00:00Z, 2026-11-23), "
                     "not \"" +
                     value + "\"");
      }
      (name == "--since" ? o.since_ms : o.until_ms) = *t;
    }
  }
  if (o.since_ms && o.until_ms && *o.since_ms >= *o.until_ms) {
    return usage("--since must be before --until");
  }
  return o;
}

int runReport(int argc, char** argv, std::ostream& out, std::ostream& err) {
  auto options = parseArgs(argc, argv);
  if (!options) {
    err << "ocsp-proxy report: " << options.error().detail << "\n\n" << kUsage;
    return 2;
  }
  if (options->help) {
    out << kUsage;
    return 0;
  }
  if (options->files.empty()) options->files.emplace_back("-");
  Report report(*options);
  for (const auto& path : options->files) {
    const bool is_stdin = path == "-";
    std::ifstream file;
    std::error_code ec;
    errno = 0;
    if (!is_stdin && std::filesystem::is_directory(path, ec)) {
      errno = EISDIR;
    } else if (!is_stdin) {
      file.open(path, std::ios::binary);
    }
    std::istream& in = is_stdin ? std::cin : file;
    if ((!is_stdin && !file.is_open()) || !report.read(in, is_stdin ? "stdin" : path)) {
      err << "ocsp-proxy report: cannot read " << (is_stdin ? "stdin" : path) << ": "
          << std::strerror(errno != 0 ? errno : EIO) << "\n";
      return 1;
    }
  }
  out << (options->json ? report.json() : report.text());
  out.flush();
  return out ? 0 : 1;
}

int runReport(int argc, char** argv) { return runReport(argc, argv, std::cout, std::cerr); }

}  // namespace ocsp::report
