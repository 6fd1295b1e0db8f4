#pragma once
// The CRL bridge's keys (docs/ARCHITECTURE.md §8): upstreams[].revocation_source and
// upstreams[].crls, and the crl_bridge section. conf/config_schema.cc puts the parsers in its
// tables; conf/config.cc calls checkBridge in phase 2 and warnAboutBridge once a file is
// accepted.
//
// Which phase checks what:
//  - phase 1 (while parsing): the words of revocation_source and unlisted, the URLs of
//    upstreams[].crls (like crl.urls), that crl_bridge.key and crl_bridge.cert are given, and
//    that every crl_bridge.known_serials path exists (its content is read at start, by
//    upstream/known_serials.h);
//  - phase 2 (checkBridge), per upstream: fqdns empty only with revocation_source crl; crls
//    only with a source that uses the bridge, and some CRL to answer from (its crls or
//    crl.urls) when it does; the crl_bridge section present when any upstream uses the
//    bridge. Then the responder credentials are loaded (pki/responder_credentials.h): at
//    start, at every reload and by --check-config, so a key replaced on disk is re-read at
//    the next SIGHUP and a key readable by others is refused with the file:line of the key.
// Every key reloads: nothing of the bridge outlives a generation.
#include <cstdint>
#include <string>

#include "conf/config.h"
#include "conf/yaml_schema.h"

namespace ocsp::conf {

// upstreams[].revocation_source: ocsp | crl | ocsp-then-crl.
Result<RevocationSource> revocationSourceValue(Loader& l, const Item& v);

// crl_bridge: the section's keys.
const Schema<CrlBridge>& crlBridgeSchema();

// Phase 2 rules above; loads config.crl_bridge->credentials as valid at `now`.
Status checkBridge(const Loader& l, Config& config, int64_t now);

// crl_bridge.unlisted: good answers `good` for serials nobody knows were issued: a WARN
// (event=crl_bridge_unlisted_good) at every load that has it.
void warnAboutBridge(const Config& config);

}  // namespace ocsp::conf
