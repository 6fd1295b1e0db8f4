#pragma once
// What a loaded config holds that deserves an operator's attention but must not stop the
// proxy (docs/ARCHITECTURE.md §12): issuer certificates outside their validity (CAs keep
// answering for the certificates of an expired issuer; refusing to start would take every
// other issuer down with it), watch.issuers certificates not watched (one summary line),
// the CRL bridge's opt-ins (conf/config_bridge.h), and resolve: entries for hosts the proxy
// never fetches from. Logged once the whole file is accepted, at every load, so a rejected
// file logs nothing but its error.
#include "conf/config.h"

namespace ocsp::conf {

// Logs one WARN line per finding (event=issuer_not_valid_now, watch_issuers_skipped,
// resolve_unused, and the bridge's own).
void warnAboutConfig(const Config& config);

}  // namespace ocsp::conf
