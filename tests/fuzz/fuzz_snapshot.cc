// Fuzz target: the cache snapshot read back at start (cache/snapshot_codec.h decodeSnapshot,
// upstream/snapshot_restore.h restoreSnapshot). The file lives in state_dir, where a crash, a
// full disk or an operator can leave anything: reading it must never crash, and nothing in it
// may reach the caches without passing again. The input is the file; it is restored into
// empty caches against a fixed config (upstream "fuzz" with the fuzz PKI's issuing CA), at the
// time the snapshot says it was written (so the seeds, made by the real encoder from that
// PKI's answers and CRLs, are inside their validity), or a fixed date for a time no clock
// would have written. Checked:
//   - a file that decodes re-encodes to the same bytes (one encoding per content);
//   - every record is either loaded or dropped, and a file that does not decode loads
//     nothing;
//   - every answer in the cache afterwards validates, at that time, against its issuer and
//     the CertIDs of the record it came from, and is before its hard expiry;
//   - the OpenSSL error queue is empty afterwards.
#include <openssl/err.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cache/snapshot_codec.h"
#include "pki/validator.h"
#include "tests/fuzz/fuzz_util.h"
#include "upstream/snapshot_restore.h"

namespace ocsp {
namespace {

constexpr int64_t kFallbackNow = 1795392000;  // 2026-11-23T00:00:00Z
constexpr int64_t kEarliest = 946684800;      // 2000-01-01: no clock writes a snapshot before
constexpr int64_t kLatest = 4102444800;       // 2100-01-01

struct Fixture {
  conf::Config config;
  std::unique_ptr<IssuerIndex> index;

  Fixture() {
    conf::Upstream u;
    u.name = "fuzz";
    u.fqdns = {"ocsp.fuzz.test"};
    u.issuers.push_back(
        conf::IssuerCert{"ica.pem", shareX509(fuzz::loadCert(fuzz::pkiFile("ica.pem")))});
    config.upstreams = {u};
    index = std::make_unique<IssuerIndex>(config);
  }

  CrlParseRules rules(DocKind kind) const {
    CrlParseRules r;
    r.kind = kind;
    const IssuerIndex* issuers = index.get();
    r.candidates = [issuers] { return issuers->allIssuers(); };
    r.ttl_s = kind == DocKind::Crl ? 300 : 86400;
    return r;
  }
};

const Fixture& fixture() {
  static const Fixture f;
  return f;
}

SnapshotContent contentOf(const DecodedSnapshot& d) {
  SnapshotContent c;
  c.written_at = d.written_at;
  for (const SnapshotAnswerView& a : d.answers) {
    SnapshotAnswer out;
    out.key = a.key;
    out.cert_ids.assign(a.cert_ids.begin(), a.cert_ids.end());
    out.entry = a.entry;
    c.answers.push_back(std::move(out));
  }
  for (const SnapshotDocumentView& doc : d.documents) {
    c.documents.push_back(SnapshotDocument{doc.kind, std::string(doc.url), std::string(doc.bytes),
                                           doc.fetched_at, 0});
  }
  return c;
}

// The CertIDs a record lists, parsed; empty if one does not parse.
std::vector<CertIdInfo> certIdsOf(const SnapshotAnswerView& a) {
  std::vector<CertIdInfo> ids;
  for (std::string_view der : a.cert_ids) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    OcspCertIdPtr id(d2i_OCSP_CERTID(nullptr, &p, static_cast<long>(der.size())));
    CertIdInfo info;
    if (!id || !certIdInfoFrom(id.get(), &info)) return {};
    ids.push_back(std::move(info));
  }
  ERR_clear_error();
  return ids;
}

}  // namespace
}  // namespace ocsp

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ocsp;
  const Fixture& f = fixture();
  const std::string input(fuzz::asView(data, size));
  auto decoded = decodeSnapshot(input);
  int64_t now = kFallbackNow;
  if (decoded) {
    FUZZ_CHECK(encodeSnapshot(contentOf(*decoded), SIZE_MAX).bytes == input);
    if (decoded->written_at >= kEarliest && decoded->written_at <= kLatest) {
      now = decoded->written_at;
    }
  }

  MemoryCache cache(64 << 20);
  CrlStore crls(64 << 20);
  CrlStore ca_issuers(64 << 20);
  SnapshotRestoreOptions options;
  options.crl_rules = f.rules(DocKind::Crl);
  options.ca_issuers_rules = f.rules(DocKind::CaIssuers);
  options.threads = 1;
  const SnapshotLoadReport report =
      restoreSnapshot(input, *f.index, {cache, crls, &ca_issuers}, options, now, nullptr);
  FUZZ_CHECK(ERR_peek_error() == 0);
  if (!decoded) {
    FUZZ_CHECK(report.result == "invalid");
    FUZZ_CHECK(cache.stats().entries == 0 && crls.stats().entries == 0);
    return 0;
  }
  FUZZ_CHECK(report.result == "loaded");
  FUZZ_CHECK(report.answers + report.crls + report.ca_issuers + report.dropped ==
             decoded->answers.size() + decoded->documents.size());

  // The records each cached answer may have come from (a key may repeat in a file).
  std::map<CacheKey, std::vector<const SnapshotAnswerView*>> records;
  for (const SnapshotAnswerView& a : decoded->answers) records[a.key].push_back(&a);
  cache.forEach([&](const CacheKey& key, const std::shared_ptr<const OcspEntry>& entry) {
    FUZZ_CHECK(now < entry->hard_expiry);
    std::vector<CertIdInfo> ids;
    for (const SnapshotAnswerView* a : records[key]) {
      ids = certIdsOf(*a);
      if (!ids.empty() && cacheKeyFor(ids) == key) break;
    }
    FUZZ_CHECK(!ids.empty() && cacheKeyFor(ids) == key);
    auto route = f.index->find(ids.front());
    FUZZ_CHECK(route != nullptr);
    const std::string der = entry->der.bytes();  // a cached entry may hold it in two parts
    ValidationInput in;
    in.der = der;
    in.cert_ids = &ids;
    in.issuer = route->issuer.get();
    in.now = now;
    FUZZ_CHECK(validateResponse(in).ok());
  });
  FUZZ_CHECK(ERR_peek_error() == 0);
  return 0;
}
