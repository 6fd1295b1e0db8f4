#include "cache/entry_codec.h"

#include <algorithm>
#include <limits>

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

void putUint(std::string& out, uint64_t v, int bytes) {
  for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

void putInt64(std::string& out, int64_t v) { putUint(out, static_cast<uint64_t>(v), 8); }

// Reads fields front to back; any read past the end fails the whole decode.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}

  bool uint(int bytes, uint64_t* out) {
    if (rest_.size() < static_cast<size_t>(bytes)) return false;
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(rest_[i]);
    rest_.remove_prefix(static_cast<size_t>(bytes));
    *out = v;
    return true;
  }
  bool int64(int64_t* out) {
    uint64_t v = 0;
    if (!uint(8, &v)) return false;
    *out = static_cast<int64_t>(v);
    return true;
  }
  // A time the entry could have come from: an ASN.1 GeneralizedTime, years 0001..9999.
  bool time(int64_t* out) { return int64(out) && *out >= kMinTime && *out <= kMaxTime; }
  bool bytes(size_t n, std::string_view* out) {
    if (rest_.size() < n) return false;
    *out = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return true;
  }
  bool atEnd() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

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
  putUint(out, kEntryCodecVersion, 1);
  putInt64(out, e.produced_at);
  putInt64(out, e.this_update);
  putInt64(out, e.next_update);
  putInt64(out, e.fetched_at);
  putUint(out, statusCode(e.status), 1);
  putUint(out, e.revocation ? 1 : 0, 1);
  putInt64(out, e.revocation ? e.revocation->time : 0);
  putUint(out, static_cast<uint8_t>(static_cast<int8_t>(e.revocation ? e.revocation->reason : -1)),
          1);
  putUint(out, fqdn.size(), 2);
  out.append(fqdn);
  putUint(out, e.der.size(), 4);
  out.append(e.der);
  return out;
}

std::optional<OcspEntry> decodeEntry(std::string_view bytes, const FreshnessPolicy& policy,
                                     Sha256Digest* der_sha256) {
  Reader in(bytes);
  OcspEntry e;
  uint64_t version = 0, status = 0, present = 0, reason = 0, fqdn_len = 0, der_len = 0;
  int64_t revocation_time = 0;
  std::string_view fqdn, der;
  if (!in.uint(1, &version) || version != kEntryCodecVersion) return std::nullopt;
  if (!in.time(&e.produced_at) || !in.time(&e.this_update) || !in.time(&e.next_update) ||
      !in.time(&e.fetched_at) || !in.uint(1, &status) || !in.uint(1, &present) ||
      !in.time(&revocation_time) || !in.uint(1, &reason) || !in.uint(2, &fqdn_len) ||
      fqdn_len > kMaxFqdnBytes || !in.bytes(fqdn_len, &fqdn) || !in.uint(4, &der_len) || der_len == 0 ||
      !in.bytes(der_len, &der) || !in.atEnd()) {
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
  const Sha256Digest digest = sha256Digest(e.der);
  finishEntry(e, policy, asBytes(digest));
  if (der_sha256 != nullptr) *der_sha256 = digest;
  return e;
}

}  // namespace ocsp
