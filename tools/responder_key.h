#pragma once
// `ocsp-proxy responder-key new --out DIR [--subject "CN=..."] [--days N]
// [--algorithm ec-p256|rsa-2048|rsa-3072] [--csr] [--force]`: makes the proxy's own OCSP
// responder key (crl_bridge.key, pki/responder_credentials.h) and either a self-signed
// responder certificate (DIR/responder.pem) or a request for the site's CA to certify it
// (DIR/responder.csr). Rules:
//   - DIR/responder.key is created mode 0600 from the start (never readable by anyone else,
//     even for a moment) and written in full before it appears under its name;
//   - existing files are never replaced without --force; nothing is written when one exists;
//   - the certificate (or the request) carries extendedKeyUsage id-kp-OCSPSigning
//     (RFC 6960 §4.2.2.2), id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1), basicConstraints
//     CA:FALSE and keyUsage digitalSignature (both critical), and a subjectKeyIdentifier;
//   - then it prints the SHA-256 fingerprint, the crl_bridge config lines, and how each
//     client is told to trust the key (tools/client_trust.h, docs/client-trust.md).
namespace ocsp::tools {

// argv[0] = "responder-key". Exit 0 when the files were written, 1 when they could not be
// (or one exists without --force; message on stderr), 64 for bad usage.
int runResponderKey(int argc, char** argv);

}  // namespace ocsp::tools
