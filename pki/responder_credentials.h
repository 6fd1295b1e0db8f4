#pragma once
// The proxy's own OCSP responder key and certificate (crl_bridge.key, crl_bridge.cert;
// docs/ARCHITECTURE.md §8): what signs the answers the CRL bridge builds from validated CRLs.
// The site controls them: `ocsp-proxy responder-key new` makes them (tools/responder_key.h),
// or the site's own CA certifies the key. Loaded once per config (phase 2), never from a
// client. A credential is accepted only if:
//   - the key file is a regular file not readable by group or others (mode & 077 == 0): the key
//     can sign any answer for any CA the bridge serves, so a world-readable key is refused;
//   - the key is a private key (PEM, PKCS#8 or traditional) and the certificate (PEM) holds
//     its public key;
//   - the certificate carries extendedKeyUsage id-kp-OCSPSigning (RFC 6960 §4.2.2.2) and is
//     valid at `now`.
// Thread-safe once loaded (immutable, shared).
#include <cstdint>
#include <memory>
#include <string>

#include "core/ossl.h"
#include "core/result.h"

namespace ocsp {

struct ResponderCredentials {
  std::shared_ptr<EVP_PKEY> key;
  SharedX509 cert;
  std::string cert_der;      // the certificate, DER (embedded in every answer)
  std::string subject;       // one-line subject (RFC 2253), for logs and instructions
  int64_t not_after = 0;     // seconds since the epoch
};

// Error codes (category Config), each with the path and the reason in the detail:
//   "responder_key_unreadable"      missing, not a regular file, or not a private key
//   "responder_key_permissions"     readable by group or others (the detail gives the mode and
//                                   the chmod that fixes it)
//   "responder_cert_unreadable"     missing or not a PEM certificate
//   "responder_key_mismatch"        the certificate does not hold the key's public key
//   "responder_cert_not_ocsp_signing"  no id-kp-OCSPSigning
//   "responder_cert_expired"        not valid at `now` (either bound)
Result<std::shared_ptr<const ResponderCredentials>> loadResponderCredentials(
    const std::string& key_path, const std::string& cert_path, int64_t now);

}  // namespace ocsp
