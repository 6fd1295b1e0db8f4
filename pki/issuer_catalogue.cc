#include "pki/issuer_catalogue.h"

#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <unordered_map>

#include "core/log.h"
#include "core/url.h"
#include "pki/cert_conformance.h"
#include "pki/issuer_completion.h"

namespace ocsp {

namespace {

using DistPointsPtr = std::unique_ptr<CRL_DIST_POINTS, FreeWith<CRL_DIST_POINTS_free>>;
void freeStringStack(STACK_OF(OPENSSL_STRING) * s) { X509_email_free(s); }
using StringStackPtr = std::unique_ptr<STACK_OF(OPENSSL_STRING), FreeWith<freeStringStack>>;

// The host of an http(s) URL, lower-cased; "" for anything else.
std::string hostOf(std::string_view url) {
  auto parsed = parseHttpUrl(url);
  return parsed.ok() ? parsed->host : std::string();
}

void addHost(std::vector<std::string>* hosts, std::string host) {
  if (!host.empty() && std::find(hosts->begin(), hosts->end(), host) == hosts->end()) {
    hosts->push_back(std::move(host));
  }
}

// AIA id-ad-ocsp hosts (RFC 5280 §4.2.2.1), in the order written.
std::vector<std::string> ocspHosts(X509* cert) {
  std::vector<std::string> hosts;
  StringStackPtr urls(X509_get1_ocsp(cert));
  for (int i = 0; urls && i < sk_OPENSSL_STRING_num(urls.get()); ++i) {
    addHost(&hosts, hostOf(sk_OPENSSL_STRING_value(urls.get(), i)));
  }
  return hosts;
}

// CRL distribution point hosts (RFC 5280 §4.2.1.13), fullName URIs only.
std::vector<std::string> crlHosts(X509* cert) {
  std::vector<std::string> hosts;
  DistPointsPtr points(static_cast<CRL_DIST_POINTS*>(
      X509_get_ext_d2i(cert, NID_crl_distribution_points, nullptr, nullptr)));
  for (int i = 0; points && i < sk_DIST_POINT_num(points.get()); ++i) {
    const DIST_POINT* dp = sk_DIST_POINT_value(points.get(), i);
    if (dp->distpoint == nullptr || dp->distpoint->type != 0) continue;
    const GENERAL_NAMES* names = dp->distpoint->name.fullname;
    for (int j = 0; j < sk_GENERAL_NAME_num(names); ++j) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, j);
      if (gn->type != GEN_URI) continue;
      addHost(&hosts, hostOf(asn1Bytes(gn->d.uniformResourceIdentifier)));
    }
  }
  return hosts;
}

bool isCa(X509* cert) { return (X509_get_extension_flags(cert) & EXFLAG_CA) != 0; }

std::string nameDer(const X509_NAME* name) {
  return toDer(const_cast<X509_NAME*>(name), i2d_X509_NAME);
}

// RFC 6960 §4.1.1: a CertID knows its issuer by subject and key.
std::string identity(X509* cert) {
  std::string id = nameDer(X509_get_subject_name(cert));
  id.append(asn1Bytes(X509_get0_pubkey_bitstr(cert)));
  return id;
}

struct Builder {
  const std::vector<CatalogueUpstream>& upstreams;
  int64_t at;
  Catalogue out;
  std::unordered_map<std::string, size_t> by_identity;              // -> kept index
  std::unordered_multimap<std::string, size_t> by_subject;          // subject DER -> kept
  std::unordered_map<std::string, std::string> seen_der;            // sha256 -> origin

  size_t servedBy(const std::string& host) const {
    for (size_t u = 0; u < upstreams.size(); ++u) {
      for (const auto& f : upstreams[u].fqdns) {
        if (f.size() == host.size() &&
            std::equal(f.begin(), f.end(), host.begin(),
                       [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
          return u;
        }
      }
    }
    return kNoUpstream;
  }

  void skip(std::string origin, X509* cert, SkipReason reason, std::string detail,
            std::vector<std::string> notes = {}) {
    out.skipped.push_back(SkippedInput{std::move(origin), cert ? subjectLine(cert) : "", reason,
                                       std::move(detail), std::move(notes)});
  }

  // Validity at `at`; skips and returns false when out of it.
  bool validNow(X509* cert, const std::string& origin, const std::vector<std::string>& notes) {
    auto not_before = asn1ToEpoch(X509_get0_notBefore(cert));
    auto not_after = asn1ToEpoch(X509_get0_notAfter(cert));
    if (!not_after || *not_after < at) {
      skip(origin, cert, SkipReason::Expired,
           "notAfter " + (not_after ? rfc3339(*not_after) : std::string("unreadable")), notes);
      return false;
    }
    if (!not_before || *not_before > at) {
      skip(origin, cert, SkipReason::NotYetValid,
           "notBefore " + (not_before ? rfc3339(*not_before) : std::string("unreadable")),
           notes);
      return false;
    }
    return true;
  }

  size_t place(SharedX509 cert, std::string origin, std::string sha, size_t parent,
               std::vector<std::string> notes) {
    KeptIssuer k;
    k.subject = subjectLine(cert.get());
    k.origin = std::move(origin);
    k.sha256_hex = std::move(sha);
    k.not_after = asn1ToEpoch(X509_get0_notAfter(cert.get())).value_or(0);
    k.ocsp_hosts = ocspHosts(cert.get());
    k.crl_hosts = crlHosts(cert.get());
    for (const auto& url : caIssuersUrls(cert.get())) addHost(&k.ca_issuers_hosts, hostOf(url));
    k.notes = std::move(notes);
    size_t index = out.kept.size();
    k.root = parent == kNoUpstream;
    k.parent = k.root ? index : parent;
    by_identity.emplace(identity(cert.get()), index);
    by_subject.emplace(nameDer(X509_get_subject_name(cert.get())), index);
    k.cert = std::move(cert);
    out.kept.push_back(std::move(k));
    return index;
  }

  // A kept CA whose key signed `cert` under the name `cert` gives as issuer, or kNoUpstream.
  size_t parentOf(X509* cert) const {
    auto [first, last] = by_subject.equal_range(nameDer(X509_get_issuer_name(cert)));
    for (auto it = first; it != last; ++it) {
      EVP_PKEY* key = X509_get0_pubkey(out.kept[it->second].cert.get());
      if (key != nullptr && X509_verify(cert, key) == 1) return it->second;
      ERR_clear_error();
    }
    return kNoUpstream;
  }
};

struct Pending {
  SharedX509 cert;
  std::string origin;
  std::string sha;
  std::vector<std::string> notes;
};

std::string countText(size_t n, size_t of) {
  return std::to_string(n) + " of " + std::to_string(of);
}

// Rules 1 and 2 of the header (rule 1 alone for a root); false if neither decides.
// The first host of `hosts` an upstream serves, with that upstream; {"", kNoUpstream} if none.
std::pair<std::string, size_t> firstServed(const Builder& b, const std::vector<std::string>& hosts) {
  for (const auto& h : hosts) {
    if (size_t u = b.servedBy(h); u != kNoUpstream) return {h, u};
  }
  return {"", kNoUpstream};
}

// Rules 1 and 2 of the header (rule 1 alone for a root); false if neither decides. Votes are
// counted per upstream (ocsp.globalsign.com and ocsp2.globalsign.com are one); a tie goes to
// `preferred` (the upstream of rule 2, or the one a root is bound to), else to the upstream
// listed first.
bool routeByHosts(const Builder& b, const std::vector<std::vector<size_t>>& children,
                  size_t i, size_t preferred, KeptIssuer* k) {
  struct Vote {
    size_t count = 0;
    std::map<std::string, size_t> hosts;
  };
  std::map<size_t, Vote> votes;  // upstream -> the children naming it
  for (size_t c : children[i]) {
    auto [host, u] = firstServed(b, b.out.kept[c].ocsp_hosts);  // one vote per child
    if (u == kNoUpstream) continue;
    ++votes[u].count;
    ++votes[u].hosts[host];
  }
  auto best = votes.end();
  for (auto it = votes.begin(); it != votes.end(); ++it) {
    if (best == votes.end() || it->second.count > best->second.count ||
        (it->second.count == best->second.count && it->first == preferred)) {
      best = it;
    }
  }
  if (best != votes.end()) {
    const auto& hosts = best->second.hosts;
    auto host = std::max_element(hosts.begin(), hosts.end(),
                                 [](const auto& x, const auto& y) { return x.second < y.second; });
    k->upstream = best->first;
    k->routed_host = host->first;
    k->why = "the CAs it issued name " + host->first;
    for (const auto& [other, n] : hosts) {
      if (other != host->first) k->why += " or " + other;
    }
    k->why += " (" + countText(best->second.count, children[i].size()) + ")";
    // A CertID names only its issuer, so the CAs that name another upstream's responder are
    // asked at this one: say so, for the operator to judge.
    for (const auto& [u, vote] : votes) {
      if (u == best->first) continue;
      for (const auto& [other, n] : vote.hosts) {
        k->why += "; outvoted: " + other + " (" + std::to_string(n) + ")";
      }
    }
    return true;
  }
  if (k->root) return false;
  auto [host, u] = firstServed(b, k->ocsp_hosts);
  if (u == kNoUpstream) return false;
  k->upstream = u;
  k->routed_host = host;
  k->why = "its own AIA names " + host +
           (children[i].empty() ? std::string(" (no CA it issued in the bundles)")
                                : " (no CA it issued names a served OCSP host)");
  return true;
}

}  // namespace

std::string_view skipReasonName(SkipReason reason) {
  switch (reason) {
    case SkipReason::Unparseable: return "unparseable";
    case SkipReason::NotCa: return "not_a_ca";
    case SkipReason::Expired: return "expired";
    case SkipReason::NotYetValid: return "not_yet_valid";
    case SkipReason::NoRoot: return "no_configured_root";
    case SkipReason::Duplicate: return "duplicate";
    case SkipReason::Unroutable: return "unroutable";
  }
  return "unknown";
}

bool isSelfSigned(X509* cert) {
  if (X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) != 0) return false;
  EVP_PKEY* key = X509_get0_pubkey(cert);
  bool ok = key != nullptr && X509_verify(cert, key) == 1;
  ERR_clear_error();
  return ok;
}

Catalogue buildCatalogue(const std::vector<CatalogueUpstream>& upstreams,
                         const std::vector<CatalogueRoot>& roots,
                         const std::vector<CatalogueInput>& inputs, int64_t at) {
  ErrorQueueGuard guard;
  Builder b{upstreams, at, {}, {}, {}, {}};
  std::vector<size_t> root_upstream;  // per kept index while roots are placed

  for (const auto& r : roots) {
    std::string der = toDer(r.cert.get(), i2d_X509);
    std::string sha = toHex(sha256(der));
    if (!b.validNow(r.cert.get(), r.origin, {})) continue;
    if (auto it = b.by_identity.find(identity(r.cert.get())); it != b.by_identity.end()) {
      // The same root under one upstream twice is harmless; the config rejects two upstreams.
      if (root_upstream[it->second] == kNoUpstream) root_upstream[it->second] = r.upstream;
      b.seen_der.emplace(sha, b.out.kept[it->second].origin);
      continue;
    }
    b.seen_der.emplace(sha, r.origin);
    b.place(r.cert, r.origin, sha, kNoUpstream, conformanceNotes(r.cert.get()));
    root_upstream.push_back(r.upstream);
  }

  std::vector<Pending> pending;
  for (const auto& in : inputs) {
    if (in.der.empty()) {
      b.skip(in.origin, nullptr, SkipReason::Unparseable, in.problem);
      continue;
    }
    const auto* p = reinterpret_cast<const unsigned char*>(in.der.data());
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(in.der.size())));
    if (!cert || p != reinterpret_cast<const unsigned char*>(in.der.data()) + in.der.size()) {
      b.skip(in.origin, nullptr, SkipReason::Unparseable,
             withOpensslErrors(cert ? "trailing bytes after the certificate"
                                    : "not an X.509 certificate"));
      continue;
    }
    std::vector<std::string> notes = conformanceNotes(cert.get());
    std::string sha = toHex(sha256(in.der));
    if (auto it = b.seen_der.find(sha); it != b.seen_der.end()) {
      b.skip(in.origin, cert.get(), SkipReason::Duplicate, "the same certificate as " + it->second,
             notes);
      continue;
    }
    b.seen_der.emplace(sha, in.origin);
    if (!isCa(cert.get())) {
      b.skip(in.origin, cert.get(), SkipReason::NotCa, "basicConstraints cA is not set", notes);
      continue;
    }
    if (!b.validNow(cert.get(), in.origin, notes)) continue;
    pending.push_back(Pending{shareX509(std::move(cert)), in.origin, std::move(sha),
                              std::move(notes)});
  }

  // Grow the tree from the roots: each pass places the certificates whose issuer is placed.
  for (bool progress = true; progress;) {
    progress = false;
    std::vector<Pending> still;
    for (auto& pc : pending) {
      size_t parent = b.parentOf(pc.cert.get());
      if (parent == kNoUpstream) {
        still.push_back(std::move(pc));
        continue;
      }
      progress = true;
      if (auto it = b.by_identity.find(identity(pc.cert.get())); it != b.by_identity.end()) {
        b.skip(pc.origin, pc.cert.get(), SkipReason::Duplicate,
               "same subject and key as " + b.out.kept[it->second].origin +
                   " (a re-issue or cross-certificate: one issuer to a CertID)",
               pc.notes);
        continue;
      }
      b.place(pc.cert, pc.origin, pc.sha, parent, std::move(pc.notes));
    }
    pending = std::move(still);
  }
  for (auto& pc : pending) {
    b.skip(pc.origin, pc.cert.get(), SkipReason::NoRoot,
           "no kept CA or configured root signed it (issuer " +
               nameLine(X509_get_issuer_name(pc.cert.get())) + ")",
           pc.notes);
  }

  // Route: rules 1 and 2 first, then rule 3 (which needs the ancestors routed).
  auto& kept = b.out.kept;
  std::vector<std::vector<size_t>> children(kept.size());
  for (size_t i = 0; i < kept.size(); ++i) {
    if (!kept[i].root) children[kept[i].parent].push_back(i);
  }
  for (size_t i = 0; i < kept.size(); ++i) {
    KeptIssuer& k = kept[i];
    size_t preferred = k.root ? (i < root_upstream.size() ? root_upstream[i] : kNoUpstream)
                              : firstServed(b, k.ocsp_hosts).second;
    if (routeByHosts(b, children, i, preferred, &k)) continue;
    if (k.root && i < root_upstream.size() && root_upstream[i] != kNoUpstream) {
      k.upstream = root_upstream[i];
      k.why = "root configured under this upstream (no CA it issued names a served OCSP host)";
    }
  }
  for (size_t i = 0; i < kept.size(); ++i) {
    KeptIssuer& k = kept[i];
    if (k.upstream != kNoUpstream || k.root) continue;
    // Parents come before their children, so the parent is decided (or unroutable).
    const KeptIssuer& parent = kept[k.parent];
    k.upstream = parent.upstream;
    k.why = "CRL only: follows its issuer " + parent.subject;
  }

  // Drop what found no upstream; indexes shift, so parents are remapped.
  std::vector<size_t> new_index(kept.size(), kNoUpstream);
  std::vector<KeptIssuer> routed;
  for (size_t i = 0; i < kept.size(); ++i) {
    if (kept[i].upstream == kNoUpstream) {
      b.skip(kept[i].origin, kept[i].cert.get(), SkipReason::Unroutable,
             "no OCSP host to route it by, and its root is configured under no upstream",
             kept[i].notes);
      continue;
    }
    new_index[i] = routed.size();
    routed.push_back(std::move(kept[i]));
  }
  for (size_t i = 0; i < routed.size(); ++i) {
    routed[i].parent = routed[i].root ? i : new_index[routed[i].parent];  // kNoUpstream: dropped
    for (const auto& h : routed[i].ocsp_hosts) {
      if (b.servedBy(h) == kNoUpstream) ++b.out.unserved_ocsp_hosts[h];
    }
    b.out.crl_hosts.insert(routed[i].crl_hosts.begin(), routed[i].crl_hosts.end());
    b.out.ca_issuers_hosts.insert(routed[i].ca_issuers_hosts.begin(),
                                  routed[i].ca_issuers_hosts.end());
  }
  kept = std::move(routed);
  return std::move(b.out);
}

}  // namespace ocsp
