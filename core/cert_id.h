#pragma once
// A CertID (RFC 6960 §4.1.1) as the client sent it, and what the proxy derives from a list of
// them: the request it sends upstream and the cache key (docs/ARCHITECTURE.md §3).
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/ossl.h"

namespace ocsp {

// One CertID as the client sent it. Bytes are raw (not hex). RFC 6960 §4.1.1.
struct CertIdInfo {
  int hash_nid = 0;               // NID of hashAlgorithm (NID_sha1, NID_sha256, ...)
  std::string issuer_name_hash;   // OCTET STRING contents
  std::string issuer_key_hash;    // OCTET STRING contents
  std::string serial;             // INTEGER contents (two's complement, as encoded)
  std::string der;                // DER of the whole CertID, to rebuild requests
};

// Extracts the fields of a CertID (RFC 6960 §4.1.1). False if it is not well formed.
bool certIdInfoFrom(const OCSP_CERTID* id, CertIdInfo* out);
// Same CertID: same hash algorithm, hashes, and serial number as an integer.
bool sameCertId(const CertIdInfo& a, const CertIdInfo& b);

// The request we send upstream under nonce policy `ignore`: these CertIDs, no nonce, no
// signature (RFC 5019 §2.1.1 profile). DER; empty on failure.
std::string encodeOcspRequest(const std::vector<CertIdInfo>& ids);

// Cache key: SHA-256 over the normalised CertID list (docs/ARCHITECTURE.md §3). A SHA-1 and a
// SHA-256 CertID for the same certificate are different keys.
using CacheKey = std::array<uint8_t, 32>;
CacheKey cacheKeyFor(const std::vector<CertIdInfo>& ids);
// Namespaced printable form: "ocsp:v1:<hex>".
std::string cacheKeyString(const CacheKey& key);
// The same, appended to `out` (no allocation once `out` has room).
void appendCacheKeyString(std::string& out, const CacheKey& key);

// noexcept and cheap: hash tables keyed by CacheKey then keep no copy of the hash per node.
struct CacheKeyHash {
  size_t operator()(const CacheKey& k) const noexcept {
    size_t h;
    static_assert(sizeof(h) <= sizeof(CacheKey));
    __builtin_memcpy(&h, k.data(), sizeof(h));
    return h;
  }
};

}  // namespace ocsp
