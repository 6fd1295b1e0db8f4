#pragma once
// The status page: GET / on the admin listener (proxy/admin.h), an HTML rendering of what
// /status holds (proxy/status_model.h) for people reading it in a browser.
// Contracts:
//   - Every value is HTML-escaped (htmlEscape): subjects, URLs and FQDNs come from CAs and
//     from the network, so a subject holding "<script>" shows as that text.
//   - The page has no script and loads nothing: inline CSS only. It is served with
//     kStatusPagePolicy as its Content-Security-Policy, which forbids scripts even if markup
//     got through, and as text/html; charset=utf-8.
//   - Times are UTC, ISO 8601 (rfc3339), with a relative hint ("in 3 d 4 h", "5 min ago")
//     computed against StatusModel::now.
//   - Each section is a <section> with a stable id and an <h2>: upstreams, offline,
//     revocations, intermediates, expiry, cache, crls, learned (docs/operations.md).
#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/status_model.h"

namespace ocsp {

inline constexpr const char* kStatusPagePolicy =
    "default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; img-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// `text` with & < > " ' replaced by character references.
std::string htmlEscape(std::string_view text);

// "3 d 4 h", "2 h 5 min", "12 min", "45 s": the two largest units, rounded down.
std::string durationText(uint64_t seconds);
// "in 3 d 4 h", "2 h 5 min ago", "now": a time `seconds` from now (negative: past).
std::string relativeHint(int64_t seconds);

// The whole page.
std::string statusPage(const StatusModel& model);

}  // namespace ocsp
