#pragma once
// The hosts ocsp-proxy may contact, by FQDN and port (docs/ARCHITECTURE.md §1): the upstream OCSP
// responders (upstreams[].fqdns on the upstream's port), the CRL hosts (crl.fqdns, which
// include the hosts of crl.urls) and the hosts AIA caIssuers certificates may come from
// (forward.aia_fqdns). Forward-proxy requests may reach only the first two; AIA fetches may
// reach any of the three. Everything else is refused: it is never an open proxy.
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

enum class TargetKind { Ocsp, Crl };

struct ForwardTarget {
  TargetKind kind = TargetKind::Ocsp;
  size_t upstream_index = 0;  // Ocsp: index into config.upstreams
  size_t fqdn_index = 0;      // Ocsp: which of that upstream's FQDNs the URL named
};

class AllowList {
 public:
  explicit AllowList(const conf::Config& config);

  // What an absolute-URI request may reach. Errors (category Unauthorized), as logged in
  // event=forward_refused reason=<code>:
  //   scheme       not http (an https URL arrives only through CONNECT, which we refuse)
  //   userinfo     "user@" in the URL
  //   ip_literal   an IP address instead of a name: firewalls allow these services by FQDN
  //   not_allowed  a host that is neither an upstream FQDN nor a CRL host
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
