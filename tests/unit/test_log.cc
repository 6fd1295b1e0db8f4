#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
// The logfmt log (core/log.h) and the JSON escaping (core/json.h) follow one rule for bytes
// that are not text (core/utf8.h): well-formed UTF-8 stays, anything else becomes \xNN.
#include <doctest/doctest.h>

#include <string>

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
