#include "tools/log_record.h"

#include <algorithm>
#include <charconv>

#include "core/log.h"
#include "core/utf8.h"

namespace ocsp::report {
namespace {

constexpr int kMaxNesting = 32;  // inside ignored fields
constexpr int64_t kMsPerDay = 86'400'000;

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

}  // namespace

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

std::string timeText(int64_t ms) { return ms == kNoTime ? "" : rfc3339Ms(ms); }
std::string revocationTimeText(int64_t ms) {
  return ms == kNoTime ? "" : ms % 1000 == 0 ? rfc3339(ms / 1000) : rfc3339Ms(ms);
}

namespace {

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

// Why a line was refused (kTooLong is in the header).
constexpr Fault kNotObject = "not a JSON object";
constexpr Fault kTruncated = "truncated JSON";
constexpr Fault kSyntax = "JSON syntax error";
constexpr Fault kBadEscape = "bad escape";
constexpr Fault kControlChar = "control character in string";
constexpr Fault kTooDeep = "nesting too deep";
constexpr Fault kDuplicate = "duplicate field";
constexpr Fault kMissing = "missing field";
constexpr Fault kWrongType = "wrong type for field";
constexpr Fault kBadValue = "bad value for field";

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) return out.push_back(static_cast<char>(cp));
  static constexpr unsigned char kLead[] = {0, 0xC0, 0xE0, 0xF0};  // by continuation bytes
  const int tail = cp < 0x800 ? 1 : cp < 0x10000 ? 2 : 3;
  out.push_back(static_cast<char>(kLead[tail] | (cp >> (6 * tail))));
  for (int i = tail - 1; i >= 0; --i) {
    out.push_back(static_cast<char>(0x80 | ((cp >> (6 * i)) & 0x3F)));
  }
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
  bool invalidUtf8() const { return invalid_utf8_; }

  Problem parse(std::string_view line, Values& values) {
    s_ = line;
    at_ = 0;
    invalid_utf8_ = false;
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
      const size_t n = utf8SequenceLength(s_.substr(at_));
      if (n == 0) {
        // Raw bytes that are not UTF-8 (written by proxies before they escaped them): shown
        // as \xNN, the form the proxy writes now (core/utf8.h), and counted by the caller.
        if (!escaped) scratch->assign(s_.substr(start, at_ - start));
        escaped = true;
        appendByteEscape(*scratch, c);
        invalid_utf8_ = true;
        ++at_;
        continue;
      }
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
  bool invalid_utf8_ = false;
  std::array<std::string, kFieldCount> scratch_;
  std::string key_scratch_;
  std::string ignored_scratch_;
};

// The known fields -> the answer, each checked against the schema and its enumeration.
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

}  // namespace

std::string describe(const Problem& p) {
  std::string out = p.fault;
  if (p.field >= 0) out += " \"" + std::string(kSchema[p.field].name) + "\"";
  if (p.column > 0) out += " at column " + std::to_string(p.column);
  return out;
}

std::string_view clientAddress(std::string_view c) {
  if (c.starts_with('[')) {
    const size_t close = c.find(']');
    return close == std::string_view::npos ? c : c.substr(1, close - 1);
  }
  const size_t colon = c.rfind(':');
  return colon != std::string_view::npos && c.find(':') == colon ? c.substr(0, colon) : c;
}

class LogRecordParser::Impl {
 public:
  LineParser parser;
  Values values;
};

LogRecordParser::LogRecordParser() : impl_(std::make_unique<Impl>()) {}
LogRecordParser::~LogRecordParser() = default;

Problem LogRecordParser::parse(std::string_view line, Answer& answer) {
  Problem p = impl_->parser.parse(line, impl_->values);
  if (!p.fault) p = checkAnswer(impl_->values, answer);
  answer.invalid_utf8 = impl_->parser.invalidUtf8();
  return p;
}

}  // namespace ocsp::report
