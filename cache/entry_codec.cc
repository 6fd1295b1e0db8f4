#include "cache/entry_codec.h"

#include <algorithm>
#include <limits>

#include "core/byte_fields.h"
#include "core/ossl.h"

namespace ocsp {

namespace {

// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, in seconds since the epoch.
constexpr int64_t kMinTime = -62'135'596'800;
constexpr int64_t kMaxTime = 253'402'300'799;
// A host name is at most 253 characters (RFC 1035 §2.3.4, in text form). Read values are
// interned for good (InternedText): longer ones from a shared Redis would pin up to 64 KiB
// each.
constexpr uint64_t kMaxFqdnBytes = 253;

// A time the entry could have come from: an ASN.1 GeneralizedTime, years 0001..9999.
bool readTime(ByteReader& in, int64_t* out) {
  return in.int64(out) && *out >= kMinTime && *out <= kMaxTime;
}

uint8_t statusCode(CertStatus s) {
  switch (s) {
    case CertStatus::Good:
      return 0;
    case CertStatus::Revoked:
      return 1;
    case CertStatus::Unknown:
      return 2;
  }
  return 2;
}

}  // namespace

// Offsets (1-based, as Lua counts) follow the layout in the header: version at 1,
// producedAt at 2, thisUpdate at 10, status at 34. Times are read as unsigned big-endian
// numbers: every answer time is after 1970, and Lua's doubles hold them exactly.
const std::string_view kStoreUnlessOlderScript = R"lua(
local held = redis.call('GET', KEYS[1])
if held and #held >= 34 and string.byte(held, 1) == 1 then
  local function int64(pos)
    local v = 0
    for i = pos, pos + 7 do v = v * 256 + string.byte(held, i) end
    return v
  end
  local held_tu, held_pa = int64(10), int64(2)
  local tu, pa = tonumber(ARGV[3]), tonumber(ARGV[4])
  if held_tu <= tonumber(ARGV[6]) then
    if tu < held_tu then return 0 end
    if tu == held_tu then
      if pa < held_pa then return 0 end
      if pa == held_pa and string.byte(held, 34) == 1 and ARGV[5] ~= '1' then return 0 end
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
)lua";

std::string encodeEntry(const OcspEntry& e) {
  // Upstream FQDNs are host names (at most 253 bytes, conf/yaml_schema.cc); the cap only keeps
  // the length field honest.
  const std::string_view fqdn =
      std::string_view(e.upstream_fqdn).substr(0, std::numeric_limits<uint16_t>::max());
  std::string out;
  out.reserve(1 + 4 * 8 + 2 + 8 + 1 + 2 + fqdn.size() + 4 + e.der.size());
  appendUint(out, kEntryCodecVersion, 1);
  appendInt64(out, e.produced_at);
  appendInt64(out, e.this_update);
  appendInt64(out, e.next_update);
  appendInt64(out, e.fetched_at);
  appendUint(out, statusCode(e.status), 1);
  appendUint(out, e.revocation ? 1 : 0, 1);
  appendInt64(out, e.revocation ? e.revocation->time : 0);
  appendUint(
      out, static_cast<uint8_t>(static_cast<int8_t>(e.revocation ? e.revocation->reason : -1)), 1);
  appendUint(out, fqdn.size(), 2);
  out.append(fqdn);
  appendUint(out, e.der.size(), 4);
  e.der.appendTo(out);
  return out;
}

std::optional<OcspEntry> decodeEntry(std::string_view bytes, const FreshnessPolicy& policy,
                                     Sha256Digest* der_sha256) {
  ByteReader in(bytes);
  OcspEntry e;
  uint64_t version = 0, status = 0, present = 0, reason = 0, fqdn_len = 0, der_len = 0;
  int64_t revocation_time = 0;
  std::string_view fqdn, der;
  if (!in.uint(1, &version) || version != kEntryCodecVersion) return std::nullopt;
  if (!readTime(in, &e.produced_at) || !readTime(in, &e.this_update) ||
      !readTime(in, &e.next_update) || !readTime(in, &e.fetched_at) || !in.uint(1, &status) ||
      !in.uint(1, &present) || !readTime(in, &revocation_time) || !in.uint(1, &reason) ||
      !in.uint(2, &fqdn_len) || fqdn_len > kMaxFqdnBytes || !in.bytes(fqdn_len, &fqdn) ||
      !in.uint(4, &der_len) || der_len == 0 || !in.bytes(der_len, &der) || !in.atEnd()) {
    return std::nullopt;
  }
  e.der.borrow(der);
  e.upstream_fqdn = fqdn;
  const int revocation_reason = static_cast<int8_t>(static_cast<uint8_t>(reason));
  switch (status) {
    case 0:
      e.status = CertStatus::Good;
      break;
    case 1:
      e.status = CertStatus::Revoked;
      break;
    case 2:
      e.status = CertStatus::Unknown;
      break;
    default:
      return std::nullopt;
  }
  // One encoding per entry: an absent revocation is written as zeros.
  if (present == 1) {
    e.revocation = Revocation{revocation_time, revocation_reason};
  } else if (present != 0 || revocation_time != 0 || revocation_reason != -1) {
    return std::nullopt;
  }
  e.cacheable = true;
  const Sha256Digest digest = sha256Digest(e.der.whole());  // borrowed above: one part
  finishEntry(e, policy, asBytes(digest));
  if (der_sha256 != nullptr) *der_sha256 = digest;
  return e;
}

bool entryMatchesResponse(const OcspEntry& e, const ValidatedResponse& v) {
  const bool same_revocation = v.revocation.has_value() == e.revocation.has_value() &&
                               (!v.revocation || (v.revocation->time == e.revocation->time &&
                                                  v.revocation->reason == e.revocation->reason));
  return v.produced_at == e.produced_at && v.this_update == e.this_update &&
         v.next_update == e.next_update && v.status == e.status && same_revocation;
}

}  // namespace ocsp
