#pragma once
// The probing half of `ocsp-proxy egress test` (tools/egress_test.h): for each host, resolve
// its name, connect and make one real request of its kind, and record what happened as
// EgressFacts for tools/egress_verdict.h to judge.
//   - Names: the config's `resolve:` map first, as the proxy pins them with CURLOPT_RESOLVE;
//     else the system resolver (getaddrinfo, A and AAAA); an IP literal is used as it is.
//     The transfer is then pinned to exactly the addresses shown, so the table says where it
//     went.
//   - HTTP: libcurl, blocking, one easy handle per host, as `check` does (tools/check_http.h):
//     no proxy from the environment, no redirects, http and https only, the whole transfer
//     (connect included) bounded by the target's timeout, at most max_bytes read.
//   - Redis: hiredis, blocking: connect (redis.connect_timeout), AUTH when a password is
//     given, PING (redis.command_timeout each).
// Every host is probed at once, each on a thread of its own. A DNS lookup that outlasts the
// target's timeout is given up (getaddrinfo cannot be cancelled: its thread is left to end on
// its own and touches nothing else); every other thread is joined, and its transfer is bounded
// by curl or hiredis. So probeAll takes at most about twice the longest timeout, however many
// hosts there are.
// The caller holds a CurlGlobal (upstream/curl_handles.h) around probeAll.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tools/egress_verdict.h"

namespace ocsp::tools {

struct EgressTarget {
  std::string host;  // a DNS name, or an IP literal (Redis)
  uint16_t port = 0;
  std::string purpose;  // as firewall-list names it
  EgressKind kind = EgressKind::Ocsp;
  // HTTP kinds
  std::string url;             // the URL asked (its host and port are host and port)
  bool path_known = true;      // false: `url` is the host's `/`, the config names no URL there
  std::string post_body;       // non-empty: POSTed as application/ocsp-request
  size_t max_bytes = 1 << 20;  // read at most this much of the answer
  int64_t timeout_ms = 5'000;  // the DNS lookup; then the whole exchange
  // Redis
  std::string redis_password;            // "" = no AUTH
  int64_t redis_command_timeout_ms = 0;  // AUTH and PING each; timeout_ms bounds the connect
};

// One row per target, in the order given. `resolve`: the config's `resolve:` map.
std::vector<EgressRow> probeAll(const std::vector<EgressTarget>& targets,
                                const std::map<std::string, std::string>& resolve);

}  // namespace ocsp::tools
