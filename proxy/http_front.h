#pragma once
// The thin HTTP handler (DESIGN.md §1, §2, STYLE.md). Two modes on one listener:
//   - local responder: origin-form requests ("POST /", "GET /<base64>"): an OCSP POST or
//     RFC 5019 GET, answered through the source chain;
//   - forward proxy: absolute-form requests ("POST http://ocsp.example/ HTTP/1.1") from
//     clients that use us as their HTTP proxy. Only allow-listed FQDNs (AllowList) are served:
//     OCSP URLs go through the same chain (and cache keys) as the local responder, routed by
//     the URL's FQDN; CRL URLs are answered by the CrlService. It is never an open proxy.
// It decodes, calls the chain, and maps the result to the HTTP answer in one place. Knows
// nothing about caches or curl.
//
// HTTP statuses it produces itself:
//   405  methods other than GET/HEAD/POST (with Allow), CONNECT, POST to a CRL URL
//   403  forward request to a host that is not allowed, an IP literal, userinfo, a port not
//        configured, https, or forward mode disabled (event=forward_refused reason=...)
//   400  absolute URI that does not parse, or a Host header that disagrees with it
//   304  GET whose If-None-Match matches the ETag (OCSP, CRL), or CRL If-Modified-Since
//   502  CRL that could not be fetched or did not validate (reason in the log)
// libevent itself answers 413 for bodies over limits.max_request_bytes and drops clients
// idle past client_timeout. OCSP answers are HTTP 200 with an OCSPResponse body: the answer,
// or an unsigned error status (malformedRequest, unauthorized, tryLater, internalError;
// RFC 6960 §4.2.1).
//
// Threading: one instance per worker; handle() runs on that worker's event loop thread.
#include <event2/http.h>

#include <memory>

#include "cache/crl_store.h"
#include "conf/config.h"
#include "core/clock.h"
#include "core/mailbox.h"
#include "core/ocsp_types.h"
#include "core/url.h"
#include "upstream/allow_list.h"
#include "upstream/crl_service.h"

namespace ocsp {

class HttpFront {
 public:
  // Everything referenced must outlive this object and every request in flight. `crl` may be
  // null (CRL URLs then get 502).
  HttpFront(Source& chain, const Clock& clock, std::shared_ptr<const conf::Config> config,
            const AllowList& allow, CrlService* crl, Mailbox& mailbox)
      : chain_(chain), clock_(clock), config_(std::move(config)), allow_(allow), crl_(crl),
        mailbox_(mailbox) {}

  // evhttp generic callback; `self` is the HttpFront.
  static void onRequest(evhttp_request* req, void* self);

 private:
  void handle(evhttp_request* req);
  void handleForward(evhttp_request* req, const char* raw_uri, int64_t started_ms);
  void lookupOcsp(evhttp_request* req, Result<OcspQuery> decoded, int64_t started_ms,
                  const ForwardTarget* forward);
  void answer(evhttp_request* req, const OcspQuery& query, const Result<Answer>& result,
              int64_t started_ms);
  void answerCrl(evhttp_request* req, const Result<std::shared_ptr<const CrlEntry>>& result);

  Source& chain_;
  const Clock& clock_;
  std::shared_ptr<const conf::Config> config_;
  const AllowList& allow_;
  CrlService* crl_;
  Mailbox& mailbox_;
};

}  // namespace ocsp
