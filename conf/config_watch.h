#pragma once
// The revocation_log, watch and distrust keys (docs/ARCHITECTURE.md §9, §10): their value parsers,
// schema table and phase-2 rules. conf/config_schema.cc puts them in the top-level table, and
// conf/config.cc calls checkWatch in phase 2, like its own sections.
//
// Which phase checks what:
//  - phase 1 (while parsing): certificate files (readable, PEM or DER, how many certificates),
//    spki_sha256 syntax, the revocation log's directory, and the rules inside one distrust
//    list (exactly one of cert / spki_sha256 per entry, unique names, no key twice): a
//    distrust entry is flattened into one Distrusted per key while it is parsed, after which
//    which keys it had is no longer known.
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

// distrust: the whole list, one Distrusted per key.
Result<std::vector<Distrusted>> distrustList(Loader& l, const Item& v);

// Phase 2 for watch.intermediates: unique names, each cert a CA certificate issued (name,
// key identifiers, signature) by its parent, no certificate watched twice.
Status checkWatch(const Loader& l, const Watch& watch);

}  // namespace ocsp::conf
