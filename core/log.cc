#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "core/utf8.h"

namespace ocsp {

namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::Info)};

const char* levelName(LogLevel l) {
  switch (l) {
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warn: return "warn";
    case LogLevel::Error: return "error";
  }
  return "info";
}

// Plain: printable ASCII but space, '"', '=' and '\\', and well-formed UTF-8 (core/utf8.h).
bool needsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (size_t i = 0; i < v.size();) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c < 0x80) {
      if (c <= 0x20 || c == 0x7f || c == '"' || c == '=' || c == '\\') return true;
      ++i;
      continue;
    }
    const size_t n = utf8SequenceLength(v.substr(i));
    if (n == 0) return true;
    i += n;
  }
  return false;
}

// Quoted values escape '"' and '\\' with a backslash, and control characters and bytes that
// are not well-formed UTF-8 as \xNN (the rule of core/utf8.h).
void appendValue(std::string& out, std::string_view v) {
  if (!needsQuotes(v)) {
    out.append(v);
    return;
  }
  out.push_back('"');
  for (size_t i = 0; i < v.size();) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      appendByteEscape(out, c);
      ++i;
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (const size_t n = utf8SequenceLength(v.substr(i)); n != 0) {
      out.append(v.substr(i, n));
      i += n;
    } else {
      appendByteEscape(out, c);
      ++i;
    }
  }
  out.push_back('"');
}

struct tm utc(int64_t epoch_s) {
  time_t t = static_cast<time_t>(epoch_s);
  struct tm tm {};
  gmtime_r(&t, &tm);
  return tm;
}
}  // namespace

bool parseLogLevel(std::string_view s, LogLevel* out) {
  static const std::pair<std::string_view, LogLevel> table[] = {
      {"debug", LogLevel::Debug}, {"info", LogLevel::Info},
      {"warn", LogLevel::Warn},   {"error", LogLevel::Error}};
  for (const auto& [name, level] : table) {
    if (s == name) {
      *out = level;
      return true;
    }
  }
  return false;
}

void setLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
bool logEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(); }

namespace {
void writeEvent(LogLevel level, std::string_view event, std::initializer_list<LogField> fields,
                uint64_t suppressed) {
  std::string line = rfc3339NowMs();
  line += " level=";
  line += levelName(level);
  line += " event=";
  appendValue(line, event);
  for (const auto& [k, v] : fields) {
    line.push_back(' ');
    line.append(k);
    line.push_back('=');
    appendValue(line, v);
  }
  if (suppressed != 0) {
    line += " suppressed=";
    line += std::to_string(suppressed);
  }
  line.push_back('\n');
  // One write per line: lines from different threads never interleave.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}
}  // namespace

void logEvent(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
  if (!logEnabled(level)) return;
  writeEvent(level, event, fields, 0);
}

bool LogRateLimit::admit(int64_t now_ms, uint64_t* suppressed) {
  const int64_t second = now_ms / 1000;
  std::lock_guard<std::mutex> lock(mu_);
  if (second != second_) {
    second_ = second;
    lines_ = 0;
  }
  if (lines_ >= per_second_) {
    ++held_;
    return false;
  }
  ++lines_;
  *suppressed = held_;
  held_ = 0;
  return true;
}

void logEventLimited(LogRateLimit& limit, LogLevel level, std::string_view event,
                     std::initializer_list<LogField> fields) {
  if (!logEnabled(level)) return;
  using namespace std::chrono;
  const int64_t now_ms =
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  uint64_t suppressed = 0;
  if (!limit.admit(now_ms, &suppressed)) return;
  writeEvent(level, event, fields, suppressed);
}

std::string rfc3339NowMs() {
  using namespace std::chrono;
  return rfc3339Ms(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

std::string rfc3339Ms(int64_t epoch_ms) {
  struct tm tm = utc(epoch_ms / 1000);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(epoch_ms % 1000));
  return buf;
}

std::string rfc3339(int64_t epoch_s) {
  struct tm tm = utc(epoch_s);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {
const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
}  // namespace

std::string httpDate(int64_t epoch_s) {
  char out[29];
  if (httpDateInto(epoch_s, out)) return std::string(out, sizeof(out));
  // Outside what four digits show: printf pads or widens.
  struct tm tm = utc(epoch_s);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

bool httpDateInto(int64_t epoch_s, char (&out)[29]) {
  struct tm tm = utc(epoch_s);
  const int year = tm.tm_year + 1900;
  if (year < 0 || year > 9999) return false;
  // By hand: two of these per Redis hit, where printf showed.
  auto two = [](char* at, int v) {
    at[0] = static_cast<char>('0' + v / 10);
    at[1] = static_cast<char>('0' + v % 10);
  };
  std::memcpy(out, kDays[tm.tm_wday], 3);
  out[3] = ',';
  out[4] = ' ';
  two(out + 5, tm.tm_mday);
  out[7] = ' ';
  std::memcpy(out + 8, kMonths[tm.tm_mon], 3);
  out[11] = ' ';
  two(out + 12, year / 100);
  two(out + 14, year % 100);
  out[16] = ' ';
  two(out + 17, tm.tm_hour);
  out[19] = ':';
  two(out + 20, tm.tm_min);
  out[22] = ':';
  two(out + 23, tm.tm_sec);
  std::memcpy(out + 25, " GMT", 4);
  return true;
}

int64_t parseHttpDate(std::string_view text) {
  std::string copy(text);
  struct tm tm {};
  const char* end = strptime(copy.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return -1;
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace ocsp
