#pragma once
// ocsp-proxy's key tables (phase 1 of the loader, conf/config.h): the top-level schema, whose
// sections hold every key with its parser. conf/config.cc walks the file with it and then runs
// phase 2.
#include <string>
#include <vector>

#include "conf/config.h"
#include "conf/yaml_schema.h"

namespace ocsp::conf {

// The whole file: every top-level key and section (conf/ocsp-proxy.yaml documents them).
const Schema<Config>& configSchema();

// A list of certificate files and directories of them (not recursive; *.pem, *.crt, *.cer):
// upstreams[].issuers, crl.issuers, watch.issuers. A path that cannot be read, or a directory
// without certificate files, is an error.
Result<std::vector<IssuerCert>> issuerFiles(Loader& l, const Item& v);

// An allow-list entry as messages show it: "host:port".
std::string hostAndPortText(const HostAndPort& h);

}  // namespace ocsp::conf
