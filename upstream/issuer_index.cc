#include "upstream/issuer_index.h"

#include <openssl/evp.h>

#include <mutex>

#include "core/log.h"

namespace ocsp {

namespace {
std::string digest(const EVP_MD* md, const unsigned char* data, size_t len) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  if (EVP_Digest(data, len, out, &out_len, md, nullptr) != 1) return {};
  return std::string(reinterpret_cast<const char*>(out), out_len);
}
}  // namespace

void IssuerIndex::add(Table& table, const std::shared_ptr<const Route>& route) {
  static const int kHashNids[] = {NID_sha1, NID_sha256, NID_sha384, NID_sha512};
  X509* cert = route->issuer.get();
  // RFC 6960 §4.1.1: issuerNameHash = H(DER of the issuer's subject name),
  // issuerKeyHash = H(subjectPublicKey BIT STRING value, without tag/length/unused bits).
  std::string name_der = toDer(X509_get_subject_name(cert), i2d_X509_NAME);
  const ASN1_BIT_STRING* key = X509_get0_pubkey_bitstr(cert);
  for (int nid : kHashNids) {
    const EVP_MD* md = EVP_get_digestbynid(nid);
    std::string name_hash =
        digest(md, reinterpret_cast<const unsigned char*>(name_der.data()), name_der.size());
    std::string key_hash = digest(md, ASN1_STRING_get0_data(key),
                                  static_cast<size_t>(ASN1_STRING_length(key)));
    table[key_hash].push_back(Candidate{nid, std::move(name_hash), route});
  }
}

std::shared_ptr<const Route> IssuerIndex::lookup(const Table& table, const CertIdInfo& id) {
  auto it = table.find(id.issuer_key_hash);
  if (it == table.end()) return nullptr;
  for (const Candidate& c : it->second) {
    if (c.hash_nid == id.hash_nid && c.issuer_name_hash == id.issuer_name_hash) return c.route;
  }
  return nullptr;
}

std::string IssuerIndex::distrustName(X509* cert) const {
  if (distrusted_.empty()) return "";
  std::string spki = toDer(X509_get_X509_PUBKEY(cert), i2d_X509_PUBKEY);
  auto it = distrusted_.find(sha256(spki));
  return it == distrusted_.end() ? "" : it->second;
}

IssuerIndex::IssuerIndex(const conf::Config& config) {
  for (const conf::Distrusted& d : config.distrust) distrusted_.emplace(d.spki_sha256, d.name);
  for (size_t u = 0; u < config.upstreams.size(); ++u) {
    const auto& upstream = config.upstreams[u];
    for (const auto& issuer : upstream.issuers) {
      auto route = std::make_shared<Route>();
      route->upstream_index = u;
      route->upstream_name = upstream.name;
      route->issuer = issuer.cert;
      route->issuer_name = subjectLine(issuer.cert.get());
      route->distrusted_as = distrustName(issuer.cert.get());
      // The config rejects one issuer under two upstreams, so candidates never clash.
      add(routes_, route);
      configured_.push_back(issuer.cert);
      ++issuer_count_;
    }
  }
}

std::shared_ptr<const Route> IssuerIndex::find(const CertIdInfo& id) const {
  if (auto route = lookup(routes_, id)) return route;
  std::shared_lock lock(learned_mu_);
  if (learned_.empty()) return nullptr;
  return lookup(learned_, id);
}

const char* learnedFromName(LearnedFrom from) {
  switch (from) {
    case LearnedFrom::Aia: return "aia";
    case LearnedFrom::Discovery: return "discovery";
    case LearnedFrom::State: return "state";
    case LearnedFrom::Redis: return "redis";
  }
  return "?";
}

std::shared_ptr<const Route> IssuerIndex::insert(LearnedIssuer entry, bool* added) {
  {
    std::unique_lock lock(learned_mu_);
    *added = false;
    for (const auto& known : learned_routes_) {
      if (X509_cmp(known.route->issuer.get(), entry.route->issuer.get()) == 0) return known.route;
    }
    add(learned_, entry.route);
    learned_routes_.push_back(entry);
    *added = true;
  }
  if (on_learned_) on_learned_(entry);
  return entry.route;
}

std::shared_ptr<const Route> IssuerIndex::learn(SharedX509 issuer, size_t upstream_index,
                                                const std::string& upstream_name,
                                                LearnedFrom from, int64_t now) {
  auto route = std::make_shared<Route>();
  route->upstream_index = upstream_index;
  route->upstream_name = upstream_name;
  route->issuer = std::move(issuer);
  route->issuer_name = subjectLine(route->issuer.get());
  route->distrusted_as = distrustName(route->issuer.get());
  bool added = false;
  auto held = insert(LearnedIssuer{route, now, from}, &added);
  if (added) {
    logEvent(LogLevel::Info, "issuer_learned",
             {{"issuer", route->issuer_name},
              {"upstream", upstream_name},
              {"source", learnedFromName(from)}});
  }
  return held;
}

std::shared_ptr<const Route> IssuerIndex::restore(const LearnedIssuer& prior,
                                                  size_t upstream_index) {
  auto route = std::make_shared<Route>(*prior.route);
  route->upstream_index = upstream_index;
  route->distrusted_as = distrustName(route->issuer.get());  // this config's distrust list
  route->first_fqdn = 0;
  bool added = false;
  return insert(LearnedIssuer{route, prior.learned_at, prior.from}, &added);
}

bool IssuerIndex::isConfigured(X509* cert) const {
  for (const SharedX509& c : configured_) {
    if (X509_NAME_cmp(X509_get_subject_name(c.get()), X509_get_subject_name(cert)) == 0 &&
        ASN1_STRING_cmp(X509_get0_pubkey_bitstr(c.get()), X509_get0_pubkey_bitstr(cert)) == 0) {
      return true;
    }
  }
  return false;
}

bool IssuerIndex::isLearned(X509* cert) const {
  std::shared_lock lock(learned_mu_);
  for (const auto& known : learned_routes_) {
    if (X509_cmp(known.route->issuer.get(), cert) == 0) return true;
  }
  return false;
}

std::vector<SharedX509> IssuerIndex::allIssuers() const {
  std::vector<SharedX509> all = configured_;
  std::shared_lock lock(learned_mu_);
  for (const auto& r : learned_routes_) all.push_back(r.route->issuer);
  return all;
}

std::vector<LearnedIssuer> IssuerIndex::learned() const {
  std::shared_lock lock(learned_mu_);
  return learned_routes_;
}

size_t IssuerIndex::learnedCount() const {
  std::shared_lock lock(learned_mu_);
  return learned_routes_.size();
}

}  // namespace ocsp
