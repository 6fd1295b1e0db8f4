#pragma once
// Turns downloaded bytes into a CRL ready to store and serve (docs/ARCHITECTURE.md §8), off
// every event loop: a large CRL takes seconds to parse. Used by the stages that obtain CRL
// bytes (Redis, the download). It is the one step of the chain that depends on the kind of
// document (CrlParseRules::kind); the stages around it ask it for the kind. Rules:
//   - parsing and validation run on the parser thread, one document at a time, in the order
//     asked; the result comes back on the CRL thread (through `crl_thread`);
//   - a CRL is parsed and validated by pki/crl.h; the issuer candidates are read at each
//     parse (issuers learned through AIA count); a CRL whose issuer is unknown is refused
//     (ValidationFailed, code unknown_issuer) under crl.unknown_issuer: refuse, else kept
//     with signature_checked=false;
//   - a caIssuers document must be certificates (pki/ca_issuers_document.h), else it is
//     refused (ValidationFailed, code not_a_certificate) before anything stores or serves it;
//     the certificates of an accepted one go to CrlParseRules::on_certificates, on the parser
//     thread (the serials known to be issued, upstream/known_serials_feed.h);
//   - an accepted document becomes a CrlEntry with its freshness fields and header values
//     (finishCrlEntry, cache/crl_store.h), fetched_at = now; logged at debug
//     (event=crl_parsed or ca_issuers_parsed, with the parse time).
// Threading: parse() on the CRL thread; `done` runs there. Destroying the parser waits for
// the parse in progress; the others are dropped with their replies.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cache/crl_source.h"
#include "conf/config.h"
#include "core/clock.h"
#include "core/mailbox.h"
#include "core/ossl.h"
#include "core/work_queue.h"

namespace ocsp {

struct CrlParseRules {
  DocKind kind = DocKind::Crl;
  // Certificates that may sign CRLs (configured and learned issuers, crl.issuers); called on
  // the parser thread.
  std::function<std::vector<SharedX509>()> candidates;
  X509_STORE* trust_store = nullptr;  // forward.trust_store roots; may be null
  int64_t clock_skew_s = 300;         // cache.clock_skew
  conf::UnknownIssuerPolicy unknown_issuer = conf::UnknownIssuerPolicy::Pass;
  // How long a document is kept (finishCrlEntry): a CRL without nextUpdate
  // (cache.no_next_update_ttl), a caIssuers document (forward.aia_ttl).
  int64_t ttl_s = 300;
  double refresh_fraction = 0.5;  // cache.refresh_percent / 100
  // Kind CaIssuers: called on the parser thread with the certificates of each accepted
  // document; may be empty.
  std::function<void(const std::vector<SharedX509>&)> on_certificates;
};

// The check the parser thread runs by `rules` at `now` (the rules above): the entry it makes,
// without its URL, bytes, fetch time and freshness fields (the caller sets them, then calls
// finishCrlEntry). Pure; any thread. The cache snapshot's loader checks the documents it
// reads back with it (upstream/snapshot_restore.h).
Result<std::shared_ptr<CrlEntry>> checkDocument(const CrlParseRules& rules, std::string_view bytes,
                                                int64_t now);

class CrlParser {
 public:
  // `clock` and `crl_thread` must outlive this object.
  CrlParser(CrlParseRules rules, const Clock& clock, Mailbox& crl_thread)
      : rules_(std::move(rules)), clock_(clock), crl_thread_(crl_thread) {}

  // `url` names the entry (CrlEntry::url).
  void parse(const std::string& url, std::string bytes, CrlReply done);
  DocKind kind() const { return rules_.kind; }

 private:
  // CRL thread.
  Result<std::shared_ptr<const CrlEntry>> makeEntry(
      const std::string& url, std::string bytes, Result<std::shared_ptr<CrlEntry>> checked) const;

  const CrlParseRules rules_;
  const Clock& clock_;
  Mailbox& crl_thread_;
  WorkQueue queue_;  // last: destroyed first, while the members its job reads still exist
};

// The one line a stored document gets (event=crl_fetched or ca_issuers_fetched), `source`
// redis or upstream.
void logCrlFetched(const CrlEntry& entry, const char* source);

}  // namespace ocsp
