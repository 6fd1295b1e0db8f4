#include "core/revocation_record.h"

#include <openssl/objects.h>

#include <algorithm>
#include <cassert>
#include <charconv>

#include "core/json.h"
#include "core/log.h"
#include "core/ossl.h"
#include "core/utf8.h"

namespace ocsp {

namespace {

// Writes the fields of one line in the table's order: each field's name comes from the table,
// and a field written out of order (or of another type) stops a debug build.
class LineWriter {
 public:
  explicit LineWriter(std::string& out) : out_(out) { out_.push_back('{'); }
  ~LineWriter() {
    assert(next_ == record::kFieldCount);
    out_.push_back('}');
  }

  void string(record::Field f, std::string_view value) {
    name(f, record::Kind::String);
    appendJsonString(out_, value);
  }
  void nullableString(record::Field f, const char* value) {
    if (value == nullptr) {
      assert(record::kFields[f].nullable);
      name(f, record::Kind::Null);
      out_ += "null";
    } else {
      string(f, value);
    }
  }
  void boolean(record::Field f, bool value) {
    name(f, record::Kind::Bool);
    out_ += value ? "true" : "false";
  }
  void integer(record::Field f, int64_t value) {
    name(f, record::Kind::Integer);
    out_ += std::to_string(value);
  }

 private:
  void name(record::Field f, [[maybe_unused]] record::Kind kind) {
    assert(f == next_ && (kind == record::Kind::Null || kind == record::kFields[f].kind));
    ++next_;
    if (f != 0) out_.push_back(',');
    out_.push_back('"');
    out_ += record::kFields[f].name;
    out_ += "\":";
  }

  std::string& out_;
  size_t next_ = 0;
};

}  // namespace

const char* crlReasonName(int reason) {
  // RFC 5280 §5.3.1; 7 is not used.
  static const char* names[] = {"unspecified",          "keyCompromise",  "cACompromise",
                                "affiliationChanged",   "superseded",     "cessationOfOperation",
                                "certificateHold",      nullptr,          "removeFromCRL",
                                "privilegeWithdrawn",   "aACompromise"};
  if (reason < 0 || reason >= static_cast<int>(sizeof(names) / sizeof(names[0]))) return nullptr;
  return names[reason];
}

namespace {
// An answer the CRL bridge built just now reached the front from below the caches, as an
// upstream's does; its origin tells them apart (docs/ARCHITECTURE.md §8). Served later from a
// cache it says memory, redis or stale, with upstream_fqdn crl-bridge.
const char* sourceName(AnswerSource source, std::string_view upstream_fqdn) {
  if (source == AnswerSource::Upstream && upstream_fqdn == kCrlBridgeOrigin) return "crl";
  return answerSourceName(source);
}
}  // namespace

std::string formatRevocationRecord(const RevocationRecord& r) {
  using namespace record;
  std::string out;
  out.reserve(512);
  {
    LineWriter w(out);
    w.string(kTime, rfc3339Ms(r.time_ms));
    w.string(kClient, r.client);
    w.string(kMode, modeName(r.mode));
    w.string(kUpstream, r.upstream);
    w.string(kUpstreamFqdn, r.upstream_fqdn);
    w.string(kIssuer, r.issuer);
    const bool have_id = r.cert_id != nullptr;
    w.string(kIssuerKeyHash, have_id ? toHex(r.cert_id->issuer_key_hash) : "");
    w.string(kHash, have_id ? OBJ_nid2ln(r.cert_id->hash_nid) : "");  // "sha1", "sha256"
    w.string(kSerial, have_id ? toHex(r.cert_id->serial) : "");
    const bool error = !r.error.empty();
    w.string(kStatus, error ? "error" : certStatusName(r.status));
    const bool revoked = !error && r.status == CertStatus::Revoked && r.revocation;
    const std::string when = revoked ? rfc3339(r.revocation->time) : "";
    w.nullableString(kRevocationTime, revoked ? when.c_str() : nullptr);
    w.nullableString(kRevocationReason, revoked ? crlReasonName(r.revocation->reason) : nullptr);
    w.nullableString(kSource, !error && r.source ? sourceName(*r.source, r.upstream_fqdn) : nullptr);
    w.string(kValidation, error         ? "error:" + std::string(r.error)
                          : r.validated ? "ok"
                                        : "unvalidated");
    w.boolean(kIssuerRevoked, r.issuer_revoked);
    w.integer(kLatencyMs, r.latency_ms);
  }
  return out;
}

namespace record {
namespace {

constexpr int kMaxNesting = 32;  // inside ignored fields

// Why a line was refused (kTooLong and kBadValue are in the header).
constexpr Fault kNotObject = "not a JSON object";
constexpr Fault kTruncated = "truncated JSON";
constexpr Fault kSyntax = "JSON syntax error";
constexpr Fault kBadEscape = "bad escape";
constexpr Fault kControlChar = "control character in string";
constexpr Fault kTooDeep = "nesting too deep";
constexpr Fault kDuplicate = "duplicate field";
constexpr Fault kMissing = "missing field";
constexpr Fault kWrongType = "wrong type for field";

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
class Parser {
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
        if (index == kFieldCount || kFields[index].name != key) {
          index =
              static_cast<size_t>(std::find_if(kFields.begin(), kFields.end(),
                                               [&](const FieldSpec& f) { return f.name == key; }) -
                                  kFields.begin());
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

}  // namespace

std::string describe(const Problem& p) {
  std::string out = p.fault;
  if (p.field >= 0) out += " \"" + std::string(kFields[p.field].name) + "\"";
  if (p.column > 0) out += " at column " + std::to_string(p.column);
  return out;
}

class LineParser::Impl {
 public:
  Parser parser;
};

LineParser::LineParser() : impl_(std::make_unique<Impl>()) {}
LineParser::~LineParser() = default;

bool LineParser::invalidUtf8() const { return impl_->parser.invalidUtf8(); }

Problem LineParser::parse(std::string_view line, Values& values) {
  Problem p = impl_->parser.parse(line, values);
  if (p.fault) return p;
  // Every field of the table, once, of its type.
  for (size_t i = 0; i < kFieldCount; ++i) {
    const int field = static_cast<int>(i);
    if (values[i].kind == Kind::Absent) return Problem{kMissing, 0, field};
    if (values[i].kind != kFields[i].kind && !(kFields[i].nullable && values[i].kind == Kind::Null)) {
      return Problem{kWrongType, 0, field};
    }
  }
  return {};
}

}  // namespace record
}  // namespace ocsp
