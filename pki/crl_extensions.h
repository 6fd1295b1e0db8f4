#pragma once
// What a CRL's own extensions say (RFC 5280 §5.2), read into ParsedCrl (pki/crl.h) by
// parseAndValidateCrl: which critical extensions it may carry, its number, whether it is a
// delta and on which base, where its deltas are published and whether its scope is partial.
// Pure and thread-safe.
#include <openssl/x509.h>

#include <string>

#include "core/result.h"
#include "pki/crl.h"

namespace ocsp {

// "name (dotted OID)" of an extension, for error details.
std::string extensionName(const ASN1_OBJECT* obj);

// Fills out->crl_number, delta, base_crl_number, freshest_urls and partial_scope:
//   - RFC 5280 §5.2: "If a CRL contains a critical extension that the application cannot
//     process, then the application MUST NOT use that CRL": a critical extension other than
//     cRLNumber, deltaCRLIndicator, AKI, issuingDistributionPoint, freshestCRL and
//     authorityInfoAccess is "unsupported";
//   - cRLNumber (§5.2.3) and the deltaCRLIndicator's BaseCRLNumber (§5.2.4): lower-case hex of
//     the magnitude ("00" for zero); a deltaCRLIndicator that is not one readable INTEGER is
//     "not_a_crl" (the CRL could not be placed against its base);
//   - freshestCRL (§5.2.6): the fullName URIs with scheme http of every distribution point, in
//     order (ldap: and the like cannot be fetched here; a nameRelativeToCRLIssuer names no URL);
//     an unreadable freshestCRL yields none;
//   - issuingDistributionPoint (§5.2.5): partial_scope when it limits the CRL to user, CA or
//     attribute certificates, to some reasons, or makes it indirect; an unreadable one counts
//     as partial (a serial missing from a CRL of unknown scope proves nothing).
Status readCrlExtensions(X509_CRL* crl, ParsedCrl* out);

}  // namespace ocsp
