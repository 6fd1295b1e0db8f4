#include "tools/log_record.h"

#include <algorithm>
#include <charconv>

#include "core/log.h"

namespace ocsp::report {
namespace {

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

bool isModeName(std::string_view name) {
  for (Mode m : {Mode::Responder, Mode::Forward, Mode::Transparent}) {
    if (name == modeName(m)) return true;
  }
  return false;
}

// The fields (each of its type) -> the answer, each checked against its enumeration.
Problem checkAnswer(const record::Values& v, Answer& a) {
  using namespace record;
  const auto bad = [](Fault f, Field field) { return Problem{f, 0, field}; };
  const auto time = parseTime(v[kTime].str, false);
  if (!time) return bad(kBadValue, kTime);
  a.time_ms = *time;
  if (!isModeName(v[kMode].str)) return bad(kBadValue, kMode);
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
      source != "upstream" && source != "stale" && source != "crl") {
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
  record::LineParser parser;
  record::Values values;
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
