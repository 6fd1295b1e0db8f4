#pragma once
// Serials known to have been issued, per issuing CA (docs/ARCHITECTURE.md §8): what lets the
// CRL bridge (upstream/crl_bridge_source.h) answer `good` honestly. A CRL lists only what was
// revoked; a serial it does not list may never have been issued at all (DigiNotar's forged
// certificates were in no CA database), so the bridge answers `good` only for a serial this
// set holds and `unknown` otherwise (unless the site opts in to crl_bridge.unlisted: good).
// Where serials come from (wired by upstream/known_serials_feed.h):
//   - crl_bridge.known_serials files the site imports (loadKnownSerialsPath below);
//   - the CA certificates of the config (upstreams[].issuers, watch.issuers, crl.issuers,
//     watch.intermediates): each one is a serial its parent issued;
//   - certificates the proxy relayed or fetched itself (caIssuers documents served to clients,
//     issuers learned through AIA completion or discovery), each added under the CA whose key
//     verifies its signature.
// An issuer is named by the SHA-1 of its public key (the BIT STRING's contents, as a CertID's
// issuerKeyHash under SHA-1, RFC 6960 §4.1.1), so the same key under a re-issued or
// cross-signed certificate shares its serials. Serials are kept as their big-endian magnitude
// without leading zero bytes, so "00ab" from a CertID and "ab" from a file are one serial.
// Bounded: at most `max_entries` serials (beyond that an add is refused and counted).
// Thread-safe: lookups take a shared lock, adds an exclusive one.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/ossl.h"
#include "core/result.h"

namespace ocsp {

// SHA-1 of the certificate's public key BIT STRING contents (20 raw bytes).
std::string issuerKeySha1(X509* issuer);
// `cert`'s serial as INTEGER content bytes, as a CertID for it carries them (OpenSSL keeps a
// certificate's serial as a magnitude and a sign); "" for a negative serial.
std::string certificateSerial(X509* cert);

class KnownSerials {
 public:
  explicit KnownSerials(size_t max_entries = 10'000'000);

  // `serial`: INTEGER content bytes (a CertID's, a certificate's: two's complement, so a
  // magnitude whose top bit is set needs its 0x00 sign byte); empty or negative serials are
  // refused. False when refused or over the bound. Adding a serial held already is true.
  bool add(std::string_view issuer_key_sha1, std::string_view serial);
  bool contains(std::string_view issuer_key_sha1, std::string_view serial) const;
  // `cert` was issued by `issuer` (its signature verifies with issuer's key): adds its serial.
  // False if it was not issued by `issuer`.
  bool addIssued(X509* cert, X509* issuer);
  size_t size() const;
  // Adds refused because the set held `max_entries` serials already.
  uint64_t refused() const;

 private:
  const size_t max_entries_;
  mutable std::shared_mutex mu_;
  std::unordered_set<std::string> keys_;  // issuer_key_sha1 + magnitude
  uint64_t refused_ = 0;
};

// A crl_bridge.known_serials entry: a file (or a directory of files) the site exports from its
// CA or its inventory. Two formats, told apart by content:
//   - certificates (PEM, one or many; or one DER): each added under the configured issuer
//     whose key verifies it (`issuers`); certificates no issuer signed are counted, not added;
//   - text: one serial per line in hex (colons and spaces allowed, "0x" optional), `#`
//     comments, after a first line `issuer: <SHA-256 fingerprint of the issuer certificate>`
//     (hex, colons allowed) naming which of `issuers` issued them (a later `issuer:` line
//     names the issuer of the serials after it).
// A file is certificates when its first bytes are a DER SEQUENCE or a line of it begins a PEM
// block (then every block must be a CERTIFICATE; text around the blocks is ignored).
// Error codes (category Config) with path and line: "known_serials_unreadable",
// "known_serials_format" (line N: what is wrong), "known_serials_issuer" (the fingerprint names
// no configured issuer).
// The first error stops the load; what was added before it stays in `into`.
struct KnownSerialsLoad {
  size_t added = 0;                     // serials added (or held already)
  size_t not_issued_by_configured = 0;  // certificates no configured issuer signed
  size_t files = 0;                     // files read
};
Result<KnownSerialsLoad> loadKnownSerialsFile(const std::string& path,
                                              const std::vector<SharedX509>& issuers,
                                              KnownSerials& into);
// A crl_bridge.known_serials entry that is a file or a directory: a directory's regular files
// (not its subdirectories, not names beginning with '.') are loaded in name order with
// loadKnownSerialsFile and their counts summed; the first error stops the load. A directory
// with no file loads nothing and is no error (the site has not exported yet).
Result<KnownSerialsLoad> loadKnownSerialsPath(const std::string& path,
                                              const std::vector<SharedX509>& issuers,
                                              KnownSerials& into);

}  // namespace ocsp
