#pragma once
// `ocsp-proxy egress test [--config FILE] [--json] [--timeout-ms N]`: proves from this
// machine that the firewall lets the proxy out. For every host firewall-list names
// (tools/firewall_list.h) it resolves the name (the config's `resolve:` map first), connects,
// and makes one real request of the host's kind (tools/egress_probe.h); the verdict and its
// cause come from tools/egress_verdict.h. The request per kind:
//   OCSP upstream  a POST of an OCSP request for a CertID of the first issuer catalogued for
//                  that upstream (serial 1: any OCSP answer proves the path), to its path;
//   CRL host       a GET of the first crl.urls entry on that host and port (the first 64 KiB);
//   caIssuers host a GET of the first caIssuers URL on that host and port named by a
//                  configured issuer certificate (at most forward.aia_max_bytes);
//                  a CRL or caIssuers host with no URL known: a GET of `/`;
//   Redis          PING (AUTH first when redis.password is set; sentinels get PING alone).
// Timeouts are the proxy's: limits.upstream_timeout for HTTP, redis.connect_timeout and
// redis.command_timeout for Redis; --timeout-ms replaces all of them.
// A command-line tool like `check`: it blocks, one process per run.
//
// Exit codes:
//   0   every host passed
//   1   a host failed, or the config does not load (the loader's message on stderr)
//   64  bad command line (tools/subcommand.h)

namespace ocsp::tools {

// argv[0] = "egress", argv[1] = "test". Calls curl_global_init/curl_global_cleanup itself.
int runEgress(int argc, char** argv);

}  // namespace ocsp::tools
