// The distrust list and its stages (docs/ARCHITECTURE.md §9); see conf/config_distrust.h for
// the schedule's rules and which phase checks what.
#include "conf/config_distrust.h"

#include "conf/config_watch.h"
#include "conf/value_parsers.h"
#include "core/log.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <utility>

namespace ocsp::conf {

namespace {

// --- Dates -----------------------------------------------------------------------------------

// Days from 1970-01-01 to year-month-day in the proleptic Gregorian calendar.
int64_t daysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int daysInMonth(int64_t y, int64_t m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// `n` digits at s[at], as a number; nullopt if any is not a digit.
std::optional<int64_t> digits(const std::string& s, size_t at, size_t n) {
  if (at + n > s.size()) return std::nullopt;
  int64_t v = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// --- The entry as written --------------------------------------------------------------------

Result<int64_t> distrustDate(Loader& l, const Item& v) {
  auto s = text(l, v);
  if (!s.ok()) return s.error();
  auto t = parseDistrustDate(*s);
  if (!t) {
    return l.fail(v, "not a date (expected YYYY-MM-DD, 00:00 UTC, or an RFC 3339 time such as "
                     "2027-03-01T08:00:00Z): " + inQuotes(*s));
  }
  return *t;
}

Result<Cidr> cidrBlock(Loader& l, const Item& v) {
  auto s = text(l, v);
  if (!s.ok()) return s.error();
  CidrParse parsed = parseCidr(*s);
  if (!parsed.cidr) return l.fail(v, parsed.error + ": " + inQuotes(*s));
  return *parsed.cidr;
}

const Schema<DistrustClientGroup>& clientGroupSchema() {
  static const Schema<DistrustClientGroup> schema = {
      field("name", &DistrustClientGroup::name, plainName, Need::Required),
      field("cidrs", &DistrustClientGroup::cidrs, listOf(cidrBlock), Need::Required),
      field("enforce_from", &DistrustClientGroup::enforce_from, distrustDate, Need::Required),
  };
  return schema;
}

// "0f1e..." or "0F:1E:...": hex digits in pairs, colons (if any) between every pair.
std::optional<std::string> decodeHex(const std::string& s) {
  const bool colons = s.find(':') != std::string::npos;
  const size_t step = colons ? 3 : 2;
  if (s.empty() || (s.size() + (colons ? 1 : 0)) % step != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < s.size(); i += step) {
    if (colons && i + 2 < s.size() && s[i + 2] != ':') return std::nullopt;
    const unsigned char hi = static_cast<unsigned char>(s[i]);
    const unsigned char lo = static_cast<unsigned char>(s[i + 1]);
    if (!std::isxdigit(hi) || !std::isxdigit(lo)) return std::nullopt;
    unsigned byte = 0;
    std::from_chars(s.data() + i, s.data() + i + 2, byte, 16);  // two hex digits, checked above
    out += static_cast<char>(byte);
  }
  return out;
}

// 32 raw bytes.
Result<std::string> spkiSha256(Loader& l, const Item& v) {
  auto s = text(l, v);
  if (!s.ok()) return s;
  auto bytes = decodeHex(*s);
  if (!bytes) {
    return l.fail(v, "not hex (expected 64 hex digits, optionally with colons between bytes): " +
                         inQuotes(*s));
  }
  if (bytes->size() != 32) {
    return l.fail(v, "expected 32 bytes (a SHA-256 hash), got " + std::to_string(bytes->size()) +
                         ": " + inQuotes(*s));
  }
  return *bytes;
}

// One distrust entry as written.
struct DistrustSpec {
  std::string name;
  std::optional<CertFile> cert;
  std::optional<std::string> spki_sha256;
  std::optional<DistrustStage> mode;
  std::optional<int64_t> enforce_from;
  std::vector<DistrustClientGroup> clients;
};

const Schema<DistrustSpec>& distrustSchema() {
  static const Schema<DistrustSpec> schema = {
      field("name", &DistrustSpec::name, plainName, Need::Required),  // a log field and label
      field("cert", &DistrustSpec::cert, certificateFile),  // every certificate in the file
      field("spki_sha256", &DistrustSpec::spki_sha256, spkiSha256),
      field("mode", &DistrustSpec::mode,
            oneOf<DistrustStage>({{"log", DistrustStage::Log},
                                  {"warn", DistrustStage::Warn},
                                  {"enforce", DistrustStage::Enforce}})),
      field("enforce_from", &DistrustSpec::enforce_from, distrustDate),
      field("clients", &DistrustSpec::clients, listOf(mapOf(clientGroupSchema()))),
  };
  return schema;
}

// The schedule's rules (conf/config_distrust.h) across the entry's keys.
Result<DistrustSchedule> scheduleOf(Loader& l, const Item& v, DistrustSpec& spec) {
  DistrustSchedule s;
  s.mode = spec.mode.value_or(DistrustStage::Enforce);
  s.enforce_from = spec.enforce_from;
  const bool staged = s.mode != DistrustStage::Enforce;
  if (s.enforce_from && !staged) {
    if (spec.mode) {
      return l.failAt(join(v.path, "mode"),
                      "must be log or warn with enforce_from (from that date on the entry "
                      "enforces)");
    }
    return l.failAt(join(v.path, "enforce_from"),
                    "needs mode: log or warn (the stage before this date)");
  }
  if (!spec.clients.empty() && !s.enforce_from) {
    return l.failAt(join(v.path, "clients"),
                    "needs enforce_from on the entry (a group keeps mode until a later date)");
  }
  for (size_t i = 0; i < spec.clients.size(); ++i) {
    const std::string at = indexed(join(v.path, "clients"), i);
    const DistrustClientGroup& group = spec.clients[i];
    for (size_t k = 0; k < i; ++k) {
      if (spec.clients[k].name == group.name) {
        return l.failAt(at + ".name", "duplicate group name " + inQuotes(group.name));
      }
    }
    if (group.enforce_from < *s.enforce_from) {
      return l.failAt(at + ".enforce_from", "is earlier than " + join(v.path, "enforce_from") +
                                                " (" + rfc3339(*s.enforce_from) + ")");
    }
  }
  s.clients = std::move(spec.clients);
  return s;
}

std::string spkiSha256Of(X509* cert) {
  return sha256(toDer(X509_get_X509_PUBKEY(cert), i2d_X509_PUBKEY));
}

// One entry -> one Distrusted per key. A key found twice in one file (a re-issued or
// cross-signed CA certificate) is kept once.
Result<std::vector<Distrusted>> distrustEntry(Loader& l, const Item& v) {
  auto spec = mapOf(distrustSchema())(l, v);
  if (!spec.ok()) return spec.error();
  const std::string cert_path = join(v.path, "cert");
  if (!spec->cert && !spec->spki_sha256) {
    return l.fail(v, "one of cert or spki_sha256 is required");
  }
  if (spec->cert && spec->spki_sha256) {
    return l.failAt(join(v.path, "spki_sha256"),
                    "conflicts with " + cert_path + " (set exactly one of cert, spki_sha256)");
  }
  auto schedule = scheduleOf(l, v, *spec);
  if (!schedule.ok()) return schedule.error();
  std::vector<Distrusted> out;
  if (spec->spki_sha256) {
    out.push_back(Distrusted{spec->name, std::move(*spec->spki_sha256), "", *schedule});
    return out;
  }
  for (const auto& cert : spec->cert->certs) {
    std::string spki = spkiSha256Of(cert.get());
    bool seen = std::any_of(out.begin(), out.end(),
                            [&](const Distrusted& d) { return d.spki_sha256 == spki; });
    if (!seen) {
      out.push_back(Distrusted{spec->name, std::move(spki), subjectLine(cert.get()), *schedule});
    }
  }
  return out;
}

}  // namespace

const char* distrustStageName(DistrustStage stage) {
  switch (stage) {
    case DistrustStage::Log: return "log";
    case DistrustStage::Warn: return "warn";
    case DistrustStage::Enforce: return "enforce";
  }
  return "enforce";
}

std::optional<int64_t> enforceFromFor(const DistrustSchedule& schedule, const IpAddress* client) {
  if (client != nullptr) {
    for (const DistrustClientGroup& group : schedule.clients) {
      for (const Cidr& block : group.cidrs) {
        if (cidrContains(block, *client)) return group.enforce_from;
      }
    }
  }
  return schedule.enforce_from;
}

DistrustStage distrustStageAt(const DistrustSchedule& schedule, const IpAddress* client,
                              int64_t now) {
  const std::optional<int64_t> from = enforceFromFor(schedule, client);
  if (!from) return schedule.mode;
  return now >= *from ? DistrustStage::Enforce : schedule.mode;
}

DistrustSchedules distrustSchedules(const std::vector<Distrusted>& list) {
  DistrustSchedules out;
  for (const Distrusted& d : list) out.emplace(d.name, d.schedule);
  return out;
}

DistrustDecision decideDistrust(const DistrustSchedules& schedules, const std::string& name,
                                std::string_view client_address, int64_t now) {
  auto schedule = schedules.find(name);
  if (schedule == schedules.end()) return {DistrustStage::Enforce, std::nullopt};
  const std::optional<IpAddress> client = parseIpAddress(client_address);
  const IpAddress* address = client ? &*client : nullptr;
  return {distrustStageAt(schedule->second, address, now),
          enforceFromFor(schedule->second, address)};
}

DistrustStage groupStageAt(const DistrustSchedule& schedule, const DistrustClientGroup& group,
                           int64_t now) {
  return now >= group.enforce_from ? DistrustStage::Enforce : schedule.mode;
}

std::optional<int64_t> parseDistrustDate(const std::string& s) {
  auto year = digits(s, 0, 4);
  auto month = digits(s, 5, 2);
  auto day = digits(s, 8, 2);
  if (!year || !month || !day || s[4] != '-' || s[7] != '-' || *month < 1 || *month > 12 ||
      *day < 1 || *day > daysInMonth(*year, *month)) {
    return std::nullopt;
  }
  const int64_t date = daysFromCivil(*year, *month, *day) * 86400;
  if (s.size() == 10) return date;
  // RFC 3339 §5.6: "T" HH:MM:SS [.fraction] ("Z" | ("+"|"-") HH:MM); T and Z in either case.
  auto hour = digits(s, 11, 2);
  auto minute = digits(s, 14, 2);
  auto second = digits(s, 17, 2);
  if ((s[10] != 'T' && s[10] != 't') || !hour || !minute || !second || s[13] != ':' ||
      s[16] != ':' || *hour > 23 || *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  int64_t t = date + *hour * 3600 + *minute * 60 + *second;
  size_t at = 19;
  if (at < s.size() && s[at] == '.') {
    const size_t first = ++at;
    bool fraction = false;
    while (at < s.size() && std::isdigit(static_cast<unsigned char>(s[at]))) {
      fraction = fraction || s[at] != '0';
      ++at;
    }
    if (at == first) return std::nullopt;
    if (fraction) ++t;  // never enforce before the instant written
  }
  if (at + 1 == s.size() && (s[at] == 'Z' || s[at] == 'z')) return t;
  auto off_h = digits(s, at + 1, 2);
  auto off_m = digits(s, at + 4, 2);
  if (at + 6 != s.size() || (s[at] != '+' && s[at] != '-') || !off_h || !off_m ||
      s[at + 3] != ':' || *off_h > 23 || *off_m > 59) {
    return std::nullopt;
  }
  const int64_t offset = *off_h * 3600 + *off_m * 60;
  return s[at] == '+' ? t - offset : t + offset;  // local time minus its offset is UTC
}

void logPastEnforcement(const std::vector<Distrusted>& list, int64_t now) {
  for (size_t i = 0; i < list.size(); ++i) {
    if (i > 0 && list[i - 1].name == list[i].name) continue;  // the keys of one entry
    const DistrustSchedule& s = list[i].schedule;
    if (s.enforce_from && *s.enforce_from <= now) {
      logEvent(LogLevel::Info, "distrust_enforced",
               {{"distrust", list[i].name}, {"since", rfc3339(*s.enforce_from)}});
    }
    for (const DistrustClientGroup& group : s.clients) {
      if (group.enforce_from > now) continue;
      logEvent(LogLevel::Info, "distrust_enforced",
               {{"distrust", list[i].name}, {"group", group.name},
                {"since", rfc3339(group.enforce_from)}});
    }
  }
}

Result<std::vector<Distrusted>> distrustList(Loader& l, const Item& v) {
  auto entries = listOf(distrustEntry)(l, v);
  if (!entries.ok()) return entries.error();
  std::vector<Distrusted> all;
  std::map<std::string, std::string> owner;  // key -> name of the entry that distrusts it
  for (size_t i = 0; i < entries->size(); ++i) {
    const std::string at = indexed(v.path, i);
    std::vector<Distrusted>& keys = (*entries)[i];
    const std::string name = keys.front().name;  // copied: the keys are moved out below
    bool named_before =
        std::any_of(all.begin(), all.end(), [&](const Distrusted& d) { return d.name == name; });
    if (named_before) return l.failAt(at + ".name", "duplicate distrust name " + inQuotes(name));
    // Two names for one key would make the log line and the metric label depend on order.
    for (auto& key : keys) {
      auto [it, first] = owner.emplace(key.spki_sha256, name);
      if (!first) {
        if (key.subject.empty()) {
          return l.failAt(at + ".spki_sha256",
                          "key is already distrusted by " + inQuotes(it->second));
        }
        return l.failAt(at + ".cert", "key of " + inQuotes(key.subject) +
                                          " is already distrusted by " + inQuotes(it->second));
      }
      all.push_back(std::move(key));
    }
  }
  return all;
}

}  // namespace ocsp::conf
