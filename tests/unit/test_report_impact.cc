#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
// `ocsp-proxy report --impact` and `--serials [--deadline]` (tools/report_impact.h): serials
// and lists read as the header says, exact counts for a log of known content, the deadline's
// exit code, and what the command says about bad lists, bad dates and an empty log.
#include <doctest/doctest.h>

#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/log_lines.h"
#include "tests/unit/test_util.h"
#include "tools/report_impact.h"

namespace ocsp::report {
namespace {

using test::TempDir;
using testing::Entry;
using testing::kDigiCert;
using testing::run;
using testing::Run;

const char* const kQuoVadis = "CN=QuoVadis EV CA,O=QuoVadis Limited,C=BM";

// Six answers and one malformed line. DigiCert (aa11, once written AA11): 0a1b asked three
// times by two clients (10.0.0.5 from two ports), ff twice; QuoVadis (bb22): 0a1b once.
std::string knownLog() {
  const std::string t = "2026-11-23T";
  return Entry{.time = t + "10:00:00.000Z", .client = "10.0.0.5:51234", .serial = "0a1b"}.line() +
         "\n" +
         Entry{.time = t + "10:00:01.000Z",
               .client = "10.0.0.5:40000",
               .issuer_key_hash = "AA11",
               .serial = "0A1B"}
             .line() +
         "\n" +
         Entry{.time = t + "10:00:02.000Z",
               .client = "10.0.0.6:1000",
               .serial = "0a1b",
               .status = "revoked",
               .revocation_time = "2026-11-01T00:00:00Z",
               .revocation_reason = "keyCompromise",
               .source = "upstream"}
             .line() +
         "\n" + Entry{.time = t + "10:00:03.000Z", .client = "[::1]:5000", .serial = "ff"}.line() +
         "\n" +
         Entry{.time = t + "10:00:04.000Z",
               .client = "10.0.0.7:1",
               .upstream = "quovadis",
               .issuer = kQuoVadis,
               .issuer_key_hash = "bb22",
               .serial = "0a1b"}
             .line() +
         "\n" + "garbage\n" +
         Entry{.time = t + "12:00:00.000Z",
               .client = "10.0.0.6:2000",
               .serial = "ff",
               .status = "error",
               .source = std::nullopt,
               .validation = "error:timeout"}
             .line() +
         "\n";
}

const std::string kDigiCertJson = std::string("\"issuer\":\"") + kDigiCert + "\"";

TEST_CASE("a serial is hex in any case, with 0x, colons or spaces; anything else is refused") {
  const struct {
    const char* in;
    std::optional<std::string> normalized;
    const char* key;
  } rows[] = {
      {"0a1b", "0a1b", "a1b"},     {"0A:1B", "0a1b", "a1b"},
      {"0x0A1B", "0a1b", "a1b"},   {" 00 8f 01 ", "008f01", "8f01"},
      {"0X8F01", "8f01", "8f01"},  {"00", "00", "0"},
      {"0a-1b", std::nullopt, ""}, {"serial=0a1b", std::nullopt, ""},
      {"12g4", std::nullopt, ""},  {"0x", std::nullopt, ""},
      {"", std::nullopt, ""},
  };
  for (const auto& row : rows) {
    CAPTURE(row.in);
    const auto got = normalizeSerial(row.in);
    CHECK(got == row.normalized);
    if (got) CHECK(serialKey(*got) == row.key);
  }
}

TEST_CASE("a serial list skips comments and blank lines and counts a serial listed twice once") {
  const auto list = parseSerialList(
      "# DigiCert incident, 2026-11-23\n\n0x0A:1B  # web01\r\n00FF\n  abcdef\n0a1b\nff\n", "l.txt");
  REQUIRE(list);
  CHECK(list->serials == std::vector<std::string>{"0a1b", "00ff", "abcdef"});
  CHECK(list->duplicates == 2);
}

TEST_CASE("a line that is not a serial makes the list an error naming file and line") {
  const auto one = parseSerialList("0a1b\nweb01.example.org\n00ff\n", "list.txt");
  REQUIRE(!one);
  CHECK(one.error().detail ==
        "list.txt:2: not a serial: \"web01.example.org\"\n"
        "fix or comment out (#) the line: no serial of the list is left out");

  std::string many;
  for (int i = 0; i < 12; ++i) many += "web" + std::to_string(i) + "\n";
  const auto twelve = parseSerialList(many, "m.txt");
  REQUIRE(!twelve);
  CHECK(twelve.error().detail.find("m.txt:10: not a serial: \"web9\"\n(+2 more)\n") !=
        std::string::npos);

  const auto empty = parseSerialList("# nothing yet\n\n", "e.txt");
  REQUIRE(!empty);
  CHECK(empty.error().detail == "e.txt lists no serial");
}

TEST_CASE("--impact by subject: clients by IP, requests, serials, first and last seen, exactly") {
  TempDir dir;
  const std::string log = dir.write("a.log", knownLog());
  const Run r = run({"--json", "--impact", "DigiCert", log});
  CHECK(r.code == 0);
  CHECK(r.err == "ocsp-proxy report: 1 malformed line skipped\n");
  CHECK(
      r.out ==
      "{\"query\":{\"issuer\":\"DigiCert\",\"serial_list\":null,\"serials_listed\":0,"
      "\"deadline\":null},\"totals\":{\"answers\":6,\"matching\":5,\"malformed\":1,"
      "\"seen_after_deadline\":0},"
      "\"issuers\":[{\"requests\":5,\"issuer_key_hash\":\"aa11\"," +
          kDigiCertJson +
          "}],"
          "\"clients\":[{\"client\":\"10.0.0.5\",\"requests\":2,\"serials\":1,"
          "\"first_seen\":\"2026-11-23T10:00:00.000Z\",\"last_seen\":\"2026-11-23T10:00:01.000Z\"},"
          "{\"client\":\"10.0.0.6\",\"requests\":2,\"serials\":2,"
          "\"first_seen\":\"2026-11-23T10:00:02.000Z\",\"last_seen\":\"2026-11-23T12:00:00.000Z\"},"
          "{\"client\":\"::1\",\"requests\":1,\"serials\":1,"
          "\"first_seen\":\"2026-11-23T10:00:03.000Z\",\"last_seen\":\"2026-11-23T10:00:03.000Z\"}]"
          ","
          "\"serials\":[{\"serial\":\"0a1b\",\"requests\":3,"
          "\"last_seen\":\"2026-11-23T10:00:02.000Z\",\"last_status\":\"revoked\","
          "\"issuer_key_hash\":\"aa11\",\"distinct_clients\":2,"
          "\"clients\":[\"10.0.0.5\",\"10.0.0.6\"]},"
          "{\"serial\":\"ff\",\"requests\":2,\"last_seen\":\"2026-11-23T12:00:00.000Z\","
          "\"last_status\":\"error\",\"issuer_key_hash\":\"aa11\",\"distinct_clients\":2,"
          "\"clients\":[\"10.0.0.6\",\"::1\"]}]}\n");
}

TEST_CASE("--impact by key hash (any case, colons) matches what the subject matched") {
  TempDir dir;
  const std::string log = dir.write("a.log", knownLog());
  const Run by_subject = run({"--json", "--impact", "digicert global", log});
  const Run by_hash = run({"--json", "--impact", "AA:11", log});
  const auto from_totals = [](const std::string& s) { return s.substr(s.find("\"totals\"")); };
  CHECK(from_totals(by_hash.out) == from_totals(by_subject.out));
  CHECK(by_hash.out.find("\"matching\":5") != std::string::npos);

  const Run quovadis = run({"--impact", "quovadis", log});
  CHECK(quovadis.code == 0);
  CHECK(quovadis.out.find("  answers matching    1\n") != std::string::npos);
  CHECK(quovadis.out.find("\n  10.0.0.7         1        1  2026-11-23T10:00:04.000Z  "
                          "2026-11-23T10:00:04.000Z\n") != std::string::npos);

  const Run nobody = run({"--impact", "Let's Encrypt", log});
  CHECK(nobody.code == 0);
  CHECK(nobody.out.find("  answers matching    0\n") != std::string::npos);
  CHECK(nobody.out.find("Clients (0)\n  (none)\n") != std::string::npos);
}

TEST_CASE("--serials counts listed serials under every issuer and lists those never seen") {
  TempDir dir;
  const std::string log = dir.write("a.log", knownLog());
  const std::string list = dir.write("l.txt", "0x0A:1B\n00FF\nabcdef\n");
  const Run r = run({"--json", "--serials", list, log});
  CHECK(r.code == 0);
  CHECK(r.out.find("\"totals\":{\"answers\":6,\"matching\":6,") != std::string::npos);
  CHECK(r.out.find("{\"serial\":\"0a1b\",\"requests\":1,\"last_seen\":\"2026-11-23T10:00:04.000Z\","
                   "\"last_status\":\"good\",\"issuer_key_hash\":\"bb22\"") != std::string::npos);
  CHECK(r.out.find("\"never_seen\":[{\"serial\":\"abcdef\"}]") != std::string::npos);

  // With --impact too, only that issuer's answers count: ff was seen under DigiCert only.
  const Run q = run({"--json", "--serials", list, "--impact", "QuoVadis", log});
  CHECK(q.out.find("\"matching\":1,") != std::string::npos);
  CHECK(q.out.find("\"never_seen\":[{\"serial\":\"00ff\"},{\"serial\":\"abcdef\"}]") !=
        std::string::npos);
}

TEST_CASE("--deadline lists the serials still asked about at or after it and exits 1") {
  TempDir dir;
  const std::string log = dir.write("a.log", knownLog());
  const std::string list = dir.write("l.txt", "0a1b\nff\n");
  const Run late = run({"--serials", list, "--deadline", "2026-11-23T11:00:00Z", log});
  CHECK(late.code == 1);
  CHECK(late.err.find("1 listed serial(s) still seen on or after the deadline") !=
        std::string::npos);
  CHECK(late.out.find("  seen after deadline 1\n") != std::string::npos);
  CHECK(late.out.find(
            "Still seen on or after the deadline (1)\n"
            "  SERIAL  REQUESTS  LAST SEEN                 KEY HASH  CLIENTS  TOP CLIENTS\n"
            "  ff             1  2026-11-23T12:00:00.000Z  aa11            1  10.0.0.6\n") !=
        std::string::npos);

  // The deadline is inclusive: an answer at exactly that millisecond did not migrate.
  CHECK(run({"--serials", list, "--deadline", "2026-11-23T12:00:00.000Z", log}).code == 1);
  CHECK(run({"--serials", list, "--deadline", "2026-11-23T12:00:00.001Z", log}).code == 0);
  const Run next_day = run({"--serials", list, "--deadline", "2026-11-24", log});
  CHECK(next_day.code == 0);
  CHECK(next_day.out.find("Still seen on or after the deadline (0)\n  (none)\n") !=
        std::string::npos);
}

TEST_CASE("bad lists, dates and usage say what is wrong; an empty log says there are no records") {
  TempDir dir;
  const std::string log = dir.write("a.log", knownLog());
  const std::string junk = dir.write("junk.txt", "0a1b\n0a1b web01\n");
  const Run bad_list = run({"--serials", junk, log});
  CHECK(bad_list.code == 2);
  CHECK(bad_list.out.empty());
  CHECK(bad_list.err.find(junk + ":2: not a serial: \"0a1b web01\"") != std::string::npos);

  const Run missing = run({"--serials", dir.path + "/none.txt", log});
  CHECK(missing.code == 1);
  CHECK(missing.err ==
        "ocsp-proxy report: cannot read the serial list " + dir.path + "/none.txt\n");

  const std::string list = dir.write("l.txt", "0a1b\n");
  const Run bad_date = run({"--serials", list, "--deadline", "23/11/2026", log});
  CHECK(bad_date.code == 2);
  CHECK(bad_date.err.starts_with(
      "ocsp-proxy report: --deadline needs a date (2026-11-23) or an RFC 3339 time "
      "(2026-11-23T00:00:00Z), not \"23/11/2026\"\n"));
  const Run no_list = run({"--deadline", "2026-11-23", log});
  CHECK(no_list.code == 2);
  CHECK(no_list.err.starts_with("ocsp-proxy report: --deadline needs --serials\n"));

  const std::string empty = dir.write("empty.log", "");
  const Run none = run({"--impact", "DigiCert", empty});
  CHECK(none.code == 0);
  CHECK(none.out.ends_with("\nNo records: the log holds no answer, so nothing to report.\n"));
  const Run none_deadline = run({"--serials", list, "--deadline", "2026-11-23", empty});
  CHECK(none_deadline.code == 0);
}

}  // namespace
}  // namespace ocsp::report
