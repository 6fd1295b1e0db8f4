// The distrust decision (conf/config_distrust.h distrustStageAt) and what it is made of: the
// dates of enforce_from and the client address blocks (core/cidr.h).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "conf/config_distrust.h"
#include "core/cidr.h"

using ocsp::Cidr;
using ocsp::IpAddress;
using ocsp::parseCidr;
using ocsp::parseIpAddress;
using ocsp::conf::DistrustClientGroup;
using ocsp::conf::DistrustSchedule;
using ocsp::conf::DistrustStage;
using ocsp::conf::distrustStageAt;
using ocsp::conf::parseDistrustDate;

namespace {

Cidr block(const std::string& text) {
  auto parsed = parseCidr(text);
  REQUIRE_MESSAGE(parsed.cidr.has_value(), std::string(text + ": " + parsed.error));
  return *parsed.cidr;
}

bool contains(const std::string& cidr, const std::string& address) {
  auto a = parseIpAddress(address);
  REQUIRE_MESSAGE(a.has_value(), address);
  return ocsp::cidrContains(block(cidr), *a);
}

constexpr int64_t kEntryDate = 1803859200;  // 2027-03-01T00:00:00Z
constexpr int64_t kGroupDate = 1811808000;  // 2027-06-01T00:00:00Z

// warn until 2027-03-01; the m2m links (10.20.0.0/16, 2001:db8::/32) until 2027-06-01.
DistrustSchedule dutchSchedule() {
  DistrustSchedule s;
  s.mode = DistrustStage::Warn;
  s.enforce_from = kEntryDate;
  s.clients.push_back(
      DistrustClientGroup{"m2m", {block("10.20.0.0/16"), block("2001:db8::/32")}, kGroupDate});
  return s;
}

}  // namespace

TEST_CASE("an address is in a block when its first prefix bits match, IPv4 and IPv6") {
  struct Case {
    std::string cidr;
    std::string address;
    bool in;
  };
  const std::vector<Case> cases = {
      {"10.20.0.0/16", "10.20.0.1", true},
      {"10.20.0.0/16", "10.20.255.255", true},
      {"10.20.0.0/16", "10.21.0.0", false},
      {"10.20.0.0/16", "10.19.255.255", false},
      {"127.0.0.2/32", "127.0.0.2", true},
      {"127.0.0.2/32", "127.0.0.1", false},
      {"192.0.2.128/25", "192.0.2.200", true},
      {"192.0.2.128/25", "192.0.2.127", false},
      {"0.0.0.0/0", "203.0.113.9", true},
      {"2001:db8::/32", "2001:db8:1234::1", true},
      {"2001:db8::/32", "2001:db9::1", false},
      {"2001:db8:8000::/33", "2001:db8:ffff::1", true},
      {"2001:db8:8000::/33", "2001:db8:7fff::1", false},
      {"::1/128", "::1", true},
      // A dual-stack listener reports an IPv4 client as a mapped address.
      {"10.20.0.0/16", "::ffff:10.20.3.4", true},
      // Families never match each other.
      {"0.0.0.0/0", "::1", false},
      {"::/0", "10.0.0.1", false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.cidr);
    CAPTURE(c.address);
    CHECK(contains(c.cidr, c.address) == c.in);
  }
}

TEST_CASE("a block is ADDRESS/LENGTH or one address; anything else says why not") {
  CHECK(ocsp::cidrText(block("10.0.0.0/8")) == "10.0.0.0/8");
  CHECK(ocsp::cidrText(block("2001:DB8::/32")) == "2001:db8::/32");
  CHECK(ocsp::cidrText(block("192.0.2.7")) == "192.0.2.7/32");
  CHECK(ocsp::cidrText(block("::1")) == "::1/128");
  struct Bad {
    std::string text;
    std::string error;
  };
  const std::vector<Bad> bad = {
      {"10.0.0.0/", "prefix length must be 0..32"},
      {"10.0.0.0/08", "prefix length must be 0..32"},
      {"10.0.0.0/8x", "prefix length must be 0..32"},
      {"10.0.0.0/-1", "prefix length must be 0..32"},
      {"2001:db8::/200", "prefix length must be 0..128"},
      {"10.0.0/8", "not an IPv4 or IPv6 address block (expected ADDRESS/LENGTH)"},
      {"", "not an IPv4 or IPv6 address block (expected ADDRESS/LENGTH)"},
      {"::ffff:10.0.0.0/104", "not an IPv4 or IPv6 address block (expected ADDRESS/LENGTH)"},
      {"10.0.0.1/8", "address has bits set past the prefix length (the block is 10.0.0.0/8)"},
      {"2001:db8::1/64",
       "address has bits set past the prefix length (the block is 2001:db8::/64)"},
  };
  for (const Bad& b : bad) {
    CAPTURE(b.text);
    auto parsed = parseCidr(b.text);
    CHECK_FALSE(parsed.cidr.has_value());
    CHECK(parsed.error == b.error);
  }
  CHECK_FALSE(parseIpAddress(std::string("10.0.0.1\0x", 10)).has_value());
}

TEST_CASE("enforce_from is a day at 00:00 UTC or an RFC 3339 time with its offset") {
  struct Case {
    std::string text;
    std::optional<int64_t> t;
  };
  const std::vector<Case> cases = {
      {"2027-03-01", kEntryDate},
      {"2027-03-01T00:00:00Z", kEntryDate},
      {"2027-03-01t00:00:00z", kEntryDate},
      {"2027-03-01T01:00:00+01:00", kEntryDate},
      {"2027-02-28T19:00:00-05:00", kEntryDate},
      {"2027-02-28T23:59:59.000Z", kEntryDate - 1},
      {"2027-02-28T23:59:59.25Z", kEntryDate},  // never before the instant written
      {"2028-02-29", 1835395200},               // a leap day
      {"1970-01-01", 0},
      {"2027-02-29", std::nullopt},
      {"2027-13-01", std::nullopt},
      {"2027-3-1", std::nullopt},
      {"2027-03-01T24:00:00Z", std::nullopt},
      {"2027-03-01T08:00:00", std::nullopt},  // no offset: which zone?
      {"2027-03-01 08:00:00Z", std::nullopt},
      {"2027-03-01T08:00Z", std::nullopt},
      {"2027-03-01T08:00:00+0100", std::nullopt},
      {"2027-03-01T08:00:00.Z", std::nullopt},
      {"tomorrow", std::nullopt},
      {"", std::nullopt},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    CHECK(parseDistrustDate(c.text) == c.t);
  }
}

TEST_CASE("the stage: mode before enforce_from, enforce from it on, a group's clients by their date") {
  const DistrustSchedule dutch = dutchSchedule();
  DistrustSchedule log_only;
  log_only.mode = DistrustStage::Log;
  const DistrustSchedule enforce_now;  // neither mode nor date: distrust as it always was
  struct Case {
    std::string name;
    const DistrustSchedule* schedule;
    std::string client;  // "" = an address that could not be read
    int64_t now;
    DistrustStage stage;
  };
  const std::vector<Case> cases = {
      {"no mode, no date: enforce", &enforce_now, "10.1.1.1", 0, DistrustStage::Enforce},
      {"mode alone applies always", &log_only, "10.1.1.1", kGroupDate * 2, DistrustStage::Log},
      {"one second before the entry's date", &dutch, "10.1.1.1", kEntryDate - 1,
       DistrustStage::Warn},
      {"at the entry's date", &dutch, "10.1.1.1", kEntryDate, DistrustStage::Enforce},
      {"IPv6 client outside the group, at the date", &dutch, "2001:db9::1", kEntryDate,
       DistrustStage::Enforce},
      {"IPv4 client in the group, after the entry's date", &dutch, "10.20.7.7", kEntryDate,
       DistrustStage::Warn},
      {"IPv6 client in the group, one second before its date", &dutch, "2001:db8::5",
       kGroupDate - 1, DistrustStage::Warn},
      {"IPv4 client in the group, at its date", &dutch, "10.20.7.7", kGroupDate,
       DistrustStage::Enforce},
      {"IPv6 client in the group, at its date", &dutch, "2001:db8::5", kGroupDate,
       DistrustStage::Enforce},
      {"a client next to the group's block", &dutch, "10.21.0.1", kEntryDate,
       DistrustStage::Enforce},
      {"an unreadable address is in no group", &dutch, "", kEntryDate, DistrustStage::Enforce},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const std::optional<IpAddress> client = parseIpAddress(c.client);
    CHECK(distrustStageAt(*c.schedule, client ? &*client : nullptr, c.now) == c.stage);
  }
}

TEST_CASE("a group's stage follows its own date") {
  const DistrustSchedule dutch = dutchSchedule();
  const DistrustClientGroup& m2m = dutch.clients.front();
  CHECK(ocsp::conf::groupStageAt(dutch, m2m, kGroupDate - 1) == DistrustStage::Warn);
  CHECK(ocsp::conf::groupStageAt(dutch, m2m, kGroupDate) == DistrustStage::Enforce);
}
