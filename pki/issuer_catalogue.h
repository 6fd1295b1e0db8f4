#pragma once
// The issuer catalogue: which CA certificates the proxy should know, and which upstream
// answers for each (docs/ARCHITECTURE.md §3 "Issuer catalogue"). Built by
// `ocsp-proxy issuers import` from certificate bundles (a CCADB export, a vendor chain file,
// the shipped conf/catalogue/sources). Pure: the caller reads the files and writes the result.
//
// Kept: every certificate that parses, is a CA (basicConstraints cA, RFC 5280 §4.2.1.9), is
// valid at the given time, and chains, signature by signature, to one of the given roots
// (the self-signed certificates of the config's upstreams and of --roots). Every other input
// is skipped with a reason; one certificate's trouble never stops the others.
//
// A CertID names its issuer by subject and key (RFC 6960 §4.1.1), so certificates with the
// same subject and key (a re-issue, a cross-certificate) are one issuer: the first that
// chains is kept, the others are duplicates. A root listed in the bundles is a duplicate of
// the configured one.
//
// Routing rule. An issuer I is routed to the upstream that serves
//   1. the OCSP host (AIA id-ad-ocsp, RFC 5280 §4.2.2.1) that most of the kept certificates I
//      issued name: that responder answers for I's certificates, and a leaf under I names
//      the same host as its siblings; else
//   2. the OCSP host of I's own AIA: the responder of I's issuer, which CAs run for their
//      whole hierarchy; else (I and its children are CRL only)
//   3. the upstream of I's issuer: the nearest ancestor routed by an OCSP host, else I's root
//      (a CA cross-signed into another hierarchy, like Google Trust Services' GTS Root R4
//      under GlobalSign Root CA, keeps its CRL-only children with its own responder).
// Only hosts some upstream serves (upstreams[].fqdns) count; the others are reported as
// unserved. When the CAs I issued name responders of several upstreams (DigiCert roots whose
// China CAs name ocsp.digicert.cn), the majority wins and `why` names the outvoted hosts: a
// CertID for one of those CAs names I as its issuer, and I has one route.
// A root is routed by rule 1 alone (it has no AIA), else to the upstream it is
// configured under (or bound to with --roots UPSTREAM=PATH); a root with nothing to route it
// by is skipped as unroutable, and so is every CA under it that needs rule 3.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/ossl.h"

namespace ocsp {

// One certificate as read: its bytes (DER, or empty when the input could not be decoded)
// and where it came from ("bundle.crt#12"). `problem` says why `der` is empty.
struct CatalogueInput {
  std::string der;
  std::string origin;
  std::string problem;
};

// A root the catalogue grows from. `upstream` is the index of the upstream it is configured
// under, or kNoUpstream for a root given only as a bundle.
struct CatalogueRoot {
  SharedX509 cert;
  std::string origin;
  size_t upstream;
};
inline constexpr size_t kNoUpstream = SIZE_MAX;

// An upstream as the routing sees it: a name and the OCSP hosts it serves.
struct CatalogueUpstream {
  std::string name;
  std::vector<std::string> fqdns;
};

enum class SkipReason { Unparseable, NotCa, Expired, NotYetValid, NoRoot, Duplicate, Unroutable };
// "unparseable", "not_a_ca", "expired", "not_yet_valid", "no_configured_root", "duplicate",
// "unroutable".
std::string_view skipReasonName(SkipReason reason);

struct KeptIssuer {
  SharedX509 cert;
  std::string origin;
  std::string subject;            // RFC 2253
  std::string sha256_hex;         // of the DER
  int64_t not_after = 0;          // epoch seconds
  bool root = false;
  // Index into Catalogue::kept; a root is its own parent; kNoUpstream when the parent was
  // skipped as unroutable (the parent is then not in the catalogue).
  size_t parent = 0;
  size_t upstream = kNoUpstream;  // index into the upstreams given
  std::string routed_host;        // the OCSP host the route rests on; "" for rule 3
  std::string why;                // the rule and its evidence, one line
  std::vector<std::string> ocsp_hosts, crl_hosts, ca_issuers_hosts;  // its own AIA and CDP
  std::vector<std::string> notes;  // RFC 5280 departures (pki/cert_conformance.h)
};

struct SkippedInput {
  std::string origin;
  std::string subject;  // "" when it did not parse
  SkipReason reason;
  std::string detail;
  std::vector<std::string> notes;
};

struct Catalogue {
  std::vector<KeptIssuer> kept;  // roots first, then parents before their children
  std::vector<SkippedInput> skipped;
  // OCSP hosts named by kept certificates (own AIA) that no upstream serves -> how many.
  std::map<std::string, size_t> unserved_ocsp_hosts;
  // CRL distribution point and caIssuers hosts of the kept certificates: what crl.fqdns and
  // forward.aia_fqdns must allow for clients to fetch them through the proxy.
  std::set<std::string> crl_hosts, ca_issuers_hosts;
};

// `at`: validity is judged at this time (epoch seconds). Roots that are not valid at `at`
// are skipped (reason expired / not_yet_valid) like any other input.
Catalogue buildCatalogue(const std::vector<CatalogueUpstream>& upstreams,
                         const std::vector<CatalogueRoot>& roots,
                         const std::vector<CatalogueInput>& inputs, int64_t at);

// True if `cert` names itself as issuer and its signature verifies with its own key.
bool isSelfSigned(X509* cert);

}  // namespace ocsp
