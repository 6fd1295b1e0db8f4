// The DER of a cache entry (core/entry_der.h): at sealEntry() an answer that ends with the
// responder's certificates keeps the bytes before them and shares the certificates with every
// other entry that ends with the same ones; the two parts are the upstream's bytes exactly.
// Anything that does not parse exactly is kept whole.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/entry_der.h"
#include "core/ocsp_entry.h"
#include "test_util.h"

using namespace ocsp;
using ocsp::test::readFile;
using ocsp::test::realData;

namespace {

// One DER element, the length in the shortest form.
std::string tlv(unsigned char tag, const std::string& content) {
  std::string out(1, static_cast<char>(tag));
  const size_t n = content.size();
  if (n < 0x80) {
    out.push_back(static_cast<char>(n));
  } else if (n < 0x100) {
    out += "\x81";
    out.push_back(static_cast<char>(n));
  } else {
    out += "\x82";
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xff));
  }
  return out + content;
}

// A certs element of about `size` bytes, the same for the same `seed` only.
std::string certs(size_t size, int seed) {
  std::string cert = "certificate " + std::to_string(seed) + " ";
  cert.resize(size, 'c');
  return tlv(0xa0, tlv(0x30, tlv(0x30, cert)));
}

// An OCSPResponse of the shape RFC 6960 gives, `tbs` naming it, `trailing` after the
// signature inside BasicOCSPResponse.
std::string response(const std::string& tbs, const std::string& trailing) {
  const std::string basic =
      tlv(0x30, tlv(0x30, tbs) + tlv(0x30, tlv(0x06, "\x2a\x86\x48")) + tlv(0x03, "\x00sig") +
                    trailing);
  const std::string bytes = tlv(0x30, tlv(0x06, "\x2b\x06\x01\x05\x05\x07\x30\x01\x01") +
                                          tlv(0x04, basic));
  return tlv(0x30, tlv(0x0a, "\x00") + tlv(0xa0, bytes));
}

std::shared_ptr<const OcspEntry> seal(const std::string& der) {
  OcspEntry e;
  e.der = der;
  return sealEntry(std::move(e));
}

}  // namespace

TEST_CASE("a delegated responder's answer is split before its certificates, byte for byte") {
  const std::string der = readFile(realData("aws-lc-ocsp/ocsp_response.der"));
  const size_t n = trailingCertsSize(der);
  REQUIRE(n >= shared_der::kMinShared);
  CHECK(static_cast<unsigned char>(der[der.size() - n]) == 0xa0);
  const shared_der::Stats before = shared_der::stats();
  auto e = seal(der);
  CHECK(e->der.shares_suffix());
  CHECK(e->der.inline_with_entry());
  CHECK(e->der.prefix().size() == der.size() - n);
  CHECK(e->der.suffix().size() == n);
  CHECK(std::string(e->der.prefix()) + std::string(e->der.suffix()) == der);
  CHECK(e->der.bytes() == der);
  CHECK(e->der == der);
  CHECK(e->der.size() == der.size());
  CHECK_FALSE(e->der.contiguous());
  CHECK_THROWS(e->der.whole());
  std::string out = "x";
  e->der.appendTo(out);
  CHECK(out == "x" + der);
  // The byte bound charges the whole DER to every entry, shared or not.
  OcspEntry apart;
  apart.der = der;
  CHECK(e->footprint() + 16 == apart.footprint());
  // A copy owns the whole DER in one part.
  OcspEntry copy = *e;
  CHECK(copy.der.contiguous());
  CHECK(copy.der.whole() == der);
  CHECK(shared_der::stats().values == before.values + 1);
  e.reset();
  CHECK(shared_der::stats().values == before.values);
  CHECK(copy.der == der);
}

TEST_CASE("entries ending with the same certificates share one copy, freed with the last") {
  const shared_der::Stats before = shared_der::stats();
  const std::string tail = certs(600, 1);
  const std::string a = response("first", tail);
  const std::string b = response("second answer", tail);
  const std::string c = response("third", certs(600, 2));
  REQUIRE(trailingCertsSize(a) == tail.size());
  auto ea = seal(a);
  auto eb = seal(b);
  auto ec = seal(c);
  CHECK(ea->der.suffix().data() == eb->der.suffix().data());
  CHECK(ea->der.suffix().data() != ec->der.suffix().data());
  CHECK(ea->der.bytes() == a);
  CHECK(eb->der.bytes() == b);
  CHECK(ec->der.bytes() == c);
  shared_der::Stats now = shared_der::stats();
  CHECK(now.values == before.values + 2);
  CHECK(now.bytes == before.bytes + 2 * tail.size());
  CHECK(now.users == before.users + 3);
  ea.reset();
  CHECK(shared_der::stats().values == before.values + 2);
  CHECK(eb->der.bytes() == b);  // still there for the other entry
  eb.reset();
  now = shared_der::stats();
  CHECK(now.values == before.values + 1);
  CHECK(now.users == before.users + 1);
  ec.reset();
  CHECK(shared_der::stats().values == before.values);
  CHECK(shared_der::stats().bytes == before.bytes);
}

TEST_CASE("DER that does not end with certificates exactly is kept whole") {
  const std::string tail = certs(600, 3);
  const std::string good = response("tbs", tail);
  REQUIRE(trailingCertsSize(good) == tail.size());
  std::vector<std::pair<const char*, std::string>> kept = {
      {"no certs", response("tbs", "")},
      {"something else after the signature", response("tbs", tlv(0xa1, std::string(600, 'e')))},
      {"bytes after the certs", response("tbs", tail + tlv(0x04, "x"))},
      {"bytes after the response", good + std::string(1, '\0')},
      {"truncated", good.substr(0, good.size() - 1)},
      {"truncated in a header", good.substr(0, 3)},
      {"empty", ""},
      {"not successful", readFile(realData("aws-lc-ocsp/ocsp_response_internalerror.der"))},
      {"certs too short to share", response("tbs", certs(20, 4))},
  };
  // An outer length one too long, and an indefinite length.
  std::string longer = good;
  longer[3] = static_cast<char>(static_cast<unsigned char>(longer[3]) + 1);
  kept.emplace_back("outer length off by one", longer);
  std::string indefinite = good;
  indefinite[1] = '\x80';
  kept.emplace_back("indefinite length", indefinite);
  const shared_der::Stats before = shared_der::stats();
  for (const auto& [name, der] : kept) {
    const std::string label = name;
    CAPTURE(label);
    if (std::string_view(name) != "certs too short to share") CHECK(trailingCertsSize(der) == 0);
    auto e = seal(der);
    CHECK_FALSE(e->der.shares_suffix());
    CHECK(e->der.contiguous());
    CHECK(e->der.suffix().empty());
    CHECK(e->der.bytes() == der);
    CHECK(shared_der::stats().values == before.values);
  }
}

TEST_CASE("the pool is bounded in values and bytes; past it the certificates stay inline") {
  const shared_der::Stats before = shared_der::stats();
  REQUIRE(before.values == 0);
  std::vector<std::shared_ptr<const OcspEntry>> held;
  // Distinct values up to the count bound.
  for (size_t i = 0; i < shared_der::kMaxValues; ++i) {
    held.push_back(seal(response("tbs" + std::to_string(i), certs(200, static_cast<int>(i)))));
  }
  CHECK(shared_der::stats().values == shared_der::kMaxValues);
  const std::string over = response("over", certs(300, 5));
  auto e = seal(over);
  CHECK_FALSE(e->der.shares_suffix());
  CHECK(e->der.bytes() == over);
  // A value already held is still shared.
  auto again = seal(response("again", certs(200, 7)));
  CHECK(again->der.shares_suffix());
  held.clear();
  e.reset();
  again.reset();
  CHECK(shared_der::stats().values == 0);
  // The byte bound: values of 4 KiB reach 8 MiB before 4,096 values.
  const size_t big = 4096;
  size_t shared = 0;
  for (int i = 0; i < 2100; ++i) {
    held.push_back(seal(response("big" + std::to_string(i), certs(big, i))));
    if (held.back()->der.shares_suffix()) ++shared;
    CHECK(held.back()->der.size() == response("big" + std::to_string(i), certs(big, i)).size());
  }
  CHECK(shared < 2100);
  CHECK(shared >= shared_der::kMaxBytes / (big + 16) - 1);
  CHECK(shared_der::stats().bytes <= shared_der::kMaxBytes);
  held.clear();
  CHECK(shared_der::stats().values == 0);
  CHECK(shared_der::stats().users == 0);
}
