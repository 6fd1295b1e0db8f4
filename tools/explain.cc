#include "tools/explain.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cctype>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json.h"
#include "core/ocsp_entry.h"
#include "core/ossl.h"
#include "core/result.h"
#include "core/url.h"
#include "tools/check.h"
#include "tools/check_http.h"
#include "tools/check_query.h"
#include "tools/explain_verdict.h"
#include "tools/log_record.h"
#include "tools/proxy_status.h"
#include "upstream/curl_handles.h"

namespace ocsp::explain {
namespace {

constexpr const char* kDefaultAdmin = "http://127.0.0.1:9090";  // the proxy's default listen.admin
constexpr int64_t kDefaultTimeoutMs = 10'000;
constexpr size_t kMaxChain = 8;  // certificates walked, the leaf included

constexpr const char* kUsage =
    "Usage: ocsp-proxy explain --cert LEAF.pem [--chain FILE] [--error CODE] [--proxy URL]\n"
    "                          [--url URL] [--admin URL|none] [--log FILE] [--timeout DURATION]\n"
    "                          [--json]\n"
    "       ocsp-proxy explain --help\n"
    "\n"
    "Names the real cause of a client's revocation error in one sentence, then the evidence:\n"
    "each certificate of the chain asked about (as `ocsp-proxy check` asks), the proxy's\n"
    "/status (circuits, watched intermediates) and its revocation log.\n"
    "\n"
    "Options:\n"
    "  --cert FILE         the certificate the client rejected (PEM or DER); more certificates\n"
    "                      in the file are taken as its chain\n"
    "  --chain FILE        intermediates (PEM); issuers are matched by name and key. Missing\n"
    "                      ones are downloaded from the AIA caIssuers URL\n"
    "  --error CODE        the client's error, to say how it maps onto the cause and whether\n"
    "                      the evidence agrees (codes below)\n"
    "  --proxy URL         ask through the proxy, as an HTTP forward proxy (http://HOST:PORT),\n"
    "                      as clients do; default: ask each CA's responder directly\n"
    "  --url URL           the leaf's responder, http:// (default: its AIA OCSP URL)\n"
    "  --admin URL|none    the proxy's admin listener, for /status (default\n"
    "                      http://127.0.0.1:9090); none: do not ask\n"
    "  --log FILE          the proxy's revocation log (JSON Lines)\n"
    "  --timeout DURATION  limit for each HTTP transfer: 500ms, 10s, 1m (default 10s)\n"
    "  --json              one JSON object: cause, sentence, client_error, evidence, exit_code\n"
    "  --help              print this help and exit 0\n"
    "\n"
    "Causes (the JSON `cause`): leaf_revoked, intermediate_revoked, issuer_distrusted,\n"
    "cert_expired, cert_not_yet_valid, host_refused, unknown_issuer, proxy_unreachable,\n"
    "ca_unreachable, no_valid_answer, status_unknown, no_ocsp_url, good, undetermined.\n"
    "\n"
    "Client error codes known to --error (Windows ones also as 0x..., without 0x, or as the\n"
    "signed decimal HRESULT):\n";

constexpr const char* kExitText =
    "\n"
    "Exit status:\n"
    "  0   good      nothing is wrong with the chain\n"
    "  1   revoked   the leaf or an intermediate is revoked\n"
    "  2   unknown   the CA answers unknown for a certificate of the chain\n"
    "  3   error     any other cause; or --cert or --chain cannot be read (message on stderr)\n"
    "  64  usage     bad command line (EX_USAGE); the usage goes to stderr\n";

void printUsage(FILE* out) {
  std::string codes;
  std::string list = knownClientErrors();
  for (size_t at = 0; at < list.size();) {
    size_t nl = list.find('\n', at);
    codes += "  " + list.substr(at, nl - at) + "\n";
    at = nl + 1;
  }
  std::fprintf(out, "%s%s%s", kUsage, codes.c_str(), kExitText);
}

// -- command line --------------------------------------------------------------------------

struct Options {
  std::string cert_path, chain_path, error_code, proxy, url, log_path;
  std::string admin = kDefaultAdmin;
  int64_t timeout_ms = kDefaultTimeoutMs;
  bool json = false;
  bool help = false;
};

Result<Options> parseArgs(int argc, char** argv) {
  Options o;
  bool help_short = false;
  check::OptionTable table{
      .flags = {{"--help", &o.help}, {"-h", &help_short}, {"--json", &o.json}},
      .values = {{"--cert", &o.cert_path}, {"--chain", &o.chain_path}, {"--error", &o.error_code},
                 {"--proxy", &o.proxy}, {"--url", &o.url}, {"--admin", &o.admin},
                 {"--log", &o.log_path}},
      .timeout_ms = &o.timeout_ms};
  if (auto ok = check::parseOptions(argc, argv, table); !ok) return ok.error();
  o.help |= help_short;
  if (o.help) return o;
  if (o.cert_path.empty()) return check::usageError("--cert is required");
  if (!o.proxy.empty()) {
    if (auto ok = check::checkProxyUrl("--proxy", o.proxy); !ok) return ok.error();
  }
  for (auto [option, value] : {std::pair{"--url", &o.url}, std::pair{"--admin", &o.admin}}) {
    if (value->empty() || (value == &o.admin && *value == "none")) continue;
    if (auto ok = check::checkHttpUrl(option, *value); !ok) return ok.error();
  }
  return o;
}

// -- the chain -----------------------------------------------------------------------------

struct Member {
  SharedX509 cert;
  SharedX509 issuer;  // null when not found
};

bool selfSigned(X509* cert) { return check::signedBy(cert, cert); }

// The issuer of `cert` among `pool` (removed from it), else from its AIA caIssuers URL.
SharedX509 findIssuer(X509* cert, std::vector<SharedX509>& pool, int64_t timeout_ms,
                      std::string* note) {
  for (auto it = pool.begin(); it != pool.end(); ++it) {
    if (check::signedBy(cert, it->get())) {
      SharedX509 found = *it;
      pool.erase(it);
      return found;
    }
  }
  auto downloaded = check::issuerFromAia(cert, timeout_ms);
  if (!downloaded) {
    *note = "not in --cert or --chain, and " + downloaded.error().detail;
    return nullptr;
  }
  *note = "downloaded from " + downloaded->origin;
  return downloaded->cert;
}

// The serial as the log writes it, to compare: lower case, no leading zeros.
std::string normalSerial(std::string_view hex) {
  std::string out;
  for (char c : hex) {
    if (out.empty() && c == '0') continue;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string keyHash(X509* issuer, const EVP_MD* md) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_pubkey_digest(issuer, md, digest, &len) != 1) {
    ERR_clear_error();
    return "";
  }
  return toHex(std::string_view(reinterpret_cast<const char*>(digest), len));
}

Link describeCert(X509* cert) {
  Link l;
  l.subject = subjectLine(cert);
  l.serial = check::serialHex(cert);
  l.issuer = nameLine(X509_get_issuer_name(cert));
  l.not_before = asn1ToEpoch(X509_get0_notBefore(cert));
  l.not_after = asn1ToEpoch(X509_get0_notAfter(cert));
  return l;
}

void askAbout(const Options& o, const Member& m, bool is_leaf, int64_t now, Link& l) {
  if (!m.issuer) return;  // issuer_note says why
  auto url = is_leaf && !o.url.empty() ? Result<std::string>(o.url) : check::ocspUrlOf(m.cert.get());
  if (!url) {
    l.error_stage = "responder_url";
    l.error_code = url.error().code;
    l.error_detail = url.error().detail;
    return;
  }
  check::Report r;
  Status asked = check::askStatus(
      {m.cert.get(), m.issuer.get(), *url,
       o.proxy.empty() ? std::nullopt : std::optional<std::string>(o.proxy), false, o.timeout_ms,
       now},
      r);
  l.responder_url = r.responder_url;
  l.proxy_url = r.proxy_url;
  l.http_status = r.http_status;
  l.response_status = r.response_status;
  l.cert_status = r.cert_status ? certStatusName(*r.cert_status) : "";
  l.validated = r.validated.has_value();
  l.revoked_at = r.revoked_at;
  l.revocation_reason = r.revocation_reason;
  l.next_update = r.next_update;
  l.flags = r.flags;
  if (!asked.ok()) {
    l.error_stage = r.error_stage;
    l.error_code = asked.error().code;
    l.error_detail = asked.error().detail;
  }
}

// -- the revocation log --------------------------------------------------------------------

struct LogKey {
  std::string serial;                  // normalSerial
  std::string sha1_hash, sha256_hash;  // the issuer's key hashes; "" without the issuer
  std::string issuer_name;
};

void readLog(const std::string& path, const std::vector<LogKey>& keys, Evidence& e) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    e.log_error = "cannot open it";
    return;
  }
  report::LogRecordParser parser;
  report::Answer a;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ++e.log_lines;
    if (parser.parse(line, a).fault != nullptr) {
      ++e.log_bad_lines;
      continue;
    }
    std::string serial = normalSerial(a.serial);
    for (size_t i = 0; i < keys.size(); ++i) {
      const LogKey& k = keys[i];
      bool same_issuer = k.sha1_hash.empty() ? a.issuer == k.issuer_name
                                             : a.key_hash == k.sha1_hash || a.key_hash == k.sha256_hash;
      if (serial != k.serial || !same_issuer) continue;
      LogLine out;
      out.time = report::timeText(a.time_ms);
      out.status = report::kStatusNames[a.status];
      out.validation = a.validation;
      out.upstream_fqdn = a.fqdn;
      out.revocation_time = report::revocationTimeText(a.revocation_ms);
      out.revocation_reason = a.reason ? std::string(*a.reason) : "";
      out.issuer_revoked = a.issuer_revoked;
      out.stale = a.stale;
      e.chain[i].log.push_back(std::move(out));
    }
  }
  if (in.bad()) e.log_error = "read error";
}

// -- gathering -----------------------------------------------------------------------------

Result<Evidence> gather(const Options& o, int64_t now) {
  std::string why;
  auto certs = readCertificates(o.cert_path, &why);
  if (certs.empty()) {
    return makeError(ErrorCategory::Config, "unreadable_certificate",
                     "cannot read a certificate from --cert " + o.cert_path + ": " + why);
  }
  std::vector<SharedX509> pool;
  for (auto& c : certs) pool.push_back(shareX509(std::move(c)));
  SharedX509 leaf = pool.front();
  pool.erase(pool.begin());
  if (!o.chain_path.empty()) {
    auto chain = readCertificates(o.chain_path, &why);
    if (chain.empty()) {
      return makeError(ErrorCategory::Config, "unreadable_certificate",
                       "cannot read a certificate from --chain " + o.chain_path + ": " + why);
    }
    for (auto& c : chain) pool.push_back(shareX509(std::move(c)));
  }

  Evidence e;
  e.now = now;
  e.via_proxy = !o.proxy.empty();
  std::vector<LogKey> keys;
  SharedX509 current = leaf;
  while (current && e.chain.size() < kMaxChain) {
    Link l = describeCert(current.get());
    Member m{current, nullptr};
    l.self_signed = selfSigned(current.get());
    if (!l.self_signed) {
      std::string note;
      m.issuer = findIssuer(current.get(), pool, o.timeout_ms, &note);
      if (!m.issuer || note.starts_with("downloaded")) l.issuer_note = note;
      askAbout(o, m, e.chain.empty(), now, l);
    }
    keys.push_back({normalSerial(l.serial), m.issuer ? keyHash(m.issuer.get(), EVP_sha1()) : "",
                    m.issuer ? keyHash(m.issuer.get(), EVP_sha256()) : "", l.issuer});
    current = l.self_signed ? nullptr : m.issuer;
    e.chain.push_back(std::move(l));
  }
  if (o.admin != "none") e.status = fetchProxyStatus(o.admin, o.timeout_ms);
  if (!o.log_path.empty()) {
    e.log_path = o.log_path;
    readLog(o.log_path, keys, e);
  }
  return e;
}

void printJson(const Verdict& v, FILE* out) {
  std::string evidence;
  for (const auto& line : v.evidence) evidence += (evidence.empty() ? "" : ",") + jsonString(line);
  std::string client = "null";
  if (v.client) {
    client = "{\"text\":" + jsonString(*v.client) + ",\"agrees\":" +
             (!v.agrees ? "null" : *v.agrees ? "true" : "false") + "}";
  }
  std::fprintf(out,
               "{\"cause\":%s,\"sentence\":%s,\"client_error\":%s,\"evidence\":[%s],"
               "\"exit_code\":%d}\n",
               jsonString(causeName(v.cause)).c_str(), jsonString(v.sentence).c_str(),
               client.c_str(), evidence.c_str(), v.exit_code);
}

}  // namespace

int runExplain(int argc, char** argv) {
  auto options = parseArgs(argc, argv);
  if (!options) {
    std::fprintf(stderr, "ocsp-proxy explain: %s\n\n", options.error().detail.c_str());
    printUsage(stderr);
    return check::kExitUsage;
  }
  if (options->help) {
    printUsage(stdout);
    return 0;
  }
  CurlGlobal curl;  // main() holds one too when explain runs as the subcommand
  auto evidence = gather(*options, static_cast<int64_t>(std::time(nullptr)));
  if (!evidence) {
    std::fprintf(stderr, "ocsp-proxy explain: %s\n", evidence.error().detail.c_str());
    return check::kExitError;
  }
  Verdict v = decide(*evidence, options->error_code);
  if (options->json) {
    printJson(v, stdout);
  } else {
    std::printf("%s\n", v.sentence.c_str());
    if (v.client) std::printf("%s\n", v.client->c_str());
    std::printf("evidence:\n");
    for (const auto& line : v.evidence) std::printf("  %s\n", line.c_str());
  }
  std::fflush(stdout);
  return v.exit_code;
}

}  // namespace ocsp::explain
