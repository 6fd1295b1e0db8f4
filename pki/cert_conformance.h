#pragma once
// Departures from RFC 5280 that OpenSSL (and so the proxy) tolerates but stricter parsers
// refuse: real CA certificates carry them (serial numbers that are not positive, a DEFAULT
// value written out, Latin-1 text in a VisibleString). Such a certificate still routes and
// validates here; `ocsp-proxy issuers import` names each departure so that an operator knows
// which of their clients may reject the chain. Pure: no I/O.
#include <openssl/x509.h>

#include <string>
#include <vector>

namespace ocsp {

// One line per departure, in a fixed order (serial, names, policies, extensions); empty for a
// conforming certificate. Checked: a serial that is not positive (RFC 5280 §4.1.2.2), a
// name attribute longer than its RFC 5280 Appendix A upper bound, a restricted string type
// holding characters it may not (X.680 §41), an extension writing critical FALSE (X.690
// §11.5).
std::vector<std::string> conformanceNotes(X509* cert);

}  // namespace ocsp
