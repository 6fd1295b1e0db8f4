#pragma once
// Completing an unknown issuer in forward-proxy mode (docs/ARCHITECTURE.md §9): a client asks about
// a certificate whose issuer CA is not configured, so the proxy learns the issuer from the
// delegated responder certificate embedded in the upstream's answer. Its AuthorityInfoAccess
// caIssuers URL (RFC 5280 §4.2.2.1) names where the issuer certificate is published; the
// caller fetches it (asynchronously, allow-listed FQDNs only), and these pieces decide whether
// the download is the issuer the CertID names and whether it chains to the system trust store.
//
// The order the caller follows:
//   embeddedResponderCerts -> caIssuersUrls -> (fetch) -> parseIssuerDownload
//   -> matchesCertId (pick the candidate) -> verifyIssuerChain (the rest of the download as
//   `untrusted`) -> validateResponse with the candidate as issuer.
// Nothing here trusts a downloaded certificate by itself: only the chain to `trust_store`
// does, and only the CertID match ties it to the question asked.
//
// Every function is pure and synchronous, safe to call from any thread at once (an X509_STORE
// may be shared by concurrent verifyIssuerChain calls), and leaves the calling thread's
// OpenSSL error queue empty. Arguments are borrowed for the call only; nothing keeps them.
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/cert_id.h"
#include "core/ossl.h"
#include "core/result.h"

namespace ocsp {

// The certificates embedded in a BasicOCSPResponse (the `certs` field, RFC 6960 §4.2.1), in
// order. Empty if the bytes are not exactly one successful OCSPResponse carrying a
// BasicOCSPResponse (trailing bytes count as not), or if it embeds none.
std::vector<SharedX509> embeddedResponderCerts(std::string_view ocsp_response_der);

// The http caIssuers URIs of `cert`'s AuthorityInfoAccess extension (RFC 5280 §4.2.2.1), in
// order, exactly as written in the certificate. Skipped: other access methods (OCSP), other
// schemes (https, ldap, ...), and URIs that core/url.h's parseHttpUrl rejects (control
// characters, no host, ...). Empty when `cert` is null or has no (or a malformed, or a
// duplicated) AuthorityInfoAccess extension.
std::vector<std::string> caIssuersUrls(X509* cert);

// A caIssuers download (RFC 5280 §4.2.2.1): one DER certificate ("application/pkix-cert"),
// a DER or BER PKCS#7 certs-only SignedData ("application/pkcs7-mime", .p7c), or the same in
// PEM ("CERTIFICATE", "X509 CERTIFICATE" or "PKCS7" blocks; several blocks allowed, other
// blocks ignored). Returns every certificate, in the order they appear. The input is read as
// DER when its first byte is a SEQUENCE tag (0x30), else (or if that fails and it holds a
// "-----BEGIN " line) as PEM. The caller caps the size (and must, before fetching).
// Error code "not_a_certificate" (category ValidationFailed) for anything else: empty input,
// trailing bytes after the DER object, a PKCS#7 that is not SignedData or holds no
// certificate, a malformed PEM block, PEM without a certificate; "internal" (category
// Internal) when OpenSSL cannot allocate.
Result<std::vector<SharedX509>> parseIssuerDownload(std::string_view bytes);

// True if `cert` is the issuer the CertID names (RFC 6960 §4.1.1): issuerNameHash is the hash
// of the DER of `cert`'s subject and issuerKeyHash the hash of the value of its
// subjectPublicKey BIT STRING, both with the CertID's hash algorithm. False for a null cert or
// a hash algorithm OpenSSL does not provide.
bool matchesCertId(X509* cert, const CertIdInfo& id);

// Verifies that `candidate` is a CA certificate and chains to a root in `trust_store` at
// `now` (seconds since the epoch; X509_V_FLAG_USE_CHECK_TIME, so the host clock is never
// read). `untrusted` holds extra intermediates that may sit between (e.g. the rest of a
// PKCS#7 download); it may be null. A candidate that is itself a root in `trust_store`
// passes. No partial chains: a chain that stops at an intermediate is untrusted.
// Error codes, category ValidationFailed:
//   "not_a_ca"        basicConstraints is absent or CA:FALSE, or keyUsage is present without
//                     keyCertSign (X509_check_ca() != 1)
//   "untrusted_chain" X509_verify_cert refused; the detail carries
//                     X509_verify_cert_error_string and the certificate at the failing depth
// and "internal" (category Internal) for a null candidate or store, or allocation failure.
Status verifyIssuerChain(X509* candidate, X509_STORE* trust_store, STACK_OF(X509) * untrusted,
                         int64_t now);

// Loads a trust store from a directory of hashed names (CApath as `openssl rehash` makes it,
// e.g. /etc/ssl/certs; certificates are read lazily, when a chain needs them) or from a PEM
// file of roots (read now). For start-up and reload: error code "trust_store", category
// Config, detail naming the path and the reason (errno text, OpenSSL's reason, "no
// certificate", or a directory without any "<8 hex>.<n>" certificate name).
Result<X509StorePtr> loadTrustStore(const std::string& path);

}  // namespace ocsp
