#pragma once
// The distrust list (docs/ARCHITECTURE.md §9): which issuer keys are distrusted, and when the
// distrust takes effect for which clients. This file holds the types, the parser of the
// `distrust:` key (conf/config_schema.cc puts it in the top-level table) and the decision
// the request path makes with them (distrustStageAt).
//
// Stages. A request for a certificate of a distrusted key is handled in one of three stages:
//   - log: served normally; a WARN line (event=distrust_pending) and a count;
//   - warn: served normally with X-OCSP-Proxy-Flags: distrust-pending; an ERROR line and a
//     count;
//   - enforce: refused with OCSP unauthorized and X-OCSP-Proxy-Flags: distrusted
//     (event=distrusted_issuer).
// Schedule of one entry:
//   - `mode` alone (log | warn | enforce, default enforce) applies always: an entry with
//     neither `mode` nor `enforce_from` enforces at once;
//   - with `enforce_from: DATE`, `mode` is the stage before DATE and must be log or warn; from
//     DATE on (at DATE exactly) the entry enforces;
//   - `clients:` groups (each a name, address blocks and a DATE of its own, not earlier than
//     the entry's, which is then required) move the date for the clients in them: a client
//     in a group is in `mode` until the group's DATE, then enforced. The first group listing
//     the client's address wins; a client in no group follows the entry's DATE.
// DATE is YYYY-MM-DD (00:00 UTC that day) or an RFC 3339 time (2027-03-01T08:00:00+01:00).
//
// Which phase checks what: everything in phase 1, while parsing (certificate files, hex,
// dates, blocks, the rules above, unique names, no key twice). Each entry is flattened into
// one Distrusted per key while it is parsed; every key of one entry carries its schedule.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/cidr.h"
#include "core/result.h"

namespace ocsp::conf {

class Loader;  // conf/yaml_schema.h
struct Item;

enum class DistrustStage : uint8_t { Log, Warn, Enforce };
inline constexpr int kDistrustStages = 3;
// "log" | "warn" | "enforce": config word, metric label and log field.
const char* distrustStageName(DistrustStage stage);

// distrust[].clients[]: clients that keep the entry's `mode` until a later date.
struct DistrustClientGroup {
  std::string name;          // a log field; unique within its entry
  std::vector<Cidr> cidrs;   // at least one
  int64_t enforce_from = 0;  // seconds since the epoch; not before the entry's enforce_from
};

struct DistrustSchedule {
  DistrustStage mode = DistrustStage::Enforce;  // the stage before enforce_from, else always
  std::optional<int64_t> enforce_from;          // seconds since the epoch; only with log/warn
  std::vector<DistrustClientGroup> clients;     // only with enforce_from
};

// One distrusted key: requests for certificates it issued are handled by its entry's stage
// (above), and its responses are never served from a snapshot or learned as an issuer.
struct Distrusted {
  std::string name;         // distrust[].name; shared by every key of one entry
  std::string spki_sha256;  // SHA-256 of the DER SubjectPublicKeyInfo, 32 raw bytes
  std::string subject;      // one-line subject when it came from a certificate, else ""
  DistrustSchedule schedule{};  // the entry's; the same for every key of it
};

// The decision (pure): the stage for a request from `client` (null: an address that could not
// be read, in no group) at `now` (seconds since the epoch).
DistrustStage distrustStageAt(const DistrustSchedule& schedule, const IpAddress* client,
                              int64_t now);
// The date from which `client` is enforced, if any (the group's date or the entry's).
std::optional<int64_t> enforceFromFor(const DistrustSchedule& schedule, const IpAddress* client);
// The schedules of a config by distrust[].name: what the request path holds.
using DistrustSchedules = std::map<std::string, DistrustSchedule>;
DistrustSchedules distrustSchedules(const std::vector<Distrusted>& list);

// For one request: the stage of the entry `name` (a name without a schedule enforces) for
// the client at `client_address` (as the front read it; unreadable: in no group) at `now`,
// and the date that client is enforced from (none: never).
struct DistrustDecision {
  DistrustStage stage = DistrustStage::Enforce;
  std::optional<int64_t> enforce_from;
};
DistrustDecision decideDistrust(const DistrustSchedules& schedules, const std::string& name,
                                std::string_view client_address, int64_t now);

// The stage of the clients of one group at `now`.
DistrustStage groupStageAt(const DistrustSchedule& schedule, const DistrustClientGroup& group,
                           int64_t now);

// For a config being put to use at `now`: one INFO line (event=distrust_enforced) per entry
// or client group whose enforce_from is already past, saying since when it enforces (a date
// in the past is not an error: such an entry simply enforces).
void logPastEnforcement(const std::vector<Distrusted>& list, int64_t now);

// A DATE as above, in seconds since the epoch, or nullopt if `text` is not one.
std::optional<int64_t> parseDistrustDate(const std::string& text);

// distrust: the whole list, one Distrusted per key.
Result<std::vector<Distrusted>> distrustList(Loader& l, const Item& v);

}  // namespace ocsp::conf
