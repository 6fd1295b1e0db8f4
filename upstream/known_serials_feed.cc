#include "upstream/known_serials_feed.h"

#include <chrono>
#include <string>
#include <unordered_set>

#include "core/log.h"

namespace ocsp {

namespace {

using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, FreeWith<X509_STORE_CTX_free>>;

// The trust store's roots with `cert`'s issuer as subject (a hashed directory is read lazily,
// so they are looked up by name rather than listed).
X509StackPtr rootsNaming(X509_STORE* trust_store, X509* cert) {
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), trust_store, nullptr, nullptr) != 1) return nullptr;
  return X509StackPtr(X509_STORE_CTX_get1_certs(ctx.get(), X509_get_issuer_name(cert)));
}

// A candidate parent of `cert`: its subject is cert's issuer and its key is not cert's own (a
// root signed itself; a re-issued or cross-signed copy of it carries the same key).
bool mayHaveIssued(X509* ca, X509* cert) {
  return X509_NAME_cmp(X509_get_subject_name(ca), X509_get_issuer_name(cert)) == 0 &&
         EVP_PKEY_eq(X509_get0_pubkey(ca), X509_get0_pubkey(cert)) != 1;
}

// Tries `ca` as the parent of `cert`. A serial held under it already costs no signature check
// (a reload goes over the same certificates again).
bool addIfIssuedBy(KnownSerials& into, X509* cert, X509* ca) {
  if (!mayHaveIssued(ca, cert)) return false;
  return into.contains(issuerKeySha1(ca), certificateSerial(cert)) || into.addIssued(cert, ca);
}

// Appends `cert` to `out` unless a certificate with its DER is there already.
void addOnce(std::vector<SharedX509>& out, std::unordered_set<std::string>& held,
             const SharedX509& cert) {
  if (cert && held.insert(toDer(cert.get(), i2d_X509)).second) out.push_back(cert);
}

int64_t sinceMs(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

}  // namespace

bool addUnderIssuer(KnownSerials& into, X509* cert, const std::vector<SharedX509>& cas,
                    X509_STORE* trust_store) {
  if (cert == nullptr) return false;
  ErrorQueueGuard guard;
  for (const SharedX509& ca : cas) {
    if (addIfIssuedBy(into, cert, ca.get())) return true;
  }
  if (trust_store == nullptr) return false;
  X509StackPtr roots = rootsNaming(trust_store, cert);
  for (int i = 0; i < sk_X509_num(roots.get()); ++i) {  // sk_X509_num(nullptr) is -1
    if (addIfIssuedBy(into, cert, sk_X509_value(roots.get(), i))) return true;
  }
  return false;
}

std::vector<SharedX509> configuredCas(const conf::Config& config) {
  std::vector<SharedX509> out;
  std::unordered_set<std::string> held;
  for (const conf::Upstream& upstream : config.upstreams) {
    for (const conf::IssuerCert& issuer : upstream.issuers) addOnce(out, held, issuer.cert);
  }
  for (const conf::IssuerCert& issuer : config.watch.issuers) addOnce(out, held, issuer.cert);
  for (const conf::IssuerCert& issuer : config.crl.issuers) addOnce(out, held, issuer.cert);
  for (const conf::WatchedCa& watched : config.watch.intermediates) {
    addOnce(out, held, watched.cert);
    addOnce(out, held, watched.parent);
  }
  return out;
}

Result<KnownSerialsLoaded> loadKnownSerials(const conf::Config& config, const IssuerIndex& index,
                                            X509_STORE* trust_store,
                                            const std::vector<std::string>& known_serials_paths,
                                            KnownSerials& into) {
  const auto started = std::chrono::steady_clock::now();
  KnownSerialsLoaded loaded;
  const std::vector<SharedX509> cas = configuredCas(config);
  for (const SharedX509& ca : cas) {
    if (addUnderIssuer(into, ca.get(), cas, trust_store)) ++loaded.config_cas;
  }
  const std::vector<SharedX509> issuers = index.allIssuers();
  for (const LearnedIssuer& learned : index.learned()) {
    if (addUnderIssuer(into, learned.route->issuer.get(), issuers, trust_store)) ++loaded.learned;
  }
  for (const std::string& path : known_serials_paths) {
    auto files = loadKnownSerialsPath(path, cas, into);
    if (!files) return files.error();
    loaded.files.added += files->added;
    loaded.files.not_issued_by_configured += files->not_issued_by_configured;
    loaded.files.files += files->files;
  }
  loaded.took_ms = sinceMs(started);
  logEvent(LogLevel::Info, "known_serials_loaded",
           {{"config_cas", std::to_string(loaded.config_cas)},
            {"learned_issuers", std::to_string(loaded.learned)},
            {"files", std::to_string(loaded.files.files)},
            {"from_files", std::to_string(loaded.files.added)},
            {"not_issued_by_configured", std::to_string(loaded.files.not_issued_by_configured)},
            {"entries", std::to_string(into.size())},
            {"refused", std::to_string(into.refused())},
            {"took_ms", std::to_string(loaded.took_ms)}});
  return loaded;
}

}  // namespace ocsp
