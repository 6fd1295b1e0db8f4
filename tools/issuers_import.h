#pragma once
// `ocsp-proxy issuers import BUNDLE... [--config FILE] [--roots PATH]... [--out DIR]
// [--at TIME]`: builds the issuer catalogue (pki/issuer_catalogue.h: what is kept and the
// routing rule) from certificate bundles and writes it (tools/catalogue_files.h). Prints one
// line per certificate: kept (upstream, OCSP host, why), skipped (reason, detail), and a
// note per RFC 5280 departure; then the totals, the OCSP hosts no upstream serves, and the
// CRL and caIssuers hosts the config does not allow yet.
namespace ocsp::tools {

// argv[0] = "issuers". Exit 0 when at least one certificate of the bundles (or of --roots)
// is in the catalogue; 1 when none is, or the config or a bundle cannot be read (message on
// stderr); 64 for bad usage.
int runIssuers(int argc, char** argv);

}  // namespace ocsp::tools
