// watch.issuers: which certificates are watched, under which parent and name; the rules are in
// conf/watch_issuers.h.
#include "conf/watch_issuers.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <map>
#include <tuple>
#include <set>
#include <utility>
#include <vector>

namespace ocsp::conf {

namespace {

constexpr size_t kSuffixHexDigits = 8;

std::string fingerprint(X509* cert) { return sha256(toDer(cert, i2d_X509)); }

int64_t notAfterOf(X509* cert) {
  auto t = asn1ToEpoch(X509_get0_notAfter(cert));
  return t ? *t : 0;
}

bool validAt(X509* cert, int64_t now) {
  auto not_before = asn1ToEpoch(X509_get0_notBefore(cert));
  return (!not_before || *not_before <= now) && notAfterOf(cert) >= now;
}

bool selfSigned(X509* cert) { return X509_self_signed(cert, 0) == 1; }

// Every certificate that may be a parent, by subject (DER), each once.
class Candidates {
 public:
  void add(const SharedX509& cert) {
    if (seen_.insert(fingerprint(cert.get())).second) {
      by_subject_[toDer(X509_get_subject_name(cert.get()), i2d_X509_NAME)].push_back(cert);
    }
  }

  // The parent of `cert` by the rules in the header, or null.
  SharedX509 parentOf(X509* cert, int64_t now) const {
    auto it = by_subject_.find(toDer(X509_get_issuer_name(cert), i2d_X509_NAME));
    if (it == by_subject_.end()) return nullptr;
    SharedX509 best;
    for (const SharedX509& candidate : it->second) {
      if (X509_cmp(candidate.get(), cert) == 0 || notIssuedBecause(candidate.get(), cert)) {
        continue;
      }
      if (!best || preferred(candidate.get(), best.get(), now)) best = candidate;
    }
    return best;
  }

 private:
  static bool preferred(X509* a, X509* b, int64_t now) {
    auto rank = [now](X509* c) {
      return std::make_tuple(validAt(c, now), selfSigned(c), notAfterOf(c));
    };
    if (rank(a) != rank(b)) return rank(a) > rank(b);
    return fingerprint(a) < fingerprint(b);
  }

  std::set<std::string> seen_;  // fingerprints
  std::map<std::string, std::vector<SharedX509>> by_subject_;
};

std::string commonName(X509* cert) {
  X509_NAME* name = X509_get_subject_name(cert);
  const int at = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (at < 0) return "";
  const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
  unsigned char* utf8 = nullptr;
  const int n = ASN1_STRING_to_UTF8(&utf8, value);
  if (n < 0) return "";
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

bool plainNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '.' || c == '-';
}

struct Pending {
  SharedX509 cert;
  SharedX509 parent;
  std::string path;
  std::string base;  // watchNameOf
  std::string fingerprint;
};

// `base` with a suffix from `fingerprint` that no name in `taken` has: 8 hex digits, more
// only if an explicit entry is spelled so.
std::string suffixed(const std::string& base, const std::string& fingerprint,
                     const std::set<std::string>& taken) {
  const std::string hex = toHex(fingerprint);
  std::string name;
  for (size_t digits = kSuffixHexDigits; digits <= hex.size(); digits *= 2) {
    name = base + "-" + hex.substr(0, digits);
    if (taken.count(name) == 0) break;
  }
  return name;
}

}  // namespace

std::optional<std::string> notIssuedBecause(X509* parent, X509* cert) {
  int rc = X509_check_issued(parent, cert);
  if (rc != X509_V_OK) return std::string(X509_verify_cert_error_string(rc));
  EVP_PKEY* key = X509_get0_pubkey(parent);
  bool verified = key != nullptr && X509_verify(cert, key) == 1;
  ERR_clear_error();
  if (!verified) return std::string("signature does not verify with the parent's key");
  return std::nullopt;
}

std::string watchNameOf(X509* cert) {
  std::string out;
  for (char c : commonName(cert)) {
    const char plain = plainNameChar(c) ? c : '-';
    if (plain != '-' || (!out.empty() && out.back() != '-')) out += plain;
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "ca" : out;
}

void addWatchedIssuers(Config& config, int64_t now) {
  Watch& watch = config.watch;
  Candidates candidates;
  for (const IssuerCert& c : watch.issuers) candidates.add(c.cert);
  for (const Upstream& u : config.upstreams) {
    for (const IssuerCert& c : u.issuers) candidates.add(c.cert);
  }
  for (const IssuerCert& c : config.crl.issuers) candidates.add(c.cert);
  std::set<std::string> names;
  std::set<std::string> watched;  // fingerprints
  for (const WatchedCa& ca : watch.intermediates) {
    candidates.add(ca.cert);
    candidates.add(ca.parent);
    names.insert(ca.name);
    watched.insert(fingerprint(ca.cert.get()));
  }

  std::vector<Pending> pending;
  std::map<std::string, int> uses;  // base name -> certificates it would stand for
  for (const IssuerCert& c : watch.issuers) {
    X509* cert = c.cert.get();
    std::string print = fingerprint(cert);
    if (!watched.insert(print).second) continue;
    const char* skipped = nullptr;
    SharedX509 parent;
    if (X509_check_ca(cert) == 0) {
      skipped = "not a CA";
    } else if (selfSigned(cert)) {
      continue;
    } else if (notAfterOf(cert) < now) {
      skipped = "expired";
    } else if (!(parent = candidates.parentOf(cert, now))) {
      skipped = "no parent found";
    }
    if (skipped != nullptr) {
      watch.skipped.push_back(SkippedCa{subjectLine(cert), c.path, skipped});
      continue;
    }
    pending.push_back(Pending{c.cert, std::move(parent), c.path, watchNameOf(cert),
                              std::move(print)});
    uses[pending.back().base] += 1;
  }

  for (Pending& p : pending) {
    const bool shared = uses[p.base] > 1 || names.count(p.base) != 0;
    std::string name = shared ? suffixed(p.base, p.fingerprint, names) : p.base;
    names.insert(name);
    watch.intermediates.push_back(
        WatchedCa{std::move(name), p.path, std::move(p.cert), std::move(p.parent), ""});
  }
}

}  // namespace ocsp::conf
