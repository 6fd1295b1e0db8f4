#pragma once
// The proxy's state as `ocsp-proxy explain` (explain.h) reads it from the admin listener's
// GET /status (proxy/admin.h): each upstream FQDN's circuit, and each watched intermediate's
// revocation state. A /status that cannot be fetched or read is itself evidence: the result
// then carries why (ProxyState::error) and nothing else; nothing here fails otherwise.
//
// The document is read with a small JSON reader (RFC 8259 values: objects, arrays, strings
// with every escape, numbers, literals; nesting up to 64 levels); members explain does not use
// are skipped, and a member of the wrong type is left out.
#include <cstdint>
#include <string>
#include <string_view>

#include "tools/explain_verdict.h"

namespace ocsp::explain {

// GET `admin_url` + "status" (admin_url is http://HOST:PORT/, as --admin takes it), directly.
// Blocking; the caller holds curl_global_init.
ProxyState fetchProxyStatus(const std::string& admin_url, int64_t timeout_ms);

// The /status document `json`, fetched from `url`.
ProxyState parseProxyStatus(std::string_view json, std::string url);

}  // namespace ocsp::explain
