#pragma once
// `ocsp-proxy check`: asks for one certificate's OCSP status, through the proxy (as an HTTP
// forward proxy, so its allow-list and cache apply) or straight from the responder, and
// validates the answer exactly as the proxy does (pki/validator.h). For operators and
// scripts: a readable report or one JSON object on stdout, the verdict in the exit code.
//
// It is a command-line tool, not part of the request path: it blocks (one libcurl easy
// handle per transfer) and runs once per process.
//
// Exit codes (also in --help; scripts rely on them):
//   0  good     the validated answer says good
//   1  revoked  the validated answer says revoked
//   2  unknown  the validated answer says unknown
//   3  error    no validated answer: certificate or issuer unreadable, no OCSP URL, transport
//               failure or timeout, HTTP status other than 200, OCSP responseStatus other
//               than successful, or validation failure
//   64 usage    bad command line (EX_USAGE, sysexits.h); the usage goes to stderr
// Flags (issuer_untrusted, issuer_expiring, issuer_expired, issuer_mismatch, and whatever the
// proxy lists in its X-OCSP-Proxy-Flags answer header) are reported but never change the
// exit code.

namespace ocsp::check {

inline constexpr int kExitGood = 0;
inline constexpr int kExitRevoked = 1;
inline constexpr int kExitUnknown = 2;
inline constexpr int kExitError = 3;
inline constexpr int kExitUsage = 64;  // EX_USAGE

// argv[0] is "check"; the options follow. Writes the report to stdout and errors to stderr.
// Calls curl_global_init/curl_global_cleanup itself.
int runCheck(int argc, char** argv);

}  // namespace ocsp::check
