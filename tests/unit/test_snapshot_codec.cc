// The cache snapshot's bytes (cache/snapshot_codec.h): what is encoded decodes to the same
// records; a damaged, foreign or newer file is refused whole with its reason; the size bound
// leaves out the records closest to expiry.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cache/snapshot_codec.h"
#include "core/byte_fields.h"
#include "core/ossl.h"

using namespace ocsp;

namespace {

CacheKey keyOf(uint8_t b) {
  CacheKey k{};
  k.fill(b);
  return k;
}

SnapshotAnswer answer(uint8_t key, std::vector<std::string> cert_ids, std::string entry,
                      int64_t hard_expiry) {
  return SnapshotAnswer{keyOf(key), std::move(cert_ids), std::move(entry), hard_expiry};
}

SnapshotContent sample() {
  SnapshotContent c;
  c.written_at = 1'800'000'000;
  c.answers.push_back(answer(1, {"certid-one"}, "entry-one", 100));
  c.answers.push_back(answer(2, {"certid-two-a", "certid-two-b"}, std::string(300, 'e'), 200));
  c.documents.push_back(
      SnapshotDocument{DocKind::Crl, "http://crl.test/ca.crl", "crl-bytes", 1'799'999'000, 300});
  c.documents.push_back(SnapshotDocument{DocKind::CaIssuers, "http://aia.test/ca.cer", "cert-bytes",
                                         1'799'999'500, 400});
  return c;
}

// `bytes` with its SHA-256 trailer made right again: what an encoder with another layout
// would have written.
std::string resealed(std::string bytes) {
  bytes.resize(bytes.size() - 32);
  return bytes + sha256(bytes);
}

std::string codeOf(std::string_view bytes) {
  auto decoded = decodeSnapshot(bytes);
  return decoded ? "ok" : decoded.error().code;
}

}  // namespace

TEST_CASE("a snapshot decodes to the records it was encoded from") {
  const SnapshotContent c = sample();
  const EncodedSnapshot encoded = encodeSnapshot(c, 1 << 20);
  CHECK(encoded.answers == 2);
  CHECK(encoded.documents == 2);
  CHECK(encoded.left_out == 0);
  auto decoded = decodeSnapshot(encoded.bytes);
  REQUIRE(decoded.ok());
  CHECK(decoded->written_at == c.written_at);
  REQUIRE(decoded->answers.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    CAPTURE(i);
    const SnapshotAnswerView& got = decoded->answers[i];
    CHECK(got.key == c.answers[i].key);
    REQUIRE(got.cert_ids.size() == c.answers[i].cert_ids.size());
    for (size_t j = 0; j < got.cert_ids.size(); ++j)
      CHECK(got.cert_ids[j] == c.answers[i].cert_ids[j]);
    CHECK(got.entry == c.answers[i].entry);
  }
  REQUIRE(decoded->documents.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    CAPTURE(i);
    const SnapshotDocumentView& got = decoded->documents[i];
    CHECK(got.kind == c.documents[i].kind);
    CHECK(got.url == c.documents[i].url);
    CHECK(got.bytes == c.documents[i].bytes);
    CHECK(got.fetched_at == c.documents[i].fetched_at);
  }
  CHECK(encoded.bytes.substr(0, 8) == "OCSPSNAP");
}

TEST_CASE("an empty cache makes a snapshot with no record, and it decodes") {
  SnapshotContent empty;
  const EncodedSnapshot encoded = encodeSnapshot(empty, 1 << 20);
  CHECK(encoded.bytes.size() == kSnapshotOverheadBytes);
  auto decoded = decodeSnapshot(encoded.bytes);
  REQUIRE(decoded.ok());
  CHECK(decoded->answers.empty());
  CHECK(decoded->documents.empty());
}

TEST_CASE("a damaged, foreign or newer snapshot is refused whole, with its reason") {
  const std::string good = encodeSnapshot(sample(), 1 << 20).bytes;
  REQUIRE(codeOf(good) == "ok");
  std::string future = good;
  future[11] = 2;  // version 2, as a newer build would write it
  std::string bad_count = good;
  bad_count[8 + 4 + 8 + 3] = 3;  // three answers counted, two written
  std::string bad_type = good;
  bad_type[kSnapshotOverheadBytes - 32] = 9;  // the first record's type
  std::string trailer = good;
  trailer.back() ^= 1;
  struct Case {
    const char* name;
    std::string bytes;
    const char* code;
  };
  const Case cases[] = {
      {"empty", "", "truncated"},
      {"shorter than a header", good.substr(0, 20), "truncated"},
      {"torn in the middle", good.substr(0, good.size() / 2), "checksum"},
      {"the trailer cut short", good.substr(0, good.size() - 1), "checksum"},
      {"bytes appended", good + "x", "checksum"},
      {"a flipped trailer bit", trailer, "checksum"},
      {"foreign", "ocsp-proxy learned-issuers v1\nend count=0 sha256=00000000000000000000\n",
       "foreign"},
      {"a newer version", resealed(future), "version"},
      {"a newer version, its trailer not redone", future, "version"},
      {"a count the records do not match", resealed(bad_count), "malformed"},
      {"an unknown record type", resealed(bad_type), "malformed"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK(codeOf(c.bytes) == c.code);
  }
}

TEST_CASE("no truncation and no flipped byte of a snapshot decodes") {
  const std::string good = encodeSnapshot(sample(), 1 << 20).bytes;
  for (size_t n = 0; n < good.size(); ++n) {
    CAPTURE(n);
    CHECK(codeOf(good.substr(0, n)) != "ok");
    std::string flipped = good;
    flipped[n] ^= 0x40;
    CHECK(codeOf(flipped) != "ok");
  }
}

TEST_CASE("a record that is not well formed is refused even under a valid trailer") {
  // One answer record whose CertID count is 0, then one whose entry length runs past its
  // payload: each sealed as if an encoder had written it.
  for (int variant = 0; variant < 2; ++variant) {
    CAPTURE(variant);
    std::string payload(32, 'k');
    appendUint(payload, variant == 0 ? 0 : 1, 2);
    if (variant == 1) {
      appendUint(payload, 1, 2);
      payload += "c";
      appendUint(payload, 100, 4);
      payload += "short";
    }
    std::string bytes(kSnapshotMagic);
    appendUint(bytes, kSnapshotVersion, 4);
    appendInt64(bytes, 0);
    appendUint(bytes, 1, 4);
    appendUint(bytes, 0, 4);
    appendUint(bytes, 1, 1);
    appendUint(bytes, payload.size(), 4);
    bytes += payload;
    bytes += sha256(bytes);
    CHECK(codeOf(bytes) == "malformed");
  }
}

TEST_CASE("past max_bytes the records closest to expiry are left out") {
  SnapshotContent c;
  c.answers.push_back(answer(1, {"id"}, std::string(1000, 'a'), 300));
  c.answers.push_back(answer(2, {"id"}, std::string(1000, 'b'), 100));  // expires first
  c.answers.push_back(answer(3, {"id"}, std::string(1000, 'c'), 200));
  c.documents.push_back(
      SnapshotDocument{DocKind::Crl, "http://crl.test/a.crl", std::string(1000, 'd'), 0, 250});
  const size_t all = encodeSnapshot(c, 1 << 20).bytes.size();
  // Room for three of the four records of about the same size.
  const EncodedSnapshot bounded = encodeSnapshot(c, all - 500);
  CHECK(bounded.bytes.size() <= all - 500);
  CHECK(bounded.answers == 2);
  CHECK(bounded.documents == 1);
  CHECK(bounded.left_out == 1);
  auto decoded = decodeSnapshot(bounded.bytes);
  REQUIRE(decoded.ok());
  REQUIRE(decoded->answers.size() == 2);
  CHECK(decoded->answers[0].key == keyOf(1));
  CHECK(decoded->answers[1].key == keyOf(3));
  CHECK(decoded->documents.size() == 1);

  // A bound too small for the header leaves nothing to write.
  const EncodedSnapshot none = encodeSnapshot(c, kSnapshotOverheadBytes - 1);
  CHECK(none.bytes.empty());
  CHECK(none.left_out == 4);
}

TEST_CASE("the records' digest tells a changed snapshot from one written again") {
  SnapshotContent c = sample();
  const EncodedSnapshot first = encodeSnapshot(c, 1 << 20);
  c.written_at += 300;
  const EncodedSnapshot later = encodeSnapshot(c, 1 << 20);
  CHECK(later.bytes != first.bytes);
  CHECK(later.records_sha256 == first.records_sha256);
  c.answers[0].entry = "entry-one, refreshed";
  CHECK(encodeSnapshot(c, 1 << 20).records_sha256 != first.records_sha256);
}
