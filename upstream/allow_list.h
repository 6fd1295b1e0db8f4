#pragma once
// The hosts ocsp-proxy may contact, by FQDN and port (docs/ARCHITECTURE.md §1): the upstream OCSP
// responders (upstreams[].fqdns on the upstream's port), the CRL hosts (crl.fqdns, which
// include the hosts of crl.urls) and the hosts AIA caIssuers certificates may come from
// (forward.aia_fqdns). Forward-proxy requests may reach all three, each for its own kind of
// document: OCSP on upstream FQDNs, CRLs on CRL hosts, caIssuers certificates (RFC 5280
// §4.2.2.1, fetched by clients that build chains: Java, Windows) on AIA hosts. AIA fetches of
// the proxy itself may reach any of the three. Everything else is refused: it is never an
// open proxy.
// Immutable once built; thread-safe.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "conf/config.h"
#include "core/result.h"
#include "core/url.h"

namespace ocsp {

enum class TargetKind { Ocsp, Crl, Aia };

struct ForwardTarget {
  TargetKind kind = TargetKind::Ocsp;
  size_t upstream_index = 0;  // Ocsp: index into config.upstreams
  size_t fqdn_index = 0;      // Ocsp: which of that upstream's FQDNs the URL named
};

class AllowList {
 public:
  explicit AllowList(const conf::Config& config);

  // What an absolute-URI request may reach: Ocsp on an upstream FQDN, Crl on a CRL host, Aia
  // (a caIssuers download) on a forward.aia_fqdns host, each on its configured port.
  // A host:port on two lists is decided by the URL's path alone, so the same URL is always
  // the same kind: a path ending in a certificate file name extension (.crt, .cer, .der,
  // .p7c, .p7b, .pem, any case; RFC 5280 §4.2.2.1 names .cer and .p7c) is Aia, anything else
  // the other list's kind (an OCSP GET or a CRL: what the host served before it was also an
  // AIA host). A wrong guess cannot serve the wrong document: a CRL must parse as a CRL and a
  // caIssuers download as certificates, else the client gets 502. A caIssuers URL may carry a
  // query (EJBCA names its certificates so); each variant is a download of at most
  // forward.aia_max_bytes.
  // Errors (category Unauthorized), as logged in
  // event=forward_refused reason=<code>:
  //   scheme       not http (an https URL arrives only through CONNECT, which we refuse)
  //   userinfo     "user@" in the URL
  //   ip_literal   an IP address instead of a name: firewalls allow these services by FQDN
  //   not_allowed  a host on none of the three lists
  //   port         an allowed host on a port that is not configured for it
  //   crl_query    a CRL URL with a query string that crl.urls does not list as written:
  //                distribution points name a CRL by its path (RFC 5280 §4.2.1.13), and
  //                each query variant would be a download of its own (cache busting). A
  //                CA whose CRLs are named by a query (EJBCA's webdist) lists them in
  //                crl.urls; stripping the query instead could serve another CA's CRL.
  Result<ForwardTarget> classify(const HttpUrl& url) const;

  // True if `url` is plain http, without userinfo, and names a host (not an IP) with its
  // port on any of the three lists: the hosts a transparent-mode request may name in its
  // Host header, and those AIA caIssuers URLs may be fetched from.
  bool lists(const HttpUrl& url) const;
  bool aiaAllowed(const HttpUrl& url) const { return lists(url); }

  // Every host:port the proxy may contact, with what it is for ("ocsp upstream NAME",
  // "crl", "aia"), sorted: for the firewall.
  std::multimap<std::string, std::string> everything() const;

 private:
  struct Entry {
    uint16_t port;
    TargetKind kind;
    size_t upstream_index;
    size_t fqdn_index;
  };
  std::multimap<std::string, Entry> targets_;          // host -> where it may be reached
  std::multimap<std::string, uint16_t> aia_;           // forward.aia_fqdns
  std::multimap<std::string, std::string> described_;  // for everything()
  std::set<std::string> crl_urls_with_query_;          // crl.urls with a query, normal form
};

}  // namespace ocsp
