#pragma once
// The CRL pipeline's stage interface (docs/ARCHITECTURE.md §8), the CRL counterpart of
// `Source` (core/source.h): each stage answers a CrlQuery or asks the next stage, and on
// the way back does its one thing with the result. The chain is wired in
// upstream/crl_service.cc; each stage's header states its rules and on which thread its
// lookup() and reply run (the caller's worker thread above the coalescer, the CRL thread
// below it).
//
// Reply contract: called exactly once, on the thread the stage's header names, possibly
// before lookup() returns (a hit). A stage that is destroyed with lookups in flight drops
// their replies (the CRL thread stops before its stages go).
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "cache/crl_store.h"
#include "core/mailbox.h"
#include "core/result.h"
#include "core/url.h"

namespace ocsp {

// Who owns the result: the entry is immutable and shared with the store and the replies
// sending it; an error's category is UpstreamUnavailable (download failed) or
// ValidationFailed (not a usable CRL), its code the reason logged.
using CrlReply = std::function<void(Result<std::shared_ptr<const CrlEntry>>)>;

struct CrlQuery {
  HttpUrl url;
  std::string key;     // url.text(): what is fetched and what the CRL is stored under
  std::string client;  // for logs: a client address, "watch", or "" for the refresh timer
  // The caller's thread: where a result computed on the CRL thread is delivered. Null for
  // the refresh timer's lookups (nobody waits for those).
  Mailbox* reply_to = nullptr;
  // A background refresh of a CRL held: the shared copies (Redis, a CRL stored meanwhile)
  // are what it is meant to replace, so only the CA answers it.
  bool refresh = false;
  // Set by the backoff stage: the URL is failing already, so its failures are debug detail.
  bool quiet = false;
  // Set by the bounds stage: the stage that downloads the CRL calls it once with the CRL's
  // size, so the bound holds that instead of crl.max_bytes. May be empty.
  std::function<void(size_t bytes)> downloaded;
};

class CrlSource {
 public:
  virtual ~CrlSource() = default;
  virtual void lookup(CrlQuery query, CrlReply done) = 0;
};

}  // namespace ocsp
