#pragma once
// What the network team is told after `ocsp-proxy responder-key new` (tools/responder_key.h):
// the config lines and how each OCSP client is made to trust the proxy's own responder
// certificate. The answers the CRL bridge signs come from neither the CA nor a responder the
// CA delegated to, so a client accepts them only as "a local configuration of OCSP signing
// authority" (RFC 6960 §4.2.2.2, trusted responder); docs/client-trust.md holds the same text.
#include <string>

namespace ocsp::tools {

struct ResponderFiles {
  std::string key_path;   // absolute
  std::string cert_path;  // absolute: where the certificate is (or goes, after --csr)
  std::string csr_path;   // absolute, or empty when a self-signed certificate was made
  std::string subject;    // RFC 2253, as Java's X500Principal.getName() prints it
  std::string sha256_fingerprint;  // of the certificate, "AB:CD:..."; empty after --csr
};

// The text printed to stdout.
std::string clientTrustText(const ResponderFiles& files);

}  // namespace ocsp::tools
