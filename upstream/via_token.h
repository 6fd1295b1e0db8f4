#pragma once
// This process's name in the Via header (RFC 9110 §7.6.3), used to see a request loop.
//
// Every HTTP request the proxy sends upstream (OCSP, CRL, caIssuers, AIA completion:
// upstream/curl_fetcher.cc) carries `Via: 1.1 ocsp-proxy-<token>`; the token is random, made
// once per process. A request that reaches the front (proxy/http_front.h) with our own token
// in its Via is our own upstream fetch come back to us: the site's DNS points a CA's name at
// this proxy and the proxy resolves that name through the same DNS. It is refused (508) in
// every mode, so the fetch fails at once and the usual failover applies. Only our own token
// counts: another ocsp-proxy in a chain of proxies is legitimate.
// The token is not logged except with the loop event (it identifies this process only).
#include <string>
#include <string_view>

namespace ocsp {

// "ocsp-proxy-" followed by 16 random hex digits; the same value for the process's life.
const std::string& viaReceivedBy();

// The whole header value the fetcher sends: "1.1 " + viaReceivedBy().
const std::string& viaHeaderValue();

// Whether one Via field value lists `received_by` as a received-by (RFC 9110 §7.6.3:
// Via = #( received-protocol RWS received-by [ RWS comment ] )). Comments are skipped.
bool viaLists(std::string_view via, std::string_view received_by);

}  // namespace ocsp
