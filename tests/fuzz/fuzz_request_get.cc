// Fuzz target: an OCSP request as an RFC 5019 GET path (proxy/request_decoder.h
// decodeOcspGetPath): %-escapes, both base64 alphabets, then the DER decoder. An accepted path
// must decode to the same request as its DER sent as a POST body.
#include <openssl/err.h>

#include <cstddef>
#include <cstdint>

#include "proxy/request_decoder.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ocsp;
  auto query = decodeOcspGetPath(fuzz::asView(data, size));
  FUZZ_CHECK(ERR_peek_error() == 0);
  if (!query.ok()) {
    FUZZ_CHECK(query.error().category == ErrorCategory::MalformedRequest);
    return 0;
  }
  FUZZ_CHECK(!query->cert_ids.empty());
  auto as_post = decodeOcspDer(query->request_der);
  FUZZ_CHECK(as_post.ok());
  FUZZ_CHECK(as_post->key == query->key);
  FUZZ_CHECK(as_post->nonce == query->nonce);
  return 0;
}
