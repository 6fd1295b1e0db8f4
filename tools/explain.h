#pragma once
// `ocsp-proxy explain`: for the helpdesk, when a client reports a revocation error that
// misleads ("certificate expired" for a revoked intermediate, "revocation offline"), names the
// real cause in one sentence and prints the evidence behind it.
//
// It gathers (here) and then decides (explain_verdict.h, pure):
//   - the chain: the leaf, then each issuer found among the other certificates of --cert and
//     --chain (matched by name and key, and the signature checked), else downloaded from the
//     certificate's AIA caIssuers URL, up to a self-signed root;
//   - for each certificate below the root, its OCSP status asked as `ocsp-proxy check` asks
//     it (check_query.h): through the proxy as an HTTP forward proxy with --proxy, else
//     directly;
//   - the proxy's /status on its admin listener (proxy_status.h): circuits, watched
//     intermediates;
//   - the revocation log (--log, JSON Lines, core/revocation_record.h): the lines for each
//     certificate of the chain, matched by serial and issuer key hash (or issuer name).
// A /status or log that cannot be read is a line of evidence, never a failure.
//
// Exit codes (check.h's conventions, also in --help):
//   0 the chain is fine (good); 1 the leaf or an intermediate is revoked; 2 the CA answers
//   unknown; 3 any other cause, or the certificate (--cert, --chain) cannot be read (the
//   message on stderr); 64 bad usage.
// Blocking, once per process, like check.

namespace ocsp::explain {

// argv[0] is "explain"; the options follow. Writes the explanation to stdout and errors to
// stderr. Holds a CurlGlobal itself.
int runExplain(int argc, char** argv);

}  // namespace ocsp::explain
