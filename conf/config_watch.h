#pragma once
// The revocation_log and watch keys (docs/ARCHITECTURE.md §9, §10): their value parsers, schema
// table and phase-2 rules, and the certificate-file parser that distrust (conf/config_distrust.h)
// uses too. conf/config_schema.cc puts them in the top-level table, and
// conf/config.cc calls checkWatch in phase 2, like its own sections.
//
// Which phase checks what:
//  - phase 1 (while parsing): certificate files (readable, PEM or DER, how many certificates)
//    and the revocation log's directory.
//  - phase 2 (checkWatch): the rules across watch.intermediates fields and entries; then
//    conf/watch_issuers.h adds the intermediates of watch.issuers.
#include <string>
#include <vector>

#include "conf/config.h"
#include "conf/value_parsers.h"
#include "conf/yaml_schema.h"

namespace ocsp::conf {

// revocation_log: "-" (stdout) or a file path, resolved against the config file's directory
// and made absolute; its directory must exist.
Result<std::string> revocationLogPath(Loader& l, const Item& v);

// watch: the section's keys.
const Schema<Watch>& watchSchema();

// A certificate file (not a directory), every certificate in it: watch and distrust name
// certificates one by one.
struct CertFile {
  std::string path;  // resolved
  std::vector<X509Ptr> certs;
};
Result<CertFile> certificateFile(Loader& l, const Item& v);

// Phase 2 for watch.intermediates: unique names, each cert a CA certificate issued (name,
// key identifiers, signature) by its parent, no certificate watched twice.
Status checkWatch(const Loader& l, const Watch& watch);

}  // namespace ocsp::conf
