#pragma once
// What feeds the serials known to be issued (upstream/known_serials.h, docs/ARCHITECTURE.md §8)
// from the certificates the proxy holds or sees. Rules:
//   - a certificate is added only under a CA the proxy already has (a configured or learned
//     issuer, a CA certificate of the config, a forward.trust_store root) whose subject is the
//     certificate's issuer and whose key verifies its signature: a document some host served
//     cannot put a serial under a CA by naming it;
//   - a certificate is never its own parent (a root's serial is not added under itself);
//   - at start and at each reload, on the main thread (loadKnownSerials): every CA
//     certificate of the config (upstreams[].issuers, watch.issuers, crl.issuers,
//     watch.intermediates and their parents) issued by another of them or by a trust-store
//     root, every issuer learned so far, and the crl_bridge.known_serials files; one line
//     event=known_serials_loaded says how many came from where. The set lives as long as the
//     process: a reload adds, never removes;
//   - each certificate of a caIssuers document the proxy served or fetched, on the CRL parser
//     thread (CrlParseRules::on_certificates, set by upstream/crl_service.h): never on a
//     worker's loop, since a document costs a signature check per certificate;
//   - each issuer learned through AIA completion or discovery when it is learned
//     (IssuerIndex::onLearned; one signature check per issuer, once per process).
// Thread-safe as KnownSerials is; `trust_store` is only read.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "conf/config.h"
#include "core/ossl.h"
#include "core/result.h"
#include "upstream/issuer_index.h"
#include "upstream/known_serials.h"

namespace ocsp {

// Adds `cert`'s serial under the certificate among `cas`, else among `trust_store`'s roots
// (may be null), that issued it. False if none did (or the set is full).
bool addUnderIssuer(KnownSerials& into, X509* cert, const std::vector<SharedX509>& cas,
                    X509_STORE* trust_store);

// Every CA certificate the config names: upstreams[].issuers, watch.issuers, crl.issuers,
// watch.intermediates and their parents; each certificate once. The issuers a
// crl_bridge.known_serials file may name.
std::vector<SharedX509> configuredCas(const conf::Config& config);

struct KnownSerialsLoaded {
  size_t config_cas = 0;  // CA certificates of the config added under their parent
  size_t learned = 0;     // learned issuers added under their parent
  KnownSerialsLoad files;
  int64_t took_ms = 0;
};

// At start and at each reload, on the main thread: the config's CAs, the issuers `index` has
// learned, then the `known_serials_paths` (crl_bridge.known_serials: files or directories,
// loadKnownSerialsPath). A file's error is returned as it is (category Config, path and line):
// the caller refuses the start or the reload; what was added before it stays. Logs
// event=known_serials_loaded (INFO) on success.
Result<KnownSerialsLoaded> loadKnownSerials(const conf::Config& config, const IssuerIndex& index,
                                            X509_STORE* trust_store,
                                            const std::vector<std::string>& known_serials_paths,
                                            KnownSerials& into);

}  // namespace ocsp
