#pragma once
// The thin HTTP handler of the local-responder mode (DESIGN.md §2, STYLE.md): decodes an OCSP
// POST or RFC 5019 GET, calls the source chain, and maps the result to the HTTP answer in one
// place. Knows nothing about caches or curl.
//
// HTTP statuses it produces itself: 405 for methods other than GET/HEAD/POST (with Allow);
// 304 for a GET whose If-None-Match matches the answer's ETag. libevent itself answers 413
// for bodies over limits.max_request_bytes and drops clients idle past client_timeout.
// Everything else is HTTP 200 with an OCSPResponse body: the answer, or an unsigned error
// status (malformedRequest, unauthorized, tryLater, internalError; RFC 6960 §4.2.1).
//
// Threading: one instance per worker; handle() runs on that worker's event loop thread.
#include <event2/http.h>

#include "core/clock.h"
#include "core/ocsp_types.h"

namespace ocsp {

class HttpFront {
 public:
  // `chain` and `clock` must outlive this object and every request in flight.
  HttpFront(Source& chain, const Clock& clock) : chain_(chain), clock_(clock) {}

  // evhttp generic callback; `self` is the HttpFront.
  static void onRequest(evhttp_request* req, void* self);

 private:
  void handle(evhttp_request* req);
  void answer(evhttp_request* req, const OcspQuery& query, const Result<Answer>& result,
              int64_t started_ms);

  Source& chain_;
  const Clock& clock_;
};

}  // namespace ocsp
