#include "tools/check.h"

#include <openssl/x509.h>

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/ossl.h"
#include "core/result.h"
#include "core/url.h"
#include "upstream/curl_handles.h"
#include "tools/check_http.h"
#include "tools/check_query.h"
#include "tools/check_report.h"
#include "pki/issuer_completion.h"

namespace ocsp::check {
namespace {

constexpr const char* kDefaultVia = "http://127.0.0.1:8080";  // the proxy's default listen.ocsp
constexpr const char* kDefaultTrustStore = "/etc/ssl/certs";
constexpr int64_t kExpiringWithinS = 30 * 24 * 3600;  // issuer_expiring

constexpr const char* kUsage =
    "Usage: ocsp-proxy check --cert FILE [--issuer FILE] [--via URL | --direct] [--url URL]\n"
    "                        [--sha256] [--trust-store PATH] [--timeout DURATION] [--json]\n"
    "       ocsp-proxy check --help\n"
    "\n"
    "Asks for the OCSP status of one certificate and validates the answer as the proxy does\n"
    "(signature by the issuer or its delegated responder, CertID, thisUpdate/nextUpdate).\n"
    "\n"
    "Options:\n"
    "  --cert FILE         the certificate to check (PEM or DER; the first one in the file)\n"
    "  --issuer FILE       its issuer (PEM or DER; the certificate in the file that issued\n"
    "                      --cert, else the first; the others help chain it to the trust\n"
    "                      store). Default: downloaded directly (never through the proxy)\n"
    "                      from the certificate's AIA caIssuers URL (DER, PEM or PKCS#7)\n"
    "  --via URL           ask through the proxy, as an HTTP forward proxy, so its allow-list\n"
    "                      and cache apply (the default, with http://127.0.0.1:8080)\n"
    "  --direct            ask the responder directly, bypassing every proxy (http_proxy too)\n"
    "  --url URL           the responder, http:// (default: the certificate's first http AIA\n"
    "                      OCSP URL)\n"
    "  --sha256            CertID hashed with SHA-256 (default SHA-1, as RFC 5019 clients do)\n"
    "  --trust-store PATH  hashed CA directory or PEM file of roots the issuer must chain to\n"
    "                      (default /etc/ssl/certs)\n"
    "  --timeout DURATION  limit for each HTTP transfer: 500ms, 10s, 1m (default 10s)\n"
    "  --json              print one JSON object instead of the text report\n"
    "  --help              print this help and exit 0\n"
    "\n"
    "The request carries no nonce. Flags are reported but never change the exit status:\n"
    "  issuer_untrusted    the issuer does not chain to the trust store\n"
    "  issuer_expiring     the issuer expires within 30 days\n"
    "  issuer_expired      the issuer has expired\n"
    "  issuer_mismatch     the issuer did not sign the certificate\n"
    "  and those the proxy names in its X-OCSP-Proxy-Flags header (issuer_revoked, distrusted,\n"
    "  distrust-pending)\n"
    "\n"
    "Exit status:\n"
    "  0   good      the validated answer says good\n"
    "  1   revoked   the validated answer says revoked\n"
    "  2   unknown   the validated answer says unknown\n"
    "  3   error     no validated answer: unreadable certificate or issuer, no OCSP URL,\n"
    "                transport failure or timeout, HTTP status other than 200, OCSP\n"
    "                responseStatus other than successful, or validation failure\n"
    "  64  usage     bad command line (EX_USAGE); this text goes to stderr\n";

// -- command line ------------------------------------------------------------------------

struct Options {
  std::string cert_path;
  std::string issuer_path;  // empty: from the certificate's AIA caIssuers URL
  std::string via = kDefaultVia;
  bool direct = false;
  std::string url;  // empty: from the certificate's AIA OCSP URL
  bool sha256 = false;
  std::string trust_store = kDefaultTrustStore;
  int64_t timeout_ms = kDefaultTimeoutMs;
  bool json = false;
  bool help = false;
};

Result<Options> parseArgs(int argc, char** argv) {
  Options o;
  bool help_short = false;
  std::string via;
  OptionTable table{.flags = {{"--help", &o.help}, {"-h", &help_short}, {"--direct", &o.direct},
                              {"--sha256", &o.sha256}, {"--json", &o.json}},
                    .values = {{"--cert", &o.cert_path}, {"--issuer", &o.issuer_path},
                               {"--via", &via}, {"--url", &o.url},
                               {"--trust-store", &o.trust_store}},
                    .timeout_ms = &o.timeout_ms};
  if (auto ok = parseOptions(argc, argv, table); !ok) return ok.error();
  o.help |= help_short;
  const bool via_given = !via.empty();
  if (via_given) o.via = via;
  if (o.help) return o;
  if (o.cert_path.empty()) return usageError("--cert is required");
  if (via_given && o.direct) return usageError("--via and --direct exclude each other");
  if (!o.direct) {
    if (auto ok = checkProxyUrl("--via", o.via); !ok) return ok.error();
  }
  if (!o.url.empty()) {
    if (auto ok = checkHttpUrl("--url", o.url); !ok) return ok.error();
  }
  return o;
}

// -- the steps, each filling in the report (check_report.h) --------------------------------

// Not fatal (the answer is still checked against this issuer): flags for the operator.
void checkIssuer(Report& r, const Issuer& issuer, X509* leaf, const std::string& trust_store,
                 int64_t now) {
  if (!signedBy(leaf, issuer.cert.get())) addFlag(r, "issuer_mismatch");
  r.issuer_not_after = asn1ToEpoch(X509_get0_notAfter(issuer.cert.get()));
  if (r.issuer_not_after && *r.issuer_not_after <= now) {
    addFlag(r, "issuer_expired");
  } else if (r.issuer_not_after && *r.issuer_not_after - now <= kExpiringWithinS) {
    addFlag(r, "issuer_expiring");
  }
  X509StackPtr untrusted(sk_X509_new_null());
  for (const auto& cert : issuer.others) {
    if (untrusted && X509_up_ref(cert.get()) == 1 && !sk_X509_push(untrusted.get(), cert.get())) {
      X509_free(cert.get());
    }
  }
  auto store = loadTrustStore(trust_store);
  Status chain = store ? verifyIssuerChain(issuer.cert.get(), store->get(), untrusted.get(), now)
                       : Status(store.error());
  r.issuer_trusted = chain.ok();
  if (!chain.ok()) {
    addFlag(r, "issuer_untrusted");
    r.issuer_trust_detail = chain.error().detail;
  }
}

Status runSteps(const Options& o, Report& r, int64_t now) {
  std::string why;
  auto leaves = readCertificates(o.cert_path, &why);
  if (leaves.empty()) {
    return failAt(r, "certificate",
                  makeError(ErrorCategory::Config, "unreadable_certificate",
                            "--cert " + o.cert_path + ": " + why));
  }
  X509* leaf = leaves.front().get();
  r.cert_subject = subjectLine(leaf);
  r.cert_serial = serialHex(leaf);

  auto issuer = o.issuer_path.empty() ? issuerFromAia(leaf, o.timeout_ms)
                                      : issuerFromFile(o.issuer_path, leaf);
  if (!issuer) {
    Error e = issuer.error();
    if (o.issuer_path.empty()) e.detail = "no --issuer given and " + e.detail;
    return failAt(r, "issuer", std::move(e));
  }
  r.issuer_subject = subjectLine(issuer->cert.get());
  r.issuer_source = issuer->source;
  r.issuer_origin = issuer->origin;
  checkIssuer(r, *issuer, leaf, o.trust_store, now);

  auto url = o.url.empty() ? ocspUrlOf(leaf) : Result<std::string>(o.url);
  if (!url) {
    Error e = url.error();
    e.detail = "no --url given and " + e.detail;
    return failAt(r, "responder_url", std::move(e));
  }
  return askStatus({leaf, issuer->cert.get(), *url,
                    o.direct ? std::nullopt : std::optional<std::string>(o.via), o.sha256,
                    o.timeout_ms, now},
                   r);
}

}  // namespace

int runCheck(int argc, char** argv) {
  auto options = parseArgs(argc, argv);
  if (!options) {
    std::fprintf(stderr, "ocsp-proxy check: %s\n\n%s", options.error().detail.c_str(), kUsage);
    return kExitUsage;
  }
  if (options->help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  CurlGlobal curl;  // main() holds one too when check runs as the subcommand
  Report report;
  if (Status done = runSteps(*options, report, static_cast<int64_t>(std::time(nullptr)));
      !done.ok()) {
    report.error = done.error();
  }
  int exit_code = exitCodeFor(report);
  if (options->json) {
    printJson(report, exit_code, stdout);
  } else {
    printText(report, stdout);
  }
  std::fflush(stdout);
  if (report.error) {
    std::fprintf(stderr, "ocsp-proxy check: %s failed: %s: %s\n", report.error_stage.c_str(),
                 report.error->code.c_str(), report.error->detail.c_str());
  }
  return exit_code;
}

}  // namespace ocsp::check
