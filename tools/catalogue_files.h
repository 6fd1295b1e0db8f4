#pragma once
// The issuer catalogue on disk (pki/issuer_catalogue.h decides what is in it): reading
// certificate bundles in, writing the catalogue out. Layout of a catalogue directory DIR:
//   DIR/<upstream name>/<name>_<first 8 hex of SHA-256>.pem   one certificate per file, with
//        a few text lines before the PEM block (subject, issuer, SHA-256, notAfter, route)
//   DIR/index.json    every kept and skipped certificate, machine-readable
//   DIR/CATALOGUE.md  the kept certificates as tables, per upstream, and the counts
// An upstream's directory holds nothing but the catalogue's files: writing removes the .pem
// files already there, so a certificate dropped from the bundles leaves the catalogue.
#include <optional>
#include <string>
#include <vector>

#include "pki/issuer_catalogue.h"

namespace ocsp::tools {

// Every certificate of a bundle file, or of each certificate file (*.pem, *.crt, *.cer, *.der,
// *.p7b, *.p7c) of a directory (not recursive, in name order): PEM blocks "CERTIFICATE" and
// "X509 CERTIFICATE" (any number, any text between them), else one DER certificate or a
// PKCS#7 certs-only bundle. A block that does not decode is an input with a `problem`, so that
// it gets its own line; nullopt (and `*error`) only when the path cannot be read at all.
std::optional<std::vector<CatalogueInput>> readBundle(const std::string& path,
                                                      std::string* error);

// The file name a certificate gets in the catalogue: letters, digits, '-' and '_' of its
// CN (else the whole subject), at most 64 characters, '_', the first 8 hex digits of its
// SHA-256, ".pem". Stable: the same certificate gets the same name in every run.
std::string catalogueFileName(const KeptIssuer& issuer);

// Writes the catalogue to `dir` (created if missing). `command` is recorded in CATALOGUE.md
// and index.json as the way to regenerate it. False and `*error` on an I/O failure.
bool writeCatalogue(const std::string& dir, const Catalogue& catalogue,
                    const std::vector<CatalogueUpstream>& upstreams, const std::string& command,
                    int64_t at, std::string* error);

}  // namespace ocsp::tools
