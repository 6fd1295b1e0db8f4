#pragma once
// The bytes of the cache snapshot kept in state_dir (docs/ARCHITECTURE.md §6.6): the OCSP
// answers of the in-process cache and the CRL and caIssuers documents of the CRL stores, so
// that a restart during a CA outage still has what it held. Pure: encoding and decoding only,
// no I/O and no trust (the loader validates every record again, upstream/snapshot_restore.h).
//
// Layout of version 1, all integers big-endian:
//   8 bytes   magic "OCSPSNAP"
//   u32       version (1)
//   i64       written_at (seconds since the epoch)
//   u32, u32  how many answer records, how many document records follow
//   records, the answers first, each:  u8 type, u32 payload length, payload
//     type 1, answer:    32-byte cache key (core/cert_id.h);
//                        u16 CertID count (at least 1), then each CertID as u16 length + DER;
//                        u32 length + the entry as cache/entry_codec.h encodes it for Redis
//     type 2, CRL, and type 3, caIssuers document:
//                        i64 fetched_at; u16 length + URL; u32 length + the bytes as served
//   32 bytes  SHA-256 of every byte before it
// The trailer makes a torn, truncated or edited file fail as a whole. A decoder refuses a
// version it does not know (a newer proxy's file after a downgrade) rather than guess.
//
// Bounded: encodeSnapshot keeps the whole file within `max_bytes`, taking the records with the
// latest hard expiry first and leaving out each one that no longer fits (the answers and
// documents closest to expiry are the least worth keeping across a restart).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cache/crl_store.h"
#include "core/cert_id.h"
#include "core/result.h"

namespace ocsp {

inline constexpr uint32_t kSnapshotVersion = 1;
inline constexpr std::string_view kSnapshotMagic = "OCSPSNAP";
// The header (magic, version, written_at, the two counts) and the SHA-256 trailer.
inline constexpr size_t kSnapshotOverheadBytes = 8 + 4 + 8 + 4 + 4 + 32;

// One cached OCSP answer: the key it is cached under, the CertIDs it answers (DER, in the
// order the key was computed from) and the entry as cache/entry_codec.h encodes it.
struct SnapshotAnswer {
  CacheKey key{};
  std::vector<std::string> cert_ids;
  std::string entry;
  int64_t hard_expiry = 0;  // orders what the size bound leaves out; not stored
};

// One CRL or caIssuers document, as downloaded.
struct SnapshotDocument {
  DocKind kind = DocKind::Crl;
  std::string url;
  std::string bytes;
  int64_t fetched_at = 0;
  int64_t hard_expiry = 0;  // orders what the size bound leaves out; not stored
};

struct SnapshotContent {
  int64_t written_at = 0;
  std::vector<SnapshotAnswer> answers;
  std::vector<SnapshotDocument> documents;
  size_t left_out = 0;  // held but not collected (not stored; counted into the encoding's)
};

struct EncodedSnapshot {
  std::string bytes;
  size_t answers = 0;          // answer records written
  size_t documents = 0;        // document records written
  size_t left_out = 0;         // records the size bound left out, and the content's left_out
  std::string records_sha256;  // SHA-256 of the records alone: equal for equal content
};

// The file for `content`, at most `max_bytes` long (see the header comment); a bound below
// kSnapshotOverheadBytes gives an empty file with no record. A record whose fields do not fit
// their length fields (never one the caches hold) is left out too.
EncodedSnapshot encodeSnapshot(const SnapshotContent& content, size_t max_bytes);

// A record read back: views into the decoded bytes, which the caller keeps.
struct SnapshotAnswerView {
  CacheKey key{};
  std::vector<std::string_view> cert_ids;
  std::string_view entry;
};
struct SnapshotDocumentView {
  DocKind kind = DocKind::Crl;
  std::string_view url;
  std::string_view bytes;
  int64_t fetched_at = 0;
};
struct DecodedSnapshot {
  int64_t written_at = 0;
  std::vector<SnapshotAnswerView> answers;
  std::vector<SnapshotDocumentView> documents;
};

// Error::code names what is wrong (category Internal), Error::detail says it in words:
//   "truncated"       shorter than a header and a trailer
//   "foreign"         not a snapshot (another magic)
//   "version"         a version this build does not read (written by a newer one)
//   "checksum"        the trailer does not match (torn, truncated or edited)
//   "malformed"       the checksum holds but a record or a count is wrong (a bug, not damage)
// Nothing is validated beyond the layout: see upstream/snapshot_restore.h.
Result<DecodedSnapshot> decodeSnapshot(std::string_view bytes);

}  // namespace ocsp
