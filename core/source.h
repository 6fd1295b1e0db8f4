#pragma once
// The request chain's contract (docs/ARCHITECTURE.md §2). A client's question (OcspQuery)
// passes through a chain of stages, each adding one behaviour (the policy, the in-process
// cache, Redis, coalescing, the upstream), and comes back as an Answer or an Error. Every
// stage implements Source, and every stage keeps these rules:
//   - The query is immutable once it enters the chain (the front decodes it, and the request
//     memo hands it to one request at a time: proxy/request_memo.h). What the stages decide
//     travels beside it in the Lookup, by value.
//   - The first stage (PolicySource) gets a Lookup that holds only the query. It decides
//     whether we may answer and where the query goes, and passes the routed Lookup down:
//     `route` set, `passthrough` and `issuer_revoked` decided. Below it, `route` is never
//     null, and no stage routes again.
//   - A stage answers, or asks the next stage with the Lookup it was given (a background
//     refresh asks with a copy that has `refresh` set). On the way back it may store what it
//     got; only validated answers are marked cacheable (OcspEntry::cacheable).
//   - `done` is called exactly once per lookup(), on the worker thread that called lookup(),
//     possibly before lookup() returns (a hit), with the Lookup it answers (the one the
//     caller passed) and the result. A stage destroyed with lookups in flight drops them:
//     their `done` is never called (it goes with its worker). The callee of `done` may not
//     assume the stage outlives the call.
//   - What a stage may keep, and for how long: the Lookup and `done` until it calls `done`
//     (they keep the query and the route alive); an Answer's entry as long as it likes (it is
//     immutable and shared). Nothing else of a request outlives its reply.
//   - `refresh`: a background lookup of MemorySource for an entry past refresh_at; no client
//     waits for it. A shared cache below (Redis) must not answer it with the copy it is meant
//     to replace; it still stores the new answer. The coalescer merges it like any lookup.
//   - `passthrough`: nonce passthrough (§3): the upstream gets the client's DER as sent. An
//     answer that echoes the nonce belongs to this client (not cacheable); one without a
//     nonce (the CA ignored it) is an ordinary answer, stored on the way back. The caches do
//     not answer the lookup while the CA answers (else the client would lose an echo it
//     could have had), but serve what they hold when it fails, and the coalescer lets it
//     through (each lookup carries its own nonce).
//   - Errors are values (core/result.h): the category picks the OCSP status, the code is the
//     metric label and log value.
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

// How the client reached us (docs/ARCHITECTURE.md §1): a local-responder URL, the proxy as
// its HTTP proxy (absolute-form request), or DNS pointing a CA's host name at us (an
// origin-form request whose Host names an allow-listed host). The metric label and the
// revocation log's `mode` are modeName().
enum class Mode { Responder, Forward, Transparent };
inline constexpr int kModes = 3;
inline const char* modeName(Mode m) {
  switch (m) {
    case Mode::Responder: return "responder";
    case Mode::Forward: return "forward";
    case Mode::Transparent: return "transparent";
  }
  return "responder";
}

// An issuer the proxy knows, and the upstream that answers for it.
struct Route {
  size_t upstream_index = 0;
  std::string upstream_name;
  // Validates the upstream's answer (docs/ARCHITECTURE.md §7). Null only for an issuer nobody
  // configured: in forward mode UpstreamSource then completes it through AIA or applies
  // forward.unknown_issuer; under `discover` (below) it completes it or refuses.
  SharedX509 issuer;
  std::string issuer_name;   // subject, for logs
  size_t first_fqdn = 0;     // the upstream FQDN tried first (forward mode: the URL's)
  std::string distrusted_as; // distrust[].name when the issuer's key is distrusted, else ""
  // Local-responder mode, issuer unknown, responder.unknown_issuer: discover
  // (docs/ARCHITECTURE.md §9): the upstreams are asked in turn (upstream/issuer_discovery.h);
  // an answer counts only once its issuer is completed through AIA and it validates.
  bool discover = false;
};

// What the client asked, decoded once by the front (proxy/request_decoder.h). Immutable once
// it enters the chain.
struct OcspQuery {
  std::string request_der;          // exactly what the client sent
  std::vector<CertIdInfo> cert_ids; // at least one
  // id-pkix-ocsp-nonce extension value as X509_EXTENSION_get_data gives it (the DER of the
  // inner OCTET STRING, `04 len ...`), if the request had one (RFC 8954).
  std::optional<std::string> nonce;
  CacheKey key{};
  Mode mode = Mode::Responder;
  std::string client;               // "ip:port" for logs
  std::string client_address;       // the peer's IP address alone (distrust[].clients), any mode
  // Forward and transparent mode: the upstream the URL (or Host) named (routed by its FQDN,
  // docs/ARCHITECTURE.md §1).
  std::optional<size_t> forward_upstream;
  size_t forward_fqdn = 0;          // index into that upstream's fqdns
};

// One query on its way through the chain, with what the first stage decided for it. Passed by
// value (two shared pointers and flags: a copy allocates nothing).
struct Lookup {
  std::shared_ptr<const OcspQuery> query{};  // never null
  // Set by PolicySource; never null below it. Null in a reply only when the policy refused
  // the query before it could route it (unknown or mixed issuers).
  std::shared_ptr<const Route> route{};
  // Nonce passthrough (docs/ARCHITECTURE.md §3): forward the client's DER as sent; an answer
  // that echoes its nonce is not cached.
  bool passthrough = false;
  // A background refresh (docs/ARCHITECTURE.md §4): shared caches below must not answer it
  // with the copy it is meant to replace; they still store the new answer.
  bool refresh = false;
  // The route's issuer is a watched intermediate found revoked (docs/ARCHITECTURE.md §9), as
  // the policy saw it when it routed the query: the front flags the answer.
  bool issuer_revoked = false;
  // The route's issuer is distrusted and this client is in the `warn` stage
  // (docs/ARCHITECTURE.md §9): the answer is served, and the front flags it distrust-pending.
  bool distrust_pending = false;
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

// The answer to one lookup() (rules above): called exactly once, on the worker thread that
// called lookup(), with the Lookup it answers and the result.
using Reply = std::function<void(const Lookup& lookup, Result<Answer> result)>;

// One stage of the request chain (rules above).
class Source {
 public:
  virtual ~Source() = default;
  virtual void lookup(Lookup lookup, Reply done) = 0;
};

}  // namespace ocsp
