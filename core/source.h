#pragma once
// The request chain's contract (docs/ARCHITECTURE.md §2): what the client asked (OcspQuery),
// where it goes (Route), what we answer with (Answer), and the interface every stage
// implements (Source).
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/cert_id.h"
#include "core/ocsp_entry.h"
#include "core/ossl.h"
#include "core/result.h"

namespace ocsp {

enum class Mode { Responder, Forward };

// An issuer the proxy knows, and the upstream that answers for it.
struct Route {
  size_t upstream_index = 0;
  std::string upstream_name;
  // Validates the upstream's answer (docs/ARCHITECTURE.md §7). Null only in forward mode for an
  // issuer nobody configured: UpstreamSource then completes it through AIA or applies
  // forward.unknown_issuer.
  SharedX509 issuer;
  std::string issuer_name;   // subject, for logs
  size_t first_fqdn = 0;     // the upstream FQDN tried first (forward mode: the URL's)
  std::string distrusted_as; // distrust[].name when the issuer's key is distrusted, else ""
};

struct OcspQuery {
  std::string request_der;          // exactly what the client sent
  std::vector<CertIdInfo> cert_ids; // at least one
  // id-pkix-ocsp-nonce extension value as X509_EXTENSION_get_data gives it (the DER of the
  // inner OCTET STRING, `04 len ...`), if the request had one (RFC 8954).
  std::optional<std::string> nonce;
  CacheKey key{};
  Mode mode = Mode::Responder;
  std::string client;               // "ip:port" for logs
  // Forward mode: the upstream the URL named (routed by its FQDN, docs/ARCHITECTURE.md §1).
  std::optional<size_t> forward_upstream;
  size_t forward_fqdn = 0;          // index into that upstream's fqdns
  // Set once by PolicySource, the first stage, before the query goes further down the chain;
  // read-only afterwards. `mutable` so that routing does not cost a copy of the query.
  mutable std::shared_ptr<const Route> route;
  // Nonce passthrough (docs/ARCHITECTURE.md §3): forward the client's DER as sent, answer uncached.
  mutable bool passthrough = false;
  // A background refresh (docs/ARCHITECTURE.md §4): shared caches below must not answer it with the
  // copy it is meant to replace; they still store the new answer.
  bool refresh = false;
};

enum class AnswerSource { Memory, Redis, Upstream, Stale };
inline const char* answerSourceName(AnswerSource s) {
  switch (s) {
    case AnswerSource::Memory: return "memory";
    case AnswerSource::Redis: return "redis";
    case AnswerSource::Upstream: return "upstream";
    case AnswerSource::Stale: return "stale";
  }
  return "upstream";
}

struct Answer {
  std::shared_ptr<const OcspEntry> entry;
  AnswerSource source = AnswerSource::Upstream;
  // A coalesced waiter's copy of another lookup's answer: the leader's chain already stored
  // it (the in-process cache is shared), so stages must not store it again.
  bool coalesced = false;
};

// Called exactly once, on the worker thread that called lookup(). May be called before
// lookup() returns (synchronous hit). The callee may not assume the Source outlives the call.
using Reply = std::function<void(Result<Answer>)>;

// One stage of the request pipeline (docs/ARCHITECTURE.md §2). A stage that cannot answer calls the
// next; on the way back, stages store what passed validation.
class Source {
 public:
  virtual ~Source() = default;
  virtual void lookup(std::shared_ptr<const OcspQuery> query, Reply done) = 0;
};

}  // namespace ocsp
