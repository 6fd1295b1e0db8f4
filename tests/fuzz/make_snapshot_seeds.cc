// Writes the seed corpus of fuzz_snapshot with the real encoder: the fuzz PKI's answers
// (tests/fuzz/corpus/validator/pki-resp-*.der) and CRLs (corpus/crl/pki-*.crl) put into the
// caches as the proxy holds them, then collected and encoded as the snapshot store does
// (cache/snapshot_store.h collectSnapshot, cache/snapshot_codec.h encodeSnapshot). Built in
// the normal build, run by tests/fuzz/make_corpus.sh:
//   make_snapshot_seeds FUZZ_DIR
// Seeds (corpus/snapshot/pki-snapshot-*): every answer and document; answers only; documents
// only; an empty cache; a bound that leaves the records closest to expiry out.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "cache/entry_codec.h"
#include "cache/snapshot_store.h"
#include "core/ossl.h"
#include "pki/validator.h"
#include "upstream/answer_entry.h"

namespace ocsp {
namespace {

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "make_snapshot_seeds: %s\n", what.c_str());
  std::exit(1);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()))) {
    fail("cannot write " + path);
  }
}

X509Ptr certificate(const std::string& path) {
  std::string why;
  std::vector<X509Ptr> certs = readCertificates(path, &why);
  if (certs.empty()) fail("no certificate in " + path + ": " + why);
  return std::move(certs.front());
}

// The CertIDs an answer lists, in its order, and its producedAt.
std::vector<CertIdInfo> certIdsIn(const std::string& der, int64_t* produced_at = nullptr) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  OcspResponsePtr response(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  OcspBasicRespPtr basic(response ? OCSP_response_get1_basic(response.get()) : nullptr);
  if (!basic) fail("not a basic OCSP response");
  std::vector<CertIdInfo> ids(static_cast<size_t>(OCSP_resp_count(basic.get())));
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!certIdInfoFrom(OCSP_SINGLERESP_get0_id(OCSP_resp_get0(basic.get(), static_cast<int>(i))),
                        &ids[i])) {
      fail("unreadable CertID");
    }
  }
  if (produced_at != nullptr) {
    auto t = asn1ToEpoch(OCSP_resp_get0_produced_at(basic.get()));
    if (!t) fail("unreadable producedAt");
    *produced_at = *t;
  }
  return ids;
}

// The cache entry of an answer the issuing CA's responder gave, as the upstream stage builds
// it once validated at `now`.
std::shared_ptr<const OcspEntry> entryOf(const std::string& der, X509* issuer, int64_t now,
                                         CacheKey* key) {
  const std::vector<CertIdInfo> ids = certIdsIn(der);
  ValidationInput in;
  in.der = der;
  in.cert_ids = &ids;
  in.issuer = issuer;
  in.now = now;
  auto v = validateResponse(in);
  if (!v) fail("answer does not validate: " + v.error().detail);
  *key = cacheKeyFor(ids);
  return sealValidatedAnswer(der, *v, {.fetched_at = now, .fqdn = "ocsp.fuzz.test"},
                             FreshnessPolicy{});
}

std::shared_ptr<const CrlEntry> documentOf(DocKind kind, const std::string& url,
                                           const std::string& bytes, int64_t now) {
  auto e = std::make_shared<CrlEntry>();
  e->kind = kind;
  e->url = url;
  e->bytes = bytes;
  e->fetched_at = now;
  e->hard_expiry = now + 86400;  // what the snapshot keeps of it: the bytes and the fetch time
  return e;
}

struct Caches {
  MemoryCache cache{64 << 20};
  CrlStore crls{64 << 20};
  CrlStore ca_issuers{64 << 20};
};

}  // namespace
}  // namespace ocsp

int main(int argc, char** argv) {
  using namespace ocsp;
  if (argc != 2) fail("usage: make_snapshot_seeds FUZZ_DIR");
  const std::string fuzz = argv[1];
  const std::string corpus = fuzz + "/corpus";
  X509Ptr ica = certificate(fuzz + "/pki/ica.pem");
  // The answers and CRLs were made together: a minute after an answer's producedAt, all of
  // them are valid, and the fuzz target reads them back at the time the snapshot was written.
  int64_t produced_at = 0;
  certIdsIn(slurp(corpus + "/validator/pki-resp-good.der"), &produced_at);
  const int64_t now = produced_at + 60;

  Caches held;
  for (const char* name : {"good", "revoked", "unknown", "three", "sha256", "good-ca-direct",
                           "revoked-key-id", "good-no-next-update"}) {
    CacheKey key{};
    auto entry = entryOf(slurp(corpus + "/validator/pki-resp-" + std::string(name) + ".der"),
                         ica.get(), now, &key);
    held.cache.put(key, entry);
  }
  held.crls.put(documentOf(DocKind::Crl, "http://crl.fuzz.test/ica.crl",
                           slurp(corpus + "/crl/pki-ica.crl"), now));
  held.crls.put(documentOf(DocKind::Crl, "http://crl.fuzz.test/root.crl",
                           slurp(corpus + "/crl/pki-root.crl"), now));
  held.ca_issuers.put(documentOf(DocKind::CaIssuers, "http://aia.fuzz.test/ica.cer",
                                 toDer(ica.get(), i2d_X509), now));
  Caches empty;

  auto seed = [&](const char* name, const Caches& caches, size_t max_bytes, bool answers,
                  bool documents) {
    auto content = collectSnapshot({&caches.cache, &caches.crls, &caches.ca_issuers}, now);
    if (!content) fail("collecting gave up");
    if (!answers) content->answers.clear();
    if (!documents) content->documents.clear();
    write(corpus + "/snapshot/pki-snapshot-" + name, encodeSnapshot(*content, max_bytes).bytes);
  };
  seed("all", held, SIZE_MAX, true, true);
  seed("answers", held, SIZE_MAX, true, false);
  seed("documents", held, SIZE_MAX, false, true);
  seed("empty", empty, SIZE_MAX, true, true);
  seed("bounded", held, 8192, true, true);
  return 0;
}
