#pragma once
// `ocsp-proxy firewall-list --config FILE`: every FQDN and port the proxy may contact
// (upstream responders, CRL hosts, AIA hosts), so that the firewall can allow them by name,
// as the CAs ask (their services sit behind CDNs whose addresses change).
namespace ocsp::tools {

// argv[0] = "firewall-list". Prints "host:port<TAB>purpose" lines, sorted; exit 0, 1 for a
// config that does not load (message on stderr), 64 for bad usage.
int runFirewallList(int argc, char** argv);

}  // namespace ocsp::tools
