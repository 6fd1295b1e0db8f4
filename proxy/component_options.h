#pragma once
// The one place where the Config becomes what each component uses (docs/ARCHITECTURE.md §12).
// Every component takes a small options struct declared in its own header, holding only the
// values it reads; these functions derive them from a loaded Config. Unit conversions
// (refresh_percent to a fraction, halves of a budget) happen here and nowhere else, so where a
// key takes effect can be read in one file. A reload derives a new generation's options from
// the new Config the same way; nothing here keeps state.
#include "conf/config.h"
#include "core/ocsp_types.h"
#include "http/http_server.h"

namespace ocsp {

// cache.max_age, cache.no_next_update_ttl, cache.refresh_percent (a percentage in the file,
// a fraction here).
FreshnessPolicy freshnessOptions(const conf::Config& config);

// The limits.* keys the HTTP/1.1 layer enforces. The shared connection gate and the
// open-files counter are not config: the caller sets them.
HttpServerLimits httpServerLimits(const conf::Config& config);

}  // namespace ocsp
