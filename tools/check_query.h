#pragma once
// One OCSP question about one certificate, as `ocsp-proxy check` (check.h) and `ocsp-proxy
// explain` (explain.h) ask it: finding the certificate's issuer (in a file, among the
// certificates given, or from its AIA caIssuers URL) and its responder URL, then asking
// through the proxy or directly and validating the answer exactly as the proxy does
// (pki/validator.h), every step recorded in a check::Report (check_report.h).
//
// Blocking (one libcurl easy handle per transfer; the caller holds curl_global_init).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/ossl.h"
#include "core/result.h"
#include "tools/check_report.h"

namespace ocsp::check {

struct Issuer {
  SharedX509 cert;
  std::vector<SharedX509> others;  // the rest of the file or download: chain candidates
  std::string source;              // "file", "aia" or "chain"
  std::string origin;              // the path or the URL
};

// True if `issuer`'s name and key (AKID) match `cert`'s and its key verifies the signature.
bool signedBy(X509* cert, X509* issuer);

// The certificate among `certs` that signed `cert` (the others kept as chain candidates);
// the first one when none did, if `fallback_to_first`.
std::optional<Issuer> pickIssuer(std::vector<SharedX509> certs, X509* cert,
                                 bool fallback_to_first);

// The issuer of `cert` from a PEM or DER file (the certificate in it that signed `cert`, else
// the first). Error "no_issuer" when the file holds no certificate.
Result<Issuer> issuerFromFile(const std::string& path, X509* cert);

// RFC 5280 §4.2.2.1 caIssuers, fetched directly (never through a proxy: a forward proxy serves
// OCSP and CRL hosts, not the CA's certificate hosts). Error "no_issuer" with the reason.
Result<Issuer> issuerFromAia(X509* cert, int64_t timeout_ms);

// The certificate's first http AIA OCSP URL; error "no_ocsp_url" without one.
Result<std::string> ocspUrlOf(X509* cert);

// The serial number in upper-case hex ("" if unreadable).
std::string serialHex(const X509* cert);

struct Question {
  X509* cert = nullptr;
  X509* issuer = nullptr;
  std::string url;                 // the responder, http://
  std::optional<std::string> via;  // the proxy, as an HTTP forward proxy; nullopt: direct
  bool sha256 = false;             // CertID hash (default SHA-1, as RFC 5019 clients do)
  int64_t timeout_ms = 0;
  int64_t now = 0;  // seconds since the epoch, for validation
};

// Asks and validates (RFC 5019 §2.1.1: one CertID, no nonce, unsigned), filling in `r` from
// responder_url on: the route, the HTTP status and the proxy's X-OCSP-Proxy-Flags, what the
// answer says and whether it validated. On failure sets r.error_stage ("request",
// "transport", "http", "validation") and returns the error; an HTTP status other than 200
// fails with "http_status", whose detail ends with the first line of a text body (the proxy's
// reason for a refusal).
Status askStatus(const Question& q, Report& r);

// Records the failure of `stage` in `r` and returns it.
Status failAt(Report& r, const char* stage, Error error);

}  // namespace ocsp::check
