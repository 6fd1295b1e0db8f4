#pragma once
// The bytes an OcspEntry is stored as in Redis (docs/ARCHITECTURE.md §6.2): compact, versioned,
// and strict, because Redis is shared and anything may be in it. Layout of version 1, all
// integers big-endian:
//   u8  version (1)
//   i64 produced_at, this_update, next_update, fetched_at   (seconds since the epoch)
//   u8  status (0 good, 1 revoked, 2 unknown)
//   u8  revocation present (0 or 1)
//   i64 revocation time, i8 revocation reason               (0 and -1 when not present)
//   u16 upstream_fqdn length (at most 253, a host name's longest), then its bytes
//   u32 der length (> 0), then the response DER byte for byte
// Derived fields (fresh_until, hard_expiry, pre-rendered headers) are not stored: they depend
// on the reader's FreshnessPolicy and are recomputed with finishEntry. Decoding does not
// validate the DER; the Redis stage does that before serving (cache/redis_source.h).
#include <optional>
#include <string>
#include <string_view>

#include "core/ocsp_entry.h"
#include "core/ossl.h"
#include "pki/validator.h"

namespace ocsp {

inline constexpr uint8_t kEntryCodecVersion = 1;

std::string encodeEntry(const OcspEntry& entry);

// A Lua script (Redis EVAL) that stores an encoded entry unless the value already stored is
// a newer answer by the rule of supersedes() (core/ocsp_entry.h), read from the layout above.
// KEYS[1] the key; ARGV: the encoded entry, its TTL in ms, its thisUpdate, its producedAt,
// "1" if it is revoked else "0", and the latest thisUpdate that a stored value may have to be
// believed (later ones are not answers any reader would accept: they are overwritten).
// Returns 1 if stored, 0 if the stored value was kept. Checked and stored in one step, so
// that instances writing at once cannot let the older answer win.
extern const std::string_view kStoreUnlessOlderScript;

// nullopt for an unknown version, a truncated or over-long value, or a field out of range;
// so is a longer upstream FQDN, and times too are: outside years 0001..9999 (what an OCSP
// response's GeneralizedTime can say) they would overflow the derived times (fresh_until,
// refresh_at) computed from them.
// The result is cacheable and has its derived fields filled by finishEntry(…, policy). Its DER
// borrows from `bytes` (EntryDer::borrow): keep them until the entry is sealed or dropped.
// `der_sha256`, if given, receives the SHA-256 of the DER (computed for the ETag anyway).
std::optional<OcspEntry> decodeEntry(std::string_view bytes, const FreshnessPolicy& policy,
                                     Sha256Digest* der_sha256 = nullptr);
// Whether a decoded entry's fields (producedAt, thisUpdate, nextUpdate, status, revocation)
// say what its DER says, as validateResponse read it. A stored entry is served and ordered by
// its fields, so a value whose fields disagree with its signed bytes is refused whole.
bool entryMatchesResponse(const OcspEntry& decoded, const ValidatedResponse& validated);
// A temporary would be gone before the entry that borrows from it.
std::optional<OcspEntry> decodeEntry(std::string&& bytes, const FreshnessPolicy& policy,
                                     Sha256Digest* der_sha256 = nullptr) = delete;

}  // namespace ocsp
