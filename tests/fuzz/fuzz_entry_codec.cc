// Fuzz target: the Redis entry codec (cache/entry_codec.h decodeEntry, encodeEntry). Redis is
// shared and anything may be in it, so decoding arbitrary bytes must never crash. Checked on
// an accepted value: encoding the decoded entry gives bytes that decode again to the same
// fields (stored and derived), and, since the format has one encoding per entry, those bytes
// are the input itself (unless the input's upstream FQDN was one too many for the bounded
// pool of interned names and reads "(other)").
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cache/entry_codec.h"
#include "tests/fuzz/fuzz_util.h"

namespace ocsp {
namespace {

// Offset of the u16 upstream_fqdn length in version 1 (see the layout in entry_codec.h).
constexpr size_t kFqdnLengthAt = 1 + 4 * 8 + 1 + 1 + 8 + 1;

std::string_view fqdnOf(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data()) + kFqdnLengthAt;
  const size_t len = static_cast<size_t>(p[0]) << 8 | p[1];
  return bytes.substr(kFqdnLengthAt + 2, len);
}

void checkSame(const OcspEntry& a, const OcspEntry& b) {
  FUZZ_CHECK(a.der.bytes() == b.der.bytes());
  FUZZ_CHECK(a.produced_at == b.produced_at);
  FUZZ_CHECK(a.this_update == b.this_update);
  FUZZ_CHECK(a.next_update == b.next_update);
  FUZZ_CHECK(a.fetched_at == b.fetched_at);
  FUZZ_CHECK(a.status == b.status);
  FUZZ_CHECK(a.revocation.has_value() == b.revocation.has_value());
  if (a.revocation && b.revocation) {
    FUZZ_CHECK(a.revocation->time == b.revocation->time);
    FUZZ_CHECK(a.revocation->reason == b.revocation->reason);
  }
  FUZZ_CHECK(a.upstream_fqdn.view() == b.upstream_fqdn.view());
  FUZZ_CHECK(a.fresh_until == b.fresh_until);
  FUZZ_CHECK(a.refresh_at == b.refresh_at);
  FUZZ_CHECK(a.hard_expiry == b.hard_expiry);
  FUZZ_CHECK(a.etag.view() == b.etag.view());
  FUZZ_CHECK(a.last_modified.view() == b.last_modified.view());
  FUZZ_CHECK(a.expires.view() == b.expires.view());
  FUZZ_CHECK(a.cacheable && b.cacheable);
}

}  // namespace
}  // namespace ocsp

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ocsp;
  // The input is copied so that ASan sees exactly its bytes (the entry borrows from them).
  const std::string input(fuzz::asView(data, size));
  FreshnessPolicy policy;
  policy.max_age_s = 7 * 86400;
  Sha256Digest digest{};
  auto decoded = decodeEntry(std::string_view(input), policy, &digest);
  if (!decoded) return 0;
  FUZZ_CHECK(digest == sha256Digest(decoded->der.whole()));  // decoded, not sealed: one part
  const std::string encoded = encodeEntry(*decoded);
  auto again = decodeEntry(std::string_view(encoded), policy);
  FUZZ_CHECK(again.has_value());
  checkSame(*decoded, *again);
  if (decoded->upstream_fqdn.view() == fqdnOf(input)) FUZZ_CHECK(encoded == input);
  return 0;
}
