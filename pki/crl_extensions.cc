#include "pki/crl_extensions.h"

#include <openssl/x509v3.h>

#include <cctype>
#include <memory>
#include <utility>

namespace ocsp {
namespace {

using DistPointsPtr = std::unique_ptr<CRL_DIST_POINTS, FreeWith<CRL_DIST_POINTS_free>>;
using IssuingDistPointPtr =
    std::unique_ptr<ISSUING_DIST_POINT, FreeWith<ISSUING_DIST_POINT_free>>;

Error fail(std::string code, std::string detail) {
  return makeError(ErrorCategory::ValidationFailed, std::move(code), std::move(detail));
}

Status checkCritical(const X509_CRL* crl) {
  for (int i = 0; i < X509_CRL_get_ext_count(crl); ++i) {
    X509_EXTENSION* ext = X509_CRL_get_ext(crl, i);
    if (X509_EXTENSION_get_critical(ext) == 0) continue;
    const ASN1_OBJECT* obj = X509_EXTENSION_get_object(ext);
    switch (OBJ_obj2nid(obj)) {
      case NID_crl_number:
      case NID_delta_crl:
      case NID_authority_key_identifier:
      case NID_issuing_distribution_point:
      case NID_freshest_crl:
      case NID_info_access:
        continue;
      default:
        return fail("unsupported",
                    "critical CRL extension " + extensionName(obj) + " is not supported");
    }
  }
  return Ok{};
}

// Lower-case hex of a non-negative INTEGER's magnitude, "00" for zero.
std::string integerHex(const ASN1_INTEGER* number) {
  std::string_view bytes = asn1Bytes(number);
  while (!bytes.empty() && bytes.front() == '\0') bytes.remove_prefix(1);
  return bytes.empty() ? "00" : toHex(bytes);
}

// X509_CRL_get_ext_d2i sets `crit` to -1 when the extension is absent, -2 when repeated.
Asn1IntegerPtr readInteger(X509_CRL* crl, int nid, int* crit) {
  return Asn1IntegerPtr(static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, nid, crit, nullptr)));
}

bool isHttpUri(std::string_view uri) {
  constexpr std::string_view kScheme = "http://";
  if (uri.size() <= kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(uri[i])) != kScheme[i]) return false;
  }
  return true;
}

// RFC 5280 §5.2.6: the same syntax as cRLDistributionPoints (§4.2.1.13).
std::vector<std::string> freshestUrls(X509_CRL* crl) {
  std::vector<std::string> out;
  DistPointsPtr points(
      static_cast<CRL_DIST_POINTS*>(X509_CRL_get_ext_d2i(crl, NID_freshest_crl, nullptr, nullptr)));
  for (int i = 0; points && i < sk_DIST_POINT_num(points.get()); ++i) {
    const DIST_POINT* point = sk_DIST_POINT_value(points.get(), i);
    if (point->distpoint == nullptr || point->distpoint->type != 0) continue;  // not fullName
    const GENERAL_NAMES* names = point->distpoint->name.fullname;
    for (int n = 0; n < sk_GENERAL_NAME_num(names); ++n) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, n);
      if (name->type != GEN_URI) continue;
      std::string uri(asn1Bytes(name->d.uniformResourceIdentifier));
      if (isHttpUri(uri)) out.push_back(std::move(uri));
    }
  }
  return out;
}

// RFC 5280 §5.2.5.
bool partialScope(X509_CRL* crl) {
  int crit = -1;
  IssuingDistPointPtr idp(static_cast<ISSUING_DIST_POINT*>(
      X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, &crit, nullptr)));
  if (!idp) return crit != -1;  // present but unreadable or repeated
  return idp->onlyuser > 0 || idp->onlyCA > 0 || idp->onlyattr > 0 ||
         idp->onlysomereasons != nullptr || idp->indirectCRL > 0;
}

}  // namespace

std::string extensionName(const ASN1_OBJECT* obj) {
  char dotted[128];
  OBJ_obj2txt(dotted, sizeof(dotted), obj, 1);
  const char* name = OBJ_nid2sn(OBJ_obj2nid(obj));
  return name != nullptr ? std::string(name) + " (" + dotted + ")" : std::string(dotted);
}

Status readCrlExtensions(X509_CRL* crl, ParsedCrl* out) {
  Status critical = checkCritical(crl);
  if (!critical.ok()) return critical;
  auto number = readInteger(crl, NID_crl_number, nullptr);
  out->crl_number = number ? integerHex(number.get()) : "";

  int crit = -1;
  auto base = readInteger(crl, NID_delta_crl, &crit);
  out->delta = crit != -1;
  if (out->delta && !base) {
    return fail("not_a_crl", withOpensslErrors("CRL of " + out->issuer +
                                               " has an unreadable deltaCRLIndicator"));
  }
  out->base_crl_number = base ? integerHex(base.get()) : "";
  out->freshest_urls = freshestUrls(crl);
  out->partial_scope = partialScope(crl);
  return Ok{};
}

}  // namespace ocsp
