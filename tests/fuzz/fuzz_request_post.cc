// Fuzz target: an OCSP request as a POST body (proxy/request_decoder.h decodeOcspDer).
// Besides memory errors and UB it checks what the front end relies on: errors are
// MalformedRequest, an accepted request has CertIDs and keeps the exact bytes it came in,
// and the same request sent as an RFC 5019 GET path decodes to the same key and nonce.
#include <openssl/err.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/base64.h"
#include "proxy/request_decoder.h"
#include "tests/fuzz/fuzz_util.h"

namespace ocsp {
namespace {

// RFC 5019 §5: standard base64, URL-encoded as most clients send it.
std::string urlEncodedPath(const std::string& b64) {
  std::string out = "/";
  for (char c : b64) {
    if (c == '+') {
      out += "%2B";
    } else if (c == '/') {
      out += "%2F";
    } else if (c == '=') {
      out += "%3D";
    } else {
      out += c;
    }
  }
  return out;
}

// The base64url alphabet without padding, as some clients send it instead.
std::string base64UrlPath(std::string b64) {
  for (char& c : b64) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return "/" + b64;
}

void checkSameAs(const OcspQuery& post, const Result<OcspQuery>& get) {
  FUZZ_CHECK(get.ok());
  FUZZ_CHECK(get->key == post.key);
  FUZZ_CHECK(get->nonce == post.nonce);
  FUZZ_CHECK(get->request_der == post.request_der);
}

}  // namespace
}  // namespace ocsp

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ocsp;
  const std::string_view body = fuzz::asView(data, size);
  auto query = decodeOcspDer(body);
  FUZZ_CHECK(ERR_peek_error() == 0);
  if (!query.ok()) {
    FUZZ_CHECK(query.error().category == ErrorCategory::MalformedRequest);
    return 0;
  }
  FUZZ_CHECK(!query->cert_ids.empty());
  FUZZ_CHECK(query->request_der == body);
  const std::string b64 = base64Encode(body);
  checkSameAs(*query, decodeOcspGetPath(urlEncodedPath(b64)));
  checkSameAs(*query, decodeOcspGetPath(base64UrlPath(b64)));
  return 0;
}
