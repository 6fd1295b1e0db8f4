#pragma once
// What a caIssuers download (RFC 5280 §4.2.2.1) must be before the forward proxy caches or
// serves it to a client (docs/ARCHITECTURE.md §8): one certificate or a PKCS#7 bundle of
// certificates, DER or PEM, exactly as pki/issuer_completion.h's parseIssuerDownload reads it
// for the proxy's own AIA completion (trailing bytes, an empty PKCS#7, a CRL, an HTML error
// page or a truncated download are refused). Nothing here trusts the certificates: a client
// builds and checks its own chain, and the proxy only makes sure it passes on certificates,
// not whatever the host answered.
// Pure and thread-safe (it runs on the CRL parser thread).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/ossl.h"
#include "core/result.h"

namespace ocsp {

enum class CaIssuersForm : uint8_t {
  Certificate,  // one DER certificate: application/pkix-cert (RFC 2585 §4.1)
  Pkcs7,        // a DER (or BER) PKCS#7 SignedData: application/pkcs7-mime (RFC 5280 §4.2.2.1)
  Pem,          // PEM CERTIFICATE and/or PKCS7 blocks: application/x-pem-file
};

struct CaIssuersDocument {
  CaIssuersForm form = CaIssuersForm::Certificate;
  size_t certificates = 0;
  std::string subject;     // the first certificate's subject, one line (for logs, /status)
  int64_t not_before = 0;  // the latest notBefore of its certificates
  int64_t not_after = 0;   // the earliest notAfter of its certificates
};

// The Content-Type a document of `form` is served with.
const char* contentTypeOf(CaIssuersForm form);

// Error code "not_a_certificate" (category ValidationFailed) for anything that is not one of
// the forms above, with the reason in the detail; "internal" when OpenSSL cannot allocate.
// `certificates`, when given, receives the document's certificates (in their order) when it is
// accepted.
Result<CaIssuersDocument> checkCaIssuersDocument(
    std::string_view bytes, std::vector<SharedX509>* certificates = nullptr);

}  // namespace ocsp
