#include "upstream/issuer_index.h"

#include <openssl/evp.h>

namespace ocsp {

namespace {
std::string digest(const EVP_MD* md, const unsigned char* data, size_t len) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  if (EVP_Digest(data, len, out, &out_len, md, nullptr) != 1) return {};
  return std::string(reinterpret_cast<const char*>(out), out_len);
}
}  // namespace

IssuerIndex::IssuerIndex(const conf::Config& config) {
  static const int kHashNids[] = {NID_sha1, NID_sha256, NID_sha384, NID_sha512};
  for (size_t u = 0; u < config.upstreams.size(); ++u) {
    const auto& upstream = config.upstreams[u];
    for (const auto& issuer : upstream.issuers) {
      auto route = std::make_shared<Route>();
      route->upstream_index = u;
      route->upstream_name = upstream.name;
      route->issuer = issuer.cert;
      route->issuer_name = subjectLine(issuer.cert.get());
      // RFC 6960 §4.1.1: issuerNameHash = H(DER of the issuer's subject name),
      // issuerKeyHash = H(subjectPublicKey BIT STRING value, without tag/length/unused bits).
      std::string name_der = toDer(X509_get_subject_name(issuer.cert.get()), i2d_X509_NAME);
      const ASN1_BIT_STRING* key = X509_get0_pubkey_bitstr(issuer.cert.get());
      for (int nid : kHashNids) {
        const EVP_MD* md = EVP_get_digestbynid(nid);
        std::string name_hash = digest(md, reinterpret_cast<const unsigned char*>(name_der.data()),
                                       name_der.size());
        std::string key_hash = digest(md, ASN1_STRING_get0_data(key),
                                      static_cast<size_t>(ASN1_STRING_length(key)));
        // The config rejects one issuer under two upstreams, so candidates never clash.
        routes_[key_hash].push_back(Candidate{nid, std::move(name_hash), route});
      }
      ++issuer_count_;
    }
  }
}

std::shared_ptr<const Route> IssuerIndex::find(const CertIdInfo& id) const {
  auto it = routes_.find(id.issuer_key_hash);
  if (it == routes_.end()) return nullptr;
  for (const Candidate& c : it->second) {
    if (c.hash_nid == id.hash_nid && c.issuer_name_hash == id.issuer_name_hash) return c.route;
  }
  return nullptr;
}

}  // namespace ocsp
