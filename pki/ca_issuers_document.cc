#include "pki/ca_issuers_document.h"

#include <openssl/x509.h>

#include <algorithm>
#include <limits>

#include "core/ossl.h"
#include "pki/issuer_completion.h"

namespace ocsp {

namespace {

// parseIssuerDownload reads DER when the first byte is a SEQUENCE tag: one certificate
// spanning every byte is a certificate, any other DER it accepted is a PKCS#7 bundle.
CaIssuersForm formOf(std::string_view bytes) {
  if (bytes.front() != 0x30) return CaIssuersForm::Pem;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const unsigned char* const end = p + bytes.size();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(bytes.size())));
  if (cert && p == end) return CaIssuersForm::Certificate;
  return bytes.find("-----BEGIN ") == std::string_view::npos ? CaIssuersForm::Pkcs7
                                                             : CaIssuersForm::Pem;
}

}  // namespace

const char* contentTypeOf(CaIssuersForm form) {
  switch (form) {
    case CaIssuersForm::Certificate:
      return "application/pkix-cert";
    case CaIssuersForm::Pkcs7:
      return "application/pkcs7-mime";
    case CaIssuersForm::Pem:
      break;
  }
  return "application/x-pem-file";
}

Result<CaIssuersDocument> checkCaIssuersDocument(std::string_view bytes,
                                                 std::vector<SharedX509>* certificates) {
  auto certs = parseIssuerDownload(bytes);
  if (!certs) return certs.error();
  ErrorQueueGuard guard;
  CaIssuersDocument doc;
  doc.form = formOf(bytes);
  doc.certificates = certs->size();
  doc.subject = subjectLine(certs->front().get());
  doc.not_before = std::numeric_limits<int64_t>::min();
  doc.not_after = std::numeric_limits<int64_t>::max();
  for (const SharedX509& cert : *certs) {
    auto not_before = asn1ToEpoch(X509_get0_notBefore(cert.get()));
    auto not_after = asn1ToEpoch(X509_get0_notAfter(cert.get()));
    if (!not_before || !not_after) {
      return makeError(ErrorCategory::ValidationFailed, "not_a_certificate",
                       "unreadable validity period in " + subjectLine(cert.get()));
    }
    doc.not_before = std::max(doc.not_before, *not_before);
    doc.not_after = std::min(doc.not_after, *not_after);
  }
  if (certificates != nullptr) *certificates = std::move(*certs);
  return doc;
}

}  // namespace ocsp
