#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
// The logfmt log (core/log.h) and the JSON escaping (core/json.h) follow one rule for bytes
// that are not text (core/utf8.h): well-formed UTF-8 stays, anything else becomes \xNN.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>

#include "core/json.h"
#include "core/log.h"
#include "core/utf8.h"
#include "tests/unit/test_util.h"

namespace ocsp {
namespace {

// The line logEvent writes for one field, without its time stamp.
std::string logged(std::string_view value) {
  test::StderrCapture capture;
  logEvent(LogLevel::Warn, "forward_refused", {{"host", value}});
  std::string line = capture.text();
  const size_t from = line.find(" level=");
  REQUIRE(from != std::string::npos);
  return line.substr(from + 1);
}

TEST_CASE("a logfmt value keeps UTF-8 and escapes invalid bytes and control characters as \\xNN") {
  struct Case {
    std::string value, field;
  };
  const Case cases[] = {
      {"ocsp.example.com", "host=ocsp.example.com"},
      {"caf\xc3\xa9.example", "host=caf\xc3\xa9.example"},  // UTF-8 needs no quotes
      {"caf\xe9.example", "host=\"caf\\xe9.example\""},      // Latin-1: not UTF-8
      {"\x80\xbf", "host=\"\\x80\\xbf\""},                    // lone continuation bytes
      {"\xc0\xaf", "host=\"\\xc0\\xaf\""},                    // overlong '/'
      {"\xed\xa0\x80", "host=\"\\xed\\xa0\\x80\""},           // a surrogate
      {"\xf0\x9f\x98", "host=\"\\xf0\\x9f\\x98\""},           // cut short
      {"a\nlevel=error event=forged", "host=\"a\\x0alevel=error event=forged\""},
      {"tab\there\x7f", "host=\"tab\\x09here\\x7f\""},
      {"say \"hi\" \\x41", "host=\"say \\\"hi\\\" \\\\x41\""},  // a literal \x stays apart
      {"", "host=\"\""},
  };
  for (const Case& c : cases) {
    CAPTURE(c.field);
    CHECK(logged(c.value) == "level=warn event=forward_refused " + c.field + "\n");
  }
}

TEST_CASE("a JSON string keeps UTF-8 and writes invalid bytes as the text \\xNN") {
  CHECK(jsonString("caf\xc3\xa9") == "\"caf\xc3\xa9\"");
  CHECK(jsonString("caf\xe9") == "\"caf\\\\xe9\"");
  CHECK(jsonString("\xff\xfe") == "\"\\\\xff\\\\xfe\"");
  CHECK(jsonString("\xf0\x9f\x98\x80") == "\"\xf0\x9f\x98\x80\"");
  CHECK(jsonString("a\nb\x01\x7f") == "\"a\\nb\\u0001\\u007f\"");
  CHECK(jsonString("q\"\\") == "\"q\\\"\\\\\"");
}

TEST_CASE("a rate-limited event lets out its budget each second and then says how many it held back") {
  LogRateLimit limit(3);
  const int64_t t0 = 1'795'000'000'000;
  uint64_t suppressed = 99;
  int out = 0;
  for (int i = 0; i < 100; ++i) {
    if (limit.admit(t0 + i, &suppressed)) {
      CHECK(suppressed == 0);
      ++out;
    }
  }
  CHECK(out == 3);
  CHECK(limit.admit(t0 + 1'000, &suppressed));
  CHECK(suppressed == 97);
  CHECK(limit.admit(t0 + 1'001, &suppressed));
  CHECK(suppressed == 0);
}

TEST_CASE("a flood of one event writes its budget of lines, and a later line carries suppressed=K") {
  LogRateLimit limit;
  test::StderrCapture capture;
  for (int i = 0; i < 1000; ++i) {
    logEventLimited(limit, LogLevel::Warn, "unknown_issuer", {{"serial", std::to_string(i)}});
  }
  // A second's budget, or two if the loop crossed a second.
  const int lines = capture.count({"event=unknown_issuer"});
  CHECK(lines >= LogRateLimit::kDefaultPerSecond);
  CHECK(lines <= 2 * LogRateLimit::kDefaultPerSecond);
  std::this_thread::sleep_for(std::chrono::milliseconds(1'100));
  logEventLimited(limit, LogLevel::Warn, "unknown_issuer", {{"serial", "last"}});
  CHECK(capture.count({"event=unknown_issuer", "serial=last", "suppressed="}) == 1);
  // Every event is either a line or counted in a suppressed= of a later line.
  uint64_t suppressed = 0;
  const std::string text = capture.text();
  for (size_t at = text.find(" suppressed="); at != std::string::npos;
       at = text.find(" suppressed=", at + 1)) {
    suppressed += std::stoull(text.substr(at + 12));
  }
  CHECK(suppressed + static_cast<uint64_t>(lines) == 1000);
}

TEST_CASE("UTF-8 sequence lengths follow RFC 3629") {
  CHECK(utf8SequenceLength("") == 0);
  CHECK(utf8SequenceLength("a") == 1);
  CHECK(utf8SequenceLength("\xc3\xa9") == 2);
  CHECK(utf8SequenceLength("\xe2\x82\xac") == 3);
  CHECK(utf8SequenceLength("\xf4\x8f\xbf\xbf") == 4);
  CHECK(utf8SequenceLength("\xf4\x90\x80\x80") == 0);  // past U+10FFFF
  CHECK(utf8SequenceLength("\xc1\xbf") == 0);          // overlong
  CHECK(utf8SequenceLength("\xe0\x80\xaf") == 0);      // overlong
  CHECK(utf8SequenceLength("\xed\xbf\xbf") == 0);      // surrogate
  CHECK(utf8SequenceLength("\xc3") == 0);              // cut short
}

}  // namespace
}  // namespace ocsp
