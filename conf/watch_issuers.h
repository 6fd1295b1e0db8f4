#pragma once
// watch.issuers (docs/ARCHITECTURE.md §9): intermediates watched without an entry each. In
// phase 2 the certificates of watch.issuers become watch.intermediates entries, after the
// explicit ones. Rules:
//  - watched: every CA certificate that is not self-signed, not expired, and whose parent is
//    found. A self-signed one (a root) is only ever a parent; not yet valid is watched.
//  - skipped, not an error: not a CA, expired, or no parent found. They are listed in
//    Watch::skipped; the load logs them once (WARN event=watch_issuers_skipped with the count
//    and the first few).
//  - the parent is a certificate of watch.issuers, upstreams[].issuers, crl.issuers or a
//    watch.intermediates entry (its cert or parent) whose subject is the certificate's issuer
//    name and whose key verifies its signature (X509_check_issued, then the signature).
//    Every such candidate has the same name and key, so the CertID asked (RFC 6960 §4.1.1:
//    issuer name and key hashes) is the same whichever is taken; among cross-signs and
//    re-issues the pick is, whatever the load order: valid now, then self-signed, then the
//    latest notAfter, then the lowest SHA-256 of the DER.
//  - once each: a certificate found twice (two files, two directories) is watched once, and
//    one that a watch.intermediates entry names is left to that entry (its name and ocsp_url
//    win).
//  - the name (a log field and metric label): the subject's CN with every run of characters
//    other than letters, digits, '_' and '.' made one '-' ("Staat der Nederlanden Root CA -
//    G3" -> "Staat-der-Nederlanden-Root-CA-G3"; "ca" without a CN). A name that two certificates of watch.issuers would share, or that an entry of
//    watch.intermediates has, gets "-" and the first 8 hex digits of the certificate's
//    SHA-256 on every certificate it stands for, so each name stays with its certificate
//    whatever else is loaded.
#include <cstdint>
#include <optional>
#include <string>

#include "conf/config.h"

namespace ocsp::conf {

// Appends the watched certificates of watch.issuers to watch.intermediates and fills
// watch.skipped. `now`: seconds since the epoch, for "expired".
void addWatchedIssuers(Config& config, int64_t now);

// The name watch.issuers gives a certificate before it is made unique.
std::string watchNameOf(X509* cert);

// Why `parent` did not issue `cert`, or nullopt if it did. X509_check_issued compares names,
// key identifiers and the parent's keyUsage; only the signature proves the parent's key.
std::optional<std::string> notIssuedBecause(X509* parent, X509* cert);

}  // namespace ocsp::conf
