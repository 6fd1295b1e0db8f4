// The Redis value format (cache/entry_codec.h): what goes in comes out, and nothing that is
// not exactly one well-formed version 1 value decodes.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <string>

#include "cache/entry_codec.h"
#include "core/ocsp_entry.h"
#include "tests/unit/test_util.h"

namespace ocsp {
namespace {

const FreshnessPolicy kPolicy{/*max_age_s=*/7 * 86400, /*no_next_update_ttl_s=*/300};

// A revoked entry around a real response (the codec never parses the DER).
OcspEntry revokedEntry() {
  OcspEntry e;
  e.der = test::readFile(test::realData("aws-lc-ocsp/ocsp_response_revoked.der"));
  e.produced_at = 1622000000;
  e.this_update = 1622000000;
  e.next_update = 1937000000;
  e.fetched_at = 1622000060;
  e.status = CertStatus::Revoked;
  e.revocation = Revocation{1621000000, 4};
  e.upstream_fqdn = "ocsp.example.test";
  finishEntry(e, kPolicy);
  return e;
}

OcspEntry goodEntry() {
  OcspEntry e = revokedEntry();
  e.status = CertStatus::Good;
  e.revocation.reset();
  return e;
}

void checkSame(const OcspEntry& got, const OcspEntry& want) {
  CHECK(got.der == want.der);
  CHECK(got.produced_at == want.produced_at);
  CHECK(got.this_update == want.this_update);
  CHECK(got.next_update == want.next_update);
  CHECK(got.fetched_at == want.fetched_at);
  CHECK(got.fresh_until == want.fresh_until);
  CHECK(got.hard_expiry == want.hard_expiry);
  CHECK(got.status == want.status);
  REQUIRE(got.revocation.has_value() == want.revocation.has_value());
  if (want.revocation) {
    CHECK(got.revocation->time == want.revocation->time);
    CHECK(got.revocation->reason == want.revocation->reason);
  }
  CHECK(got.upstream_fqdn == want.upstream_fqdn);
  CHECK(got.cacheable);
  CHECK(got.etag == want.etag);
  CHECK(got.last_modified == want.last_modified);
  CHECK(got.expires == want.expires);
}

// Offsets into a version 1 value (see the layout in cache/entry_codec.h).
constexpr size_t kStatusAt = 1 + 4 * 8;
constexpr size_t kPresentAt = kStatusAt + 1;
constexpr size_t kRevocationTimeAt = kPresentAt + 1;
constexpr size_t kFqdnLengthAt = kRevocationTimeAt + 8 + 1;

}  // namespace

TEST_CASE("entries come back field for field, with and without a revocation") {
  OcspEntry no_fqdn = goodEntry();
  no_fqdn.upstream_fqdn.clear();
  OcspEntry no_next_update = goodEntry();
  no_next_update.next_update = 0;
  finishEntry(no_next_update, kPolicy);
  OcspEntry unknown_reason = revokedEntry();
  unknown_reason.revocation->reason = -1;
  OcspEntry before_epoch = goodEntry();
  before_epoch.produced_at = -86400;
  for (const OcspEntry& e :
       {revokedEntry(), goodEntry(), no_fqdn, no_next_update, unknown_reason, before_epoch}) {
    const std::string bytes = encodeEntry(e);
    auto back = decodeEntry(bytes, kPolicy);
    REQUIRE(back.has_value());
    checkSame(*back, e);
    // Sealed (as the Redis stage does while the reply is alive), the entry keeps its own copy.
    auto sealed = sealEntry(std::move(*back));
    CHECK(sealed->der.inline_with_entry());
    CHECK(sealed->der == e.der);
  }
}

TEST_CASE("a value is a version byte, fixed fields and two length-prefixed strings") {
  const OcspEntry e = revokedEntry();
  const std::string bytes = encodeEntry(e);
  CHECK(bytes.size() == kFqdnLengthAt + 2 + e.upstream_fqdn.size() + 4 + e.der.size());
  CHECK(static_cast<uint8_t>(bytes[0]) == 1);
  CHECK(static_cast<uint8_t>(bytes[kStatusAt]) == 1);
  CHECK(bytes.substr(kFqdnLengthAt + 2, e.upstream_fqdn.size()) == e.upstream_fqdn);
  CHECK(bytes.ends_with(e.der.bytes()));
}

TEST_CASE("derived fields follow the reader's freshness policy, not the writer's") {
  const OcspEntry e = goodEntry();
  const FreshnessPolicy one_hour{3600, 300};
  const std::string bytes = encodeEntry(e);
  auto back = decodeEntry(bytes, one_hour);
  REQUIRE(back.has_value());
  CHECK(back->fresh_until == e.this_update + 3600);
  CHECK(back->hard_expiry == e.next_update);
}

TEST_CASE("a value read from Redis is cacheable whatever the writer's entry said") {
  OcspEntry e = goodEntry();
  e.cacheable = false;
  const std::string bytes = encodeEntry(e);
  auto back = decodeEntry(bytes, kPolicy);
  REQUIRE(back.has_value());
  CHECK(back->cacheable);
}

TEST_CASE("every truncation of a value is rejected") {
  const std::string bytes = encodeEntry(revokedEntry());
  for (size_t n = 0; n < bytes.size(); ++n) {
    CAPTURE(n);
    CHECK_FALSE(decodeEntry(std::string_view(bytes).substr(0, n), kPolicy).has_value());
  }
}

TEST_CASE("trailing bytes after a value are rejected") {
  const std::string bytes = encodeEntry(goodEntry());
  const std::string with_nul = bytes + '\0', twice = bytes + bytes;
  CHECK_FALSE(decodeEntry(with_nul, kPolicy).has_value());
  CHECK_FALSE(decodeEntry(twice, kPolicy).has_value());
}

TEST_CASE("a value of an unknown version is rejected") {
  std::string bytes = encodeEntry(goodEntry());
  for (int version : {0, 2, 255}) {
    CAPTURE(version);
    bytes[0] = static_cast<char>(version);
    CHECK_FALSE(decodeEntry(bytes, kPolicy).has_value());
  }
}

TEST_CASE("fields out of range are rejected") {
  struct Edit {
    const char* what;
    size_t at;
    char byte;
    bool revoked;  // edit the revoked entry, else the good one
  };
  const Edit edits[] = {
      {"status 3", kStatusAt, 3, false},
      {"revocation present 2", kPresentAt, 2, true},
      {"absent revocation with a time", kRevocationTimeAt + 7, 1, false},
      {"absent revocation with a reason", kRevocationTimeAt + 8, 0, false},
  };
  for (const auto& edit : edits) {
    CAPTURE(edit.what);
    std::string bytes = encodeEntry(edit.revoked ? revokedEntry() : goodEntry());
    bytes[edit.at] = edit.byte;
    CHECK_FALSE(decodeEntry(bytes, kPolicy).has_value());
  }
}

TEST_CASE("times no OCSP response can carry are rejected, not overflowed into derived times") {
  // produced_at, this_update, next_update, fetched_at, revocation time.
  const size_t times[] = {1, 9, 17, 25, kRevocationTimeAt};
  for (size_t at : times) {
    for (char top : {'\x7f', '\x80'}) {
      CAPTURE(at);
      CAPTURE(static_cast<int>(top));
      std::string bytes = encodeEntry(revokedEntry());
      bytes[at] = top;
      CHECK_FALSE(decodeEntry(bytes, kPolicy).has_value());
    }
  }
  // The last second of year 9999 is a time a response may carry.
  OcspEntry far = goodEntry();
  far.next_update = 253'402'300'799;
  const std::string bytes = encodeEntry(far);
  CHECK(decodeEntry(bytes, kPolicy).has_value());
}

TEST_CASE("an upstream FQDN longer than a host name can be is rejected") {
  // Read names are interned for the process's lifetime: a shared Redis must not be able to
  // pin 64 KiB per value.
  OcspEntry e = goodEntry();
  const std::string longest(253, 'a');
  e.upstream_fqdn = longest;
  const std::string fits = encodeEntry(e);
  auto decoded = decodeEntry(fits, kPolicy);
  REQUIRE(decoded.has_value());
  CHECK(decoded->upstream_fqdn == longest);
  const std::string too_long(254, 'b');
  e.upstream_fqdn = too_long;
  const std::string over = encodeEntry(e);
  CHECK_FALSE(decodeEntry(over, kPolicy).has_value());
}

TEST_CASE("a value without DER is rejected") {
  OcspEntry e = goodEntry();
  e.der = std::string_view();
  const std::string bytes = encodeEntry(e);
  CHECK_FALSE(decodeEntry(bytes, kPolicy).has_value());
}

}  // namespace ocsp
