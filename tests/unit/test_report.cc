#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
// `ocsp-proxy report` (docs/ARCHITECTURE.md §10): logs written here line by line, the exact report
// for a small one, the rules for malformed lines, time filters, inputs and the command line, and a
// timed run over a million lines.
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/sanitizers.h"
#include "tests/unit/log_lines.h"
#include "tools/report.h"

namespace ocsp::report {
namespace {

using testing::Entry;
using testing::kDigiCert;
using testing::run;
using testing::Run;

// CN=Quo"Vadis" é, escaped two different ways (the report must see one issuer).
const char* const kQuoVadisEscaped = R"(CN=Quo\"Vadis\" \u00e9)";
const char* const kQuoVadisOtherEscapes = "CN=Quo\\u0022Vadis\\\" \xc3\xa9";
const char* const kQuoVadisJson = "CN=Quo\\\"Vadis\\\" \xc3\xa9";  // as the JSON report writes it

Options withJson() {
  Options o;
  o.json = true;
  return o;
}

Report reportOf(const std::string& log, const Options& options = {}, const char* name = "t.log") {
  Report r(options);
  std::istringstream in(log);
  CHECK(r.read(in, name));
  return r;
}

std::string jsonOf(const std::string& log, Options options = withJson()) {
  return reportOf(log, options).json();
}

std::vector<std::string> linesOf(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

bool hasLine(const std::string& text, const std::string& line) {
  for (const auto& l : linesOf(text)) {
    if (l == line) return true;
  }
  return false;
}

// The "malformed" count and list as the JSON report has them.
std::string malformedJson(const std::string& json) {
  const size_t from = json.find("\"malformed\":");
  const size_t to = json.find(",\"first_time\"");
  return json.substr(from, to - from);
}

// Ten answers, one malformed line: every section has rows, and ties and case differences that
// the ordering and keys must settle.
std::string smallLog() {
  const std::string t = "2026-11-23T10:00:0";
  std::vector<std::string> lines = {
      Entry{.time = t + "0.000Z"}.line(),
      Entry{.time = t + "1.500Z",
            .client = "10.0.0.5:40000",
            .issuer_key_hash = "AA11",
            .serial = "0A1B",
            .status = "revoked",
            .revocation_time = "2026-11-01T00:00:00Z",
            .revocation_reason = "keyCompromise",
            .source = "upstream"}
          .line(),
      Entry{.time = t + "2.000Z",
            .client = "[::1]:5000",
            .serial = "0a1b",
            .status = "revoked",
            .revocation_time = "2026-11-01T00:00:00Z",
            .revocation_reason = "keyCompromise",
            .source = "redis"}
              .line() +
          "\r",
      Entry{.time = t + "3.000Z",
            .client = "10.0.0.5:40001",
            .mode = "forward",
            .upstream = "quovadis",
            .upstream_fqdn = "ocsp.quovadisglobal.com",
            .issuer = kQuoVadisEscaped,
            .issuer_key_hash = "bb22",
            .serial = "ff",
            .status = "revoked",
            .revocation_time = "2026-10-01T12:30:00.250Z",
            .source = "stale",
            .issuer_revoked = true}
          .line(),
      Entry{.time = t + "4.000Z",
            .client = "10.0.0.7:1",
            .upstream = "",
            .upstream_fqdn = std::nullopt,
            .issuer = "",
            .issuer_key_hash = "cc33",
            .serial = "02",
            .status = "error",
            .source = std::nullopt,
            .validation = "error:unknown_issuer"}
          .line(),
      Entry{.time = t + "5.000Z",
            .serial = "03",
            .status = "error",
            .source = std::nullopt,
            .validation = "error:upstream_failed"}
          .line(),
      R"({"time":"2026-)",
      Entry{.time = t + "6.000Z",
            .upstream = "quovadis",
            .upstream_fqdn = "ocsp.quovadisglobal.com",
            .issuer = kQuoVadisOtherEscapes,
            .issuer_key_hash = "BB22",
            .serial = "04",
            .status = "unknown",
            .source = "upstream",
            .issuer_revoked = true,
            .extra = R"(,"extra":{"a":[1,2.5e3,{"b":null}],"c":"x\n"})"}
          .line(),
      Entry{.time = t + "7.000Z",
            .client = "10.0.0.5:40002",
            .serial = "0a1b",
            .status = "revoked",
            .revocation_time = "2026-11-02T00:00:00Z",
            .revocation_reason = "superseded"}
          .line(),
      Entry{.time = t + "8.000Z",
            .serial = "05",
            .status = "error",
            .source = std::nullopt,
            .validation = "error:bad_signature"}
              .line() +
          "\r",
  };
  std::string log;
  for (const auto& l : lines) log += l + "\n";
  return log;
}

Options optionsOf(std::vector<std::string> args) {
  args.insert(args.begin(), "report");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  auto options = parseArgs(static_cast<int>(argv.size()), argv.data());
  REQUIRE(options.ok());
  return *options;
}

// A file under the temporary directory, removed at the end of the scope.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& content) {
    static int n = 0;
    path = (std::filesystem::temp_directory_path() /
            ("ocsp_report_" + std::to_string(getpid()) + "_" + std::to_string(n++) + ".log"))
               .string();
    std::ofstream(path, std::ios::binary) << content;
  }
  ~TempFile() { std::filesystem::remove(path); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
};


// ---------------------------------------------------------------------------------------------

TEST_CASE("the JSON report of a small log has every section, exactly") {
  const std::string issuer_a = std::string("\"issuer\":\"") + kDigiCert + "\"";
  const std::string issuer_b = std::string("\"issuer\":\"") + kQuoVadisJson + "\"";
  const std::string expected =
      "{\"totals\":{\"lines\":10,\"answers\":9,\"outside_time_range\":0,\"since\":null,"
      "\"until\":null,\"malformed\":1,\"malformed_lines\":[{\"at\":\"small.log:7\","
      "\"error\":\"truncated JSON\"}],\"first_time\":\"2026-11-23T10:00:00.000Z\","
      "\"last_time\":\"2026-11-23T10:00:08.000Z\",\"invalid_utf8\":0},"
      "\"by_status\":{\"good\":1,\"revoked\":4,\"unknown\":1,\"error\":3},"
      "\"by_issuer\":[{\"total\":6,\"good\":1,\"revoked\":3,\"unknown\":0,\"error\":2,"
      "\"issuer_key_hash\":\"aa11\"," +
      issuer_a +
      "},"
      "{\"total\":2,\"good\":0,\"revoked\":1,\"unknown\":1,\"error\":0,"
      "\"issuer_key_hash\":\"bb22\"," +
      issuer_b +
      "},"
      "{\"total\":1,\"good\":0,\"revoked\":0,\"unknown\":0,\"error\":1,"
      "\"issuer_key_hash\":\"cc33\",\"issuer\":null}],"
      "\"revoked_serials\":[{\"serial\":\"0a1b\",\"answers\":3,"
      "\"revocation_time\":\"2026-11-02T00:00:00Z\",\"revocation_reason\":\"superseded\","
      "\"first_seen\":\"2026-11-23T10:00:01.500Z\",\"last_seen\":\"2026-11-23T10:00:07.000Z\","
      "\"issuer_key_hash\":\"aa11\"," +
      issuer_a +
      ",\"distinct_clients\":2,"
      "\"clients\":[\"10.0.0.5\",\"::1\"]},"
      "{\"serial\":\"ff\",\"answers\":1,\"revocation_time\":\"2026-10-01T12:30:00.250Z\","
      "\"revocation_reason\":null,\"first_seen\":\"2026-11-23T10:00:03.000Z\","
      "\"last_seen\":\"2026-11-23T10:00:03.000Z\",\"issuer_key_hash\":\"bb22\"," +
      issuer_b +
      ",\"distinct_clients\":1,\"clients\":[\"10.0.0.5\"]}],"
      "\"clients_with_revoked\":[{\"client\":\"10.0.0.5\",\"revoked_answers\":3,"
      "\"revoked_serials\":2,\"last_seen\":\"2026-11-23T10:00:07.000Z\"},{\"client\":\"::1\","
      "\"revoked_answers\":1,\"revoked_serials\":1,\"last_seen\":\"2026-11-23T10:00:02.000Z\"}],"
      "\"upstream_problems\":[{\"upstream\":\"digicert\",\"upstream_fqdn\":\"ocsp.digicert.com\","
      "\"errors\":2,\"stale\":0,\"errors_by_validation\":{\"bad_signature\":1,"
      "\"upstream_failed\":1}},{\"upstream\":null,\"upstream_fqdn\":null,\"errors\":1,"
      "\"stale\":0,\"errors_by_validation\":{\"unknown_issuer\":1}},{\"upstream\":\"quovadis\","
      "\"upstream_fqdn\":\"ocsp.quovadisglobal.com\",\"errors\":0,\"stale\":1,"
      "\"errors_by_validation\":{}}],"
      "\"issuer_revoked\":[{\"answers\":2,\"last_seen\":\"2026-11-23T10:00:06.000Z\","
      "\"issuer_key_hash\":\"bb22\"," +
      issuer_b + "}]}\n";
  Report r(withJson());
  std::istringstream in(smallLog());
  REQUIRE(r.read(in, "small.log"));
  CHECK(r.json() == expected);
}

TEST_CASE("the text report of the same log has the same rows in aligned tables") {
  const std::string text = reportOf(smallLog(), {}, "small.log").text();
  MESSAGE(text);
  const std::string a = kDigiCert;
  for (const std::string& line : {
           std::string("Revocation log report"),
           std::string("  lines read          10"),
           std::string("  answers counted     9"),
           std::string("  malformed lines     1"),
           std::string("    small.log:7: truncated JSON"),
           std::string("  first answer        2026-11-23T10:00:00.000Z"),
           std::string("  last answer         2026-11-23T10:00:08.000Z"),
           std::string("By status"),
           std::string("  STATUS   ANSWERS"),
           std::string("  good           1"),
           std::string("  revoked        4"),
           std::string("  unknown        1"),
           std::string("  error          3"),
           std::string("By issuer (3)"),
           std::string("  TOTAL  GOOD  REVOKED  UNKNOWN  ERROR  KEY HASH  ISSUER"),
           "      6     1        3        0      2  aa11      " + a,
           std::string("      2     0        1        1      0  bb22      CN=Quo\"Vadis\" é"),
           std::string("      1     0        0        0      1  cc33      -"),
           std::string("Revoked serials seen (2)"),
           "  0a1b          3  2026-11-02T00:00:00Z      superseded  2026-11-23T10:00:01.500Z  "
           "2026-11-23T10:00:07.000Z  aa11      " +
               a + "        2  10.0.0.5, ::1",
           std::string("Clients still asking about revoked certificates (2)"),
           std::string("  CLIENT    REVOKED ANSWERS  REVOKED SERIALS  LAST SEEN"),
           std::string("  10.0.0.5                3                2  2026-11-23T10:00:07.000Z"),
           std::string("  ::1                     1                1  2026-11-23T10:00:02.000Z"),
           std::string("Errors and stale answers by upstream (3)"),
           std::string("  UPSTREAM  FQDN                     ERRORS  STALE  ERRORS BY VALIDATION"),
           std::string("  digicert  ocsp.digicert.com             2      0  "
                       "bad_signature=1 upstream_failed=1"),
           std::string("  -         -                             1      0  unknown_issuer=1"),
           std::string("  quovadis  ocsp.quovadisglobal.com       0      1  -"),
           std::string("Answers under revoked issuers (1)"),
           std::string("  ANSWERS  LAST SEEN                 KEY HASH  ISSUER"),
           std::string("        2  2026-11-23T10:00:06.000Z  bb22      CN=Quo\"Vadis\" é"),
       }) {
    CHECK_MESSAGE(hasLine(text, line), "missing line: [" << line << "]");
  }
}

TEST_CASE("an empty log reports zeros, nulls and (none) tables") {
  CHECK(jsonOf("") ==
        "{\"totals\":{\"lines\":0,\"answers\":0,\"outside_time_range\":0,\"since\":null,"
        "\"until\":null,\"malformed\":0,\"malformed_lines\":[],\"first_time\":null,"
        "\"last_time\":null,\"invalid_utf8\":0},\"by_status\":{\"good\":0,\"revoked\":0,\"unknown\":0,\"error\":0},"
        "\"by_issuer\":[],\"revoked_serials\":[],\"clients_with_revoked\":[],"
        "\"upstream_problems\":[],\"issuer_revoked\":[]}\n");
  const std::string text = reportOf("").text();
  CHECK(hasLine(text, "  first answer        -"));
  CHECK(hasLine(text, "  (none)"));
}

TEST_CASE("since is inclusive and until exclusive, to the millisecond") {
  std::string log;
  for (const char* t : {"2026-11-23T09:59:59.999Z", "2026-11-23T10:00:00.000Z",
                        "2026-11-23T10:59:59.999Z", "2026-11-23T11:00:00.000Z"}) {
    log += Entry{.time = t}.line() + "\n";
  }
  const auto filtered = [&](const std::vector<std::string>& args) {
    return jsonOf(log, optionsOf(args));
  };
  const std::string both =
      filtered({"--json", "--since", "2026-11-23T10:00:00Z", "--until=2026-11-23T11:00:00Z"});
  CHECK(
      both.find("\"lines\":4,\"answers\":2,\"outside_time_range\":2,"
                "\"since\":\"2026-11-23T10:00:00.000Z\",\"until\":\"2026-11-23T11:00:00.000Z\"") !=
      std::string::npos);
  CHECK(both.find("\"first_time\":\"2026-11-23T10:00:00.000Z\","
                  "\"last_time\":\"2026-11-23T10:59:59.999Z\"") != std::string::npos);
  // The same instants written with offsets and as a date.
  CHECK(filtered({"--json", "--since", "2026-11-23T12:00:00+02:00"}).find("\"answers\":3,") !=
        std::string::npos);
  CHECK(filtered({"--json", "--until", "2026-11-23T05:00:00.000-05:00"}).find("\"answers\":1,") !=
        std::string::npos);
  CHECK(filtered({"--json", "--since", "2026-11-23", "--until", "2026-11-24"})
            .find("\"answers\":4,") != std::string::npos);
  CHECK(filtered({"--json", "--until", "2026-11-23"}).find("\"answers\":0,") != std::string::npos);
  const std::string text = reportOf(log, optionsOf({"--since", "2026-11-23T10:00:00Z"})).text();
  CHECK(hasLine(text, "  outside time range  1"));
  CHECK(hasLine(text, "  time range          2026-11-23T10:00:00.000Z .. -"));
}

TEST_CASE("each kind of malformed line is counted, named with its reason and skipped") {
  const std::string good = Entry{}.line();
  const auto without = [&](const std::string& member) {
    std::string l = good;
    l.erase(l.find(member), member.size());
    return l;
  };
  const auto replaced = [&](const std::string& from, const std::string& to) {
    std::string l = good;
    l.replace(l.find(from), from.size(), to);
    return l;
  };
  const auto column = [](const std::string& line, const std::string& at) {
    return " at column " + std::to_string(line.find(at) + 1);
  };
  struct Case {
    const char* what;
    std::string line;
    std::string error;
  };
  std::vector<Case> cases = {
      {"truncated", good.substr(0, good.size() / 2), "truncated JSON"},
      {"missing closing brace", good.substr(0, good.size() - 1), "truncated JSON"},
      {"missing field", without(",\"serial\":\"01\""), "missing field \"serial\""},
      {"not an object: array", "[1,2]", "not a JSON object"},
      {"not an object: number", "42", "not a JSON object"},
      {"not an object: empty line", "", "not a JSON object"},
      {"wrong type", replaced("\"latency_ms\":12", "\"latency_ms\":\"12\""),
       "wrong type for field \"latency_ms\""},
      {"not an integer", replaced("\"latency_ms\":12", "\"latency_ms\":12.5"),
       "wrong type for field \"latency_ms\""},
      {"bool as string", replaced("\"issuer_revoked\":false", "\"issuer_revoked\":\"false\""),
       "wrong type for field \"issuer_revoked\""},
      {"null where not allowed", replaced("\"serial\":\"01\"", "\"serial\":null"),
       "wrong type for field \"serial\""},
      {"bad status", replaced("\"good\"", "\"fine\""), "bad value for field \"status\""},
      {"bad source", replaced("\"memory\"", "\"disk\""), "bad value for field \"source\""},
      {"bad mode", replaced("\"responder\"", "\"proxy\""), "bad value for field \"mode\""},
      {"bad validation", replaced("\"ok\"", "\"error:\""), "bad value for field \"validation\""},
      {"bad time", replaced("10:00:00.000Z", "10:00:00.000"), "bad value for field \"time\""},
      {"impossible date", replaced("2026-11-23T", "2026-02-29T"), "bad value for field \"time\""},
      {"duplicate field", replaced(",\"hash\"", ",\"serial\":\"02\",\"hash\""),
       "duplicate field \"serial\""},
  };
  const std::string bad_escape = replaced("10.0.0.5:", "10.0.0.5\\q:");
  cases.push_back({"bad escape", bad_escape, "bad escape" + column(bad_escape, "\\q")});
  const std::string lone = replaced("10.0.0.5:", "10.0.0.5\\ud800:");
  cases.push_back({"lone surrogate", lone, "bad escape" + column(lone, "\\ud800")});
  const std::string short_hex = replaced("10.0.0.5:", "10.0.0.5\\u12g4:");
  cases.push_back({"bad hex", short_hex, "bad escape" + column(short_hex, "\\u12g4")});
  const std::string tab = replaced("10.0.0.5:", "10.0.0.5\t:");
  cases.push_back(
      {"raw control character", tab, "control character in string" + column(tab, "\t")});
  const std::string trailing = good + " x";
  cases.push_back({"trailing text", trailing,
                   "JSON syntax error at column " + std::to_string(trailing.size())});
  const std::string single = replaced("\"mode\"", "'mode'");
  cases.push_back({"single quotes", single, "JSON syntax error" + column(single, "'mode'")});
  std::string deep = good;
  deep.insert(deep.size() - 1, ",\"x\":" + std::string(40, '[') + std::string(40, ']'));
  // 32 levels inside an ignored field are skipped; the 33rd is refused where it opens.
  cases.push_back(
      {"nesting", deep, "nesting too deep at column " + std::to_string(deep.find('[') + 32 + 1)});

  for (const auto& c : cases) {
    SUBCASE(c.what) {
      const std::string json = jsonOf(good + "\n" + c.line + "\n" + good + "\n");
      CHECK(json.find("\"lines\":3,\"answers\":2,") != std::string::npos);
      std::string error;
      for (char ch : c.error) error += ch == '"' ? std::string("\\\"") : std::string(1, ch);
      CHECK(malformedJson(json) ==
            "\"malformed\":1,\"malformed_lines\":[{\"at\":\"t.log:2\",\"error\":\"" + error +
                "\"}]");
    }
  }
}

TEST_CASE("a line with raw bytes that are not UTF-8 is counted and shown with \\xNN, never hidden") {
  // As proxies wrote them before escaping: a revoked answer whose upstream_fqdn (from Redis)
  // held Latin-1 and a lone continuation byte.
  const std::string log =
      Entry{.upstream_fqdn = "ocsp.caf\xe9.test\x80", .serial = "0a", .status = "revoked",
            .revocation_time = "2026-11-01T00:00:00Z", .revocation_reason = "keyCompromise"}
          .line() +
      "\n" + Entry{}.line() + "\n";
  const std::string json = jsonOf(log);
  CHECK(json.find("\"lines\":2,\"answers\":2,") != std::string::npos);
  CHECK(json.find("\"malformed\":0,") != std::string::npos);
  CHECK(json.find("\"invalid_utf8\":1}") != std::string::npos);
  CHECK(json.find("\"revoked\":1,") != std::string::npos);
  CHECK(json.find("\"serial\":\"0a\"") != std::string::npos);
  const std::string text = reportOf(log).text();
  CHECK(hasLine(text, "  non-UTF-8 lines     1 (counted; bytes shown as \\xNN)"));
  // The bytes themselves, escaped as the proxy now writes them.
  Entry upstream_error{.upstream_fqdn = "ocsp.caf\xe9.test", .status = "error",
                       .validation = "error:transport"};
  upstream_error.source = std::nullopt;
  const std::string problems = reportOf(upstream_error.line() + "\n").text();
  CHECK(problems.find("ocsp.caf\\xe9.test") != std::string::npos);
  CHECK(problems.find("\xe9") == std::string::npos);
}

TEST_CASE("answers of every mode the proxy writes are read, transparent (DNS-override) too") {
  std::string log;
  for (const char* mode : {"responder", "forward", "transparent"}) {
    log += Entry{.mode = mode}.line() + "\n";
  }
  const std::string json = jsonOf(log);
  CHECK(json.find("\"lines\":3,\"answers\":3,") != std::string::npos);
  CHECK(json.find("\"malformed\":0,") != std::string::npos);
}

TEST_CASE("the command says on stderr how many malformed lines it skipped") {
  TempFile log(Entry{}.line() + "\n{\"torn\n" + Entry{.status = "revoked"}.line() + "garbage\n");
  const Run r = run({log.path});
  CHECK(r.code == 0);
  CHECK(r.err ==
        "ocsp-proxy report: 2 malformed lines skipped (named under \"malformed lines\" in the "
        "report)\n");
  CHECK(hasLine(r.out, "  malformed lines     2"));
}

TEST_CASE("only the first malformed lines are named; the count has them all") {
  std::string log;
  for (int i = 0; i < 25; ++i) log += "garbage\n";
  log += Entry{}.line() + "\n";
  const std::string json = jsonOf(log);
  CHECK(json.find("\"lines\":26,\"answers\":1,") != std::string::npos);
  CHECK(json.find("\"malformed\":25,") != std::string::npos);
  CHECK(json.find("t.log:10\"") != std::string::npos);
  CHECK(json.find("t.log:11\"") == std::string::npos);
  CHECK(hasLine(reportOf(log).text(), "    (+15 more)"));
}

TEST_CASE("escapes decode to UTF-8, and control characters never reach the terminal") {
  const std::string log =
      Entry{.issuer = R"(CN=a\"b\\c\/d\n\t\u00e9\ud83d\ude00\u0000\u0085)", .status = "revoked"}
          .line() +
      "\n";
  const std::string json = jsonOf(log);
  CHECK(json.find(R"("issuer":"CN=a\"b\\c/d\n\t)"
                  "\xc3\xa9\xf0\x9f\x98\x80"
                  R"(\u0000)"
                  "\xc2\x85\"") != std::string::npos);
  const std::string text = reportOf(log).text();
  CHECK(text.find("CN=a\"b\\c/d\\x0a\\x09\xc3\xa9\xf0\x9f\x98\x80\\x00\\x85") != std::string::npos);
  CHECK(text.find('\t') == std::string::npos);
}

TEST_CASE("CRLF endings, a last line without a newline and lines split across reads") {
  const std::string log = Entry{}.line() + "\r\n" + Entry{.status = "revoked"}.line() + "\r\n" +
                          Entry{.status = "unknown"}.line();
  const std::string whole = jsonOf(log);
  CHECK(whole.find("\"lines\":3,\"answers\":3,") != std::string::npos);
  CHECK(whole.find("\"by_status\":{\"good\":1,\"revoked\":1,\"unknown\":1,\"error\":0}") !=
        std::string::npos);
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{300}}) {
    Report r(withJson());
    r.beginInput("t.log");
    for (size_t at = 0; at < log.size(); at += chunk)
      r.feed(std::string_view(log).substr(at, chunk));
    r.endInput();
    CHECK_MESSAGE(r.json() == whole, "chunk " << chunk);
  }
}

TEST_CASE("a line longer than the limit is malformed and the next line still counts") {
  const std::string huge =
      Entry{.extra = ",\"pad\":\"" + std::string(kMaxLineBytes, 'x') + "\""}.line();
  const std::string log = huge + "\n" + Entry{}.line() + "\n" + huge;
  const std::string why = "line longer than 1 MiB";
  CHECK(malformedJson(jsonOf(log)) ==
        "\"malformed\":2,\"malformed_lines\":[{\"at\":\"t.log:1\","
        "\"error\":\"" +
            why +
            "\"},{\"at\":\"t.log:3\","
            "\"error\":\"" +
            why + "\"}]");
  // Fed in small pieces, the long line is dropped while it streams in.
  Report r(withJson());
  r.beginInput("t.log");
  for (size_t at = 0; at < log.size(); at += 4096) r.feed(std::string_view(log).substr(at, 4096));
  r.endInput();
  CHECK(r.json() == jsonOf(log));
}

TEST_CASE("several inputs are one stream; line numbers restart with each") {
  Report r(withJson());
  std::istringstream a(Entry{.status = "revoked"}.line() + "\n");
  std::istringstream b(
      "oops\n" + Entry{.time = "2026-11-24T00:00:00.000Z", .status = "revoked"}.line() + "\n");
  REQUIRE(r.read(a, "a.log"));
  REQUIRE(r.read(b, "b.log"));
  const std::string json = r.json();
  CHECK(json.find("\"lines\":3,\"answers\":2,") != std::string::npos);
  CHECK(json.find("{\"at\":\"b.log:1\",\"error\":\"not a JSON object\"}") != std::string::npos);
  CHECK(json.find("\"serial\":\"01\",\"answers\":2,") != std::string::npos);
  CHECK(json.find("\"distinct_clients\":1,\"clients\":[\"10.0.0.5\"]") != std::string::npos);
  CHECK(json.find("\"last_time\":\"2026-11-24T00:00:00.000Z\"") != std::string::npos);
}

TEST_CASE("--top bounds the clients listed per revoked serial; the count keeps them all") {
  std::string log;
  for (int i = 1; i <= 5; ++i) {
    for (int k = 0; k < i; ++k) {
      log += Entry{.client = "10.0.0." + std::to_string(i) + ":" + std::to_string(1000 + k),
                   .status = "revoked"}
                 .line() +
             "\n";
    }
  }
  Options o = withJson();
  o.top_clients = 2;
  const std::string json = jsonOf(log, o);
  CHECK(json.find("\"serial\":\"01\",\"answers\":15,") != std::string::npos);
  CHECK(json.find("\"distinct_clients\":5,\"clients\":[\"10.0.0.5\",\"10.0.0.4\"]") !=
        std::string::npos);
  CHECK(json.find("{\"client\":\"10.0.0.5\",\"revoked_answers\":5,\"revoked_serials\":1,") !=
        std::string::npos);
  CHECK(reportOf(log, o).text().find("  5  10.0.0.5, 10.0.0.4 (+3 more)\n") != std::string::npos);
  o.top_clients = 0;
  CHECK(jsonOf(log, o).find("\"distinct_clients\":5,\"clients\":[]") != std::string::npos);
}

TEST_CASE("the command line: bad usage exits 2 with the reason and the usage") {
  for (const auto& [args, reason] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--frobnicate"}, "unknown option: --frobnicate"},
           {{"--top", "many"}, "--top needs a number, not \"many\""},
           {{"--top", "-1"}, "--top needs a number, not \"-1\""},
           {{"--since"}, "--since needs a value"},
           {{"--since", "yesterday"},
            "--since needs an RFC 3339 time or a date "
            "(2026-11-23T00:00:00Z, 2026-11-23), not \"yesterday\""},
           {{"--until", "2026-11-23T10:00"},
            "--until needs an RFC 3339 time or a date "
            "(2026-11-23T00:00:00Z, 2026-11-23), not "
            "\"2026-11-23T10:00\""},
           {{"--since", "2026-11-24", "--until", "2026-11-23"}, "--since must be before --until"},
       }) {
    const Run r = run(args);
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    CHECK(r.err.starts_with("ocsp-proxy report: " + reason + "\n\nUsage: ocsp-proxy report "));
  }
  const Run help = run({"--help"});
  CHECK(help.code == 0);
  CHECK(
      help.out.starts_with("Usage: ocsp-proxy report [--json] [--since TIME] [--until TIME] "
                           "[--top N] [FILE...]\n"));
  CHECK(help.err.empty());
}

TEST_CASE("files are read in order as one stream; an unreadable one exits 1 and is named") {
  TempFile a(Entry{.status = "revoked"}.line() + "\n");
  TempFile b("not json\r\n" + Entry{.time = "2026-11-24T00:00:00.000Z"}.line());
  const Run both = run({"--json", a.path, b.path});
  CHECK(both.code == 0);
  CHECK(both.err ==
        "ocsp-proxy report: 1 malformed line skipped (named under \"malformed lines\" in the "
        "report)\n");
  CHECK(both.out.find("\"lines\":3,\"answers\":2,") != std::string::npos);
  CHECK(both.out.find("{\"at\":\"" + b.path + ":1\",\"error\":\"not a JSON object\"}") !=
        std::string::npos);
  const Run text = run({a.path, "--", b.path});
  CHECK(text.code == 0);
  CHECK(hasLine(text.out, "  answers counted     2"));

  const std::string missing = a.path + ".missing";
  const Run gone = run({a.path, missing});
  CHECK(gone.code == 1);
  CHECK(gone.out.empty());
  CHECK(gone.err == "ocsp-proxy report: cannot read " + missing + ": No such file or directory\n");
  const std::string dir = std::filesystem::temp_directory_path().string();
  const Run directory = run({dir});
  CHECK(directory.code == 1);
  CHECK(directory.err == "ocsp-proxy report: cannot read " + dir + ": Is a directory\n");
}

// AddressSanitizer (the sanitizer build, build-san) makes the million-line run below take
// about a minute instead of a few seconds; its timing means nothing there, and the tests
// above run the same code on small logs.

TEST_CASE("a million-line log is read in one pass (timed, not asserted)") {
  if (kAddressSanitizer) {
    MESSAGE("skipped: built with AddressSanitizer, where the million-line run takes a minute");
    return;
  }
  constexpr int kLines = 1'000'000;
  const std::optional<std::string> kRevokedAt = "2026-11-01T00:00:00Z", kReason = "keyCompromise",
                                   kMemory = "memory";
  TempFile file("");
  {
    std::ofstream out(file.path, std::ios::binary);
    std::string chunk;
    char time[32];
    for (int i = 0; i < kLines; ++i) {
      const int ms = i * 37;  // ~10 hours of traffic
      std::snprintf(time, sizeof time, "2026-11-23T%02d:%02d:%02d.%03dZ", ms / 3'600'000 % 24,
                    ms / 60'000 % 60, ms / 1000 % 60, ms % 1000);
      const bool revoked = i % 10 == 0;
      const bool error = i % 97 == 0;
      Entry e{.time = time,
              .client = "10.1." + std::to_string(i % 251) + "." + std::to_string(i % 13) + ":" +
                        std::to_string(1024 + i % 60000),
              .issuer_key_hash = "ab" + std::to_string(i % 50),
              .serial = std::to_string(100000 + i % 70001),
              .status = error     ? "error"
                        : revoked ? "revoked"
                                  : "good",
              .revocation_time = revoked && !error ? kRevokedAt : std::nullopt,
              .revocation_reason = revoked && !error ? kReason : std::nullopt,
              .source = error ? std::nullopt : kMemory,
              .validation = error ? "error:upstream_failed" : "ok"};
      chunk += e.line() + "\n";
      if (chunk.size() > (1 << 20)) {
        out << chunk;
        chunk.clear();
      }
    }
    out << chunk;
  }
  const auto size_mb = std::filesystem::file_size(file.path) / (1 << 20);
  const auto start = std::chrono::steady_clock::now();
  const Run r = run({"--json", file.path});
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  MESSAGE("1,000,000 lines (" << size_mb << " MiB): report in " << ms << " ms");
  REQUIRE(r.code == 0);
  CHECK(r.out.find("\"lines\":1000000,\"answers\":1000000,\"outside_time_range\":0,") !=
        std::string::npos);
  CHECK(r.out.find("\"malformed\":0,") != std::string::npos);
  // i % 97 == 0: 10310 errors; i % 10 == 0 and not an error: 100000 - 1031 revoked.
  CHECK(r.out.find("\"by_status\":{\"good\":890721,\"revoked\":98969,\"unknown\":0,"
                   "\"error\":10310}") != std::string::npos);
}

}  // namespace
}  // namespace ocsp::report
