#pragma once
// The last revoked answers the proxy served, for the status page (proxy/status_page.h): a
// small ring kept in memory whether or not the revocation log is on. The front adds one
// item per CertID it answered `revoked` for (proxy/http_front.h, where the revocation-log
// records are made); the admin listener reads them.
// Contracts:
//   - add() and recent() are thread-safe (a mutex held for one copy); add() never allocates
//     beyond the ring's fixed number of slots, whose strings are reused.
//   - At most kCapacity items are kept; the oldest goes first.
//   - Nothing is persisted: a restart starts with an empty ring (the revocation log, when
//     on, is the durable record).
#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "core/revocation_record.h"

namespace ocsp {

class RecentRevocations {
 public:
  static constexpr size_t kCapacity = 50;

  struct Item {
    int64_t time_ms = 0;          // when the answer went out, epoch milliseconds
    std::string client;           // "ip:port"
    std::string upstream;         // upstream name ("" when unrouted)
    std::string upstream_fqdn;    // who made the answer ("crl-bridge" for the bridge)
    std::string issuer;           // issuer subject, one line
    std::string serial;           // lower-case hex of the INTEGER contents
    int64_t revocation_time = 0;  // epoch seconds; 0 when the answer had none
    std::string reason;           // CRLReason name, "" when absent
  };

  // Keeps `r` if it is a revoked answer (status revoked, no error); else does nothing.
  void add(const RevocationRecord& r);
  // Newest first.
  std::vector<Item> recent() const;
  // How many revoked answers were added since start (more than recent() holds, once full).
  uint64_t total() const;

 private:
  mutable std::mutex mu_;
  std::array<Item, kCapacity> ring_;
  size_t next_ = 0;     // the slot add() writes next
  uint64_t added_ = 0;  // items ever added
};

}  // namespace ocsp
