#include "tools/check.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/cert_id.h"
#include "core/ocsp_entry.h"
#include "core/ossl.h"
#include "core/result.h"
#include "core/url.h"
#include "upstream/curl_handles.h"
#include "tools/check_http.h"
#include "tools/check_report.h"
#include "pki/issuer_completion.h"
#include "pki/validator.h"

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

Error usageError(std::string detail) {
  return makeError(ErrorCategory::Config, "usage", std::move(detail));
}

// "500ms", "10s", "1m". A unit is required, as in the config: "10" could mean either.
Result<int64_t> parseTimeoutMs(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  std::string_view unit = text.substr(digits);
  int64_t scale = unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60'000 : 0;
  if (digits == 0 || digits > 6 || scale == 0) {
    return usageError("--timeout wants a number and a unit (ms, s, m), e.g. 10s: got \"" +
                      std::string(text) + "\"");
  }
  int64_t ms = std::stoll(std::string(text.substr(0, digits))) * scale;
  if (ms == 0) return usageError("--timeout must be more than zero");
  return ms;
}

Status checkHttpUrl(const char* option, const std::string& text) {
  auto url = parseHttpUrl(text);
  if (!url) return usageError(std::string(option) + " " + text + ": " + url.error().detail);
  if (url->scheme != "http") return usageError(std::string(option) + " must be an http:// URL");
  return Ok{};
}

Result<Options> parseArgs(int argc, char** argv) {
  Options o;
  bool via_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view name = arg;
    std::optional<std::string> inline_value;  // --name=value
    if (size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      inline_value = std::string(arg.substr(eq + 1));
    }
    if (name == "--help" || name == "-h" || name == "--direct" || name == "--sha256" ||
        name == "--json") {
      if (inline_value) return usageError(std::string(name) + " takes no value");
      o.help |= name == "--help" || name == "-h";
      o.direct |= name == "--direct";
      o.sha256 |= name == "--sha256";
      o.json |= name == "--json";
      continue;
    }
    std::string* target = name == "--cert"          ? &o.cert_path
                          : name == "--issuer"      ? &o.issuer_path
                          : name == "--via"         ? &o.via
                          : name == "--url"         ? &o.url
                          : name == "--trust-store" ? &o.trust_store
                                                    : nullptr;
    if (target == nullptr && name != "--timeout") {
      return usageError("unknown argument: " + std::string(arg));
    }
    if (!inline_value && i + 1 >= argc) return usageError(std::string(name) + " needs a value");
    std::string value = inline_value ? *inline_value : std::string(argv[++i]);
    if (value.empty()) return usageError(std::string(name) + " needs a value");
    if (name == "--timeout") {
      auto ms = parseTimeoutMs(value);
      if (!ms) return ms.error();
      o.timeout_ms = *ms;
      continue;
    }
    *target = std::move(value);
    via_given |= name == "--via";
  }
  if (o.help) return o;
  if (o.cert_path.empty()) return usageError("--cert is required");
  if (via_given && o.direct) return usageError("--via and --direct exclude each other");
  if (!o.direct) {
    if (auto ok = checkHttpUrl("--via", o.via); !ok) return ok.error();
    if (parseHttpUrl(o.via)->target != "/") return usageError("--via takes http://HOST:PORT only");
  }
  if (!o.url.empty()) {
    if (auto ok = checkHttpUrl("--url", o.url); !ok) return ok.error();
  }
  return o;
}

// -- certificates --------------------------------------------------------------------------

struct Issuer {
  SharedX509 cert;
  std::vector<SharedX509> others;  // the rest of the file or download: chain candidates
  std::string source;              // "file" or "aia"
  std::string origin;              // the path or the URL
};

// True if `issuer`'s name and key (AKID) match `cert`'s and its key verifies the signature.
bool signedBy(X509* cert, X509* issuer) {
  bool ok = X509_check_issued(issuer, cert) == X509_V_OK &&
            X509_verify(cert, X509_get0_pubkey(issuer)) == 1;
  ERR_clear_error();
  return ok;
}

// The certificate among `certs` that signed `leaf` (the others kept as chain candidates);
// the first one when none did, if `fallback_to_first`.
std::optional<Issuer> pickIssuer(std::vector<SharedX509> certs, X509* leaf,
                                 bool fallback_to_first) {
  size_t pick = 0;
  while (pick < certs.size() && !signedBy(leaf, certs[pick].get())) ++pick;
  if (pick == certs.size()) {
    if (!fallback_to_first || certs.empty()) return std::nullopt;
    pick = 0;
  }
  Issuer issuer;
  issuer.cert = certs[pick];
  certs.erase(certs.begin() + static_cast<std::ptrdiff_t>(pick));
  issuer.others = std::move(certs);
  return issuer;
}

Error issuerError(std::string detail) {
  return makeError(ErrorCategory::Config, "no_issuer", std::move(detail));
}

Result<Issuer> issuerFromFile(const std::string& path, X509* leaf) {
  std::string why;
  std::vector<SharedX509> certs;
  for (auto& cert : readCertificates(path, &why)) certs.push_back(shareX509(std::move(cert)));
  auto issuer = pickIssuer(std::move(certs), leaf, true);
  if (!issuer) return issuerError("--issuer " + path + ": " + why);
  issuer->source = "file";
  issuer->origin = path;
  return std::move(*issuer);
}

// RFC 5280 §4.2.2.1 caIssuers, fetched directly: a forward proxy serves OCSP and CRL hosts,
// not the CA's certificate hosts.
Result<Issuer> issuerFromAia(X509* leaf, int64_t timeout_ms) {
  auto urls = caIssuersUrls(leaf);
  if (urls.empty()) {
    return issuerError("no --issuer given and the certificate names no http caIssuers URL");
  }
  std::string why;
  for (const auto& url : urls) {
    auto download = httpExchange({url, "", std::nullopt, timeout_ms});
    if (!download || download->status != 200) {
      why = url + ": " +
            (download ? "HTTP " + std::to_string(download->status) : download.error().detail);
      continue;
    }
    auto certs = parseIssuerDownload(download->body);
    if (!certs) {
      why = url + ": " + certs.error().detail;
      continue;
    }
    if (auto issuer = pickIssuer(std::move(*certs), leaf, false)) {
      issuer->source = "aia";
      issuer->origin = url;
      return std::move(*issuer);
    }
    why = url + ": no certificate there signed " + subjectLine(leaf);
  }
  return issuerError("cannot get the issuer from the caIssuers URL: " + why);
}

Result<std::string> ocspUrlOf(X509* cert) {
  std::unique_ptr<STACK_OF(OPENSSL_STRING), FreeWith<X509_email_free>> urls(X509_get1_ocsp(cert));
  for (int i = 0; i < sk_OPENSSL_STRING_num(urls.get()); ++i) {
    std::string url = sk_OPENSSL_STRING_value(urls.get(), i);
    if (auto parsed = parseHttpUrl(url); parsed && parsed->scheme == "http") return url;
  }
  return makeError(ErrorCategory::Config, "no_ocsp_url",
                   "no --url given and the certificate names no http OCSP URL");
}

std::string serialHex(const X509* cert) {
  std::unique_ptr<BIGNUM, FreeWith<BN_free>> bn(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  OpensslBuffer<char> hex(bn ? BN_bn2hex(bn.get()) : nullptr);
  return hex ? hex.get() : "";
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

// Reads what the answer says about `id`, without judging it (validateResponse does that).
void describeResponse(std::string_view der, OCSP_CERTID* id, X509* issuer, Report& r) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  OcspResponsePtr response(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  OcspBasicRespPtr basic(response ? OCSP_response_get1_basic(response.get()) : nullptr);
  if (response) r.response_status = OCSP_response_status_str(OCSP_response_status(response.get()));
  if (!basic) {
    ERR_clear_error();
    return;
  }
  r.produced_at = asn1ToEpoch(OCSP_resp_get0_produced_at(basic.get()));
  int status = -1, reason = -1;
  ASN1_GENERALIZEDTIME *revoked = nullptr, *this_update = nullptr, *next_update = nullptr;
  if (OCSP_resp_find_status(basic.get(), id, &status, &reason, &revoked, &this_update,
                            &next_update) == 1) {
    r.cert_status = status == V_OCSP_CERTSTATUS_GOOD      ? CertStatus::Good
                    : status == V_OCSP_CERTSTATUS_REVOKED ? CertStatus::Revoked
                                                          : CertStatus::Unknown;
    r.this_update = asn1ToEpoch(this_update);
    r.next_update = asn1ToEpoch(next_update);
    if (status == V_OCSP_CERTSTATUS_REVOKED) {
      r.revoked_at = asn1ToEpoch(revoked);
      if (reason >= 0) r.revocation_reason = OCSP_crl_reason_str(reason);
    }
  }
  X509StackPtr candidates(sk_X509_new_null());
  if (candidates && X509_up_ref(issuer) == 1 && !sk_X509_push(candidates.get(), issuer)) {
    X509_free(issuer);
  }
  X509* signer = nullptr;
  const ASN1_OCTET_STRING* key_hash = nullptr;
  const X509_NAME* name = nullptr;
  if (OCSP_resp_get0_signer(basic.get(), &signer, candidates.get()) == 1) {
    r.signer = subjectLine(signer);
  } else if (OCSP_resp_get0_id(basic.get(), &key_hash, &name) == 1) {
    r.signer = name != nullptr ? nameLine(name) : "key hash " + toHex(asn1Bytes(key_hash));
  }
  ERR_clear_error();
}

Status failAt(Report& r, const char* stage, Error error) {
  r.error_stage = stage;
  return error;
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
  if (!issuer) return failAt(r, "issuer", issuer.error());
  r.issuer_subject = subjectLine(issuer->cert.get());
  r.issuer_source = issuer->source;
  r.issuer_origin = issuer->origin;
  checkIssuer(r, *issuer, leaf, o.trust_store, now);

  auto url = o.url.empty() ? ocspUrlOf(leaf) : Result<std::string>(o.url);
  if (!url) return failAt(r, "responder_url", url.error());
  r.responder_url = *url;
  r.route = o.direct ? "direct" : "proxy";
  if (!o.direct) r.proxy_url = o.via;
  r.hash = o.sha256 ? "sha256" : "sha1";

  // RFC 5019 §2.1.1: one CertID, no nonce, unsigned.
  OcspCertIdPtr id(OCSP_cert_to_id(o.sha256 ? EVP_sha256() : EVP_sha1(), leaf, issuer->cert.get()));
  std::vector<CertIdInfo> ids(1);
  std::string request = id && certIdInfoFrom(id.get(), &ids[0]) ? encodeOcspRequest(ids) : "";
  if (request.empty()) {
    return failAt(r, "request",
                  makeError(ErrorCategory::Internal, "internal",
                            "cannot build the OCSP request: " + opensslErrors()));
  }

  auto answer = httpExchange(
      {*url, request, o.direct ? std::nullopt : std::optional<std::string>(o.via), o.timeout_ms});
  if (!answer) {
    Error e = answer.error();
    e.detail = "no answer from " + *url + (o.direct ? "" : " via proxy " + o.via) + ": " + e.detail;
    return failAt(r, "transport", std::move(e));
  }
  r.http_status = answer->status;
  r.elapsed_ms = answer->elapsed_ms;
  for (auto& flag : answer->proxy_flags) addFlag(r, std::move(flag));
  if (answer->status != 200) {
    return failAt(r, "http",
                  makeError(ErrorCategory::UpstreamUnavailable, "http_status",
                            "HTTP " + std::to_string(answer->status) + " from " +
                                (o.direct ? *url : "the proxy " + o.via)));
  }

  describeResponse(answer->body, id.get(), issuer->cert.get(), r);
  ValidationInput in;
  in.der = answer->body;
  in.cert_ids = &ids;
  in.issuer = issuer->cert.get();
  in.now = now;
  auto validated = validateResponse(in);
  if (!validated) {
    r.validation_error = validated.error();
    return failAt(r, "validation", validated.error());
  }
  r.validated = *validated;
  return Ok{};
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
