#include "core/cert_id.h"

#include <cstring>
#include <string_view>

#include <openssl/err.h>

namespace ocsp {

namespace {
// Length-prefixed field so that no two different CertIDs serialise to the same bytes.
void appendField(std::string& out, std::string_view v) {
  uint32_t n = static_cast<uint32_t>(v.size());
  out.append(reinterpret_cast<const char*>(&n), sizeof(n));
  out.append(v);
}

// Serial numbers compare as integers: drop redundant leading 0x00 sign bytes so that a
// non-minimal encoding maps to the same key as the minimal one.
std::string_view normalisedSerial(std::string_view s) {
  while (s.size() > 1 && static_cast<unsigned char>(s[0]) == 0 &&
         (static_cast<unsigned char>(s[1]) & 0x80) == 0) {
    s.remove_prefix(1);
  }
  return s;
}
}  // namespace

bool certIdInfoFrom(const OCSP_CERTID* id, CertIdInfo* out) {
  ASN1_OCTET_STRING* name_hash = nullptr;
  ASN1_OBJECT* md = nullptr;
  ASN1_OCTET_STRING* key_hash = nullptr;
  ASN1_INTEGER* serial = nullptr;
  // OCSP_id_get0_info and i2d_OCSP_CERTID only read, but OpenSSL 3.0 declares them non-const.
  if (id == nullptr ||
      OCSP_id_get0_info(&name_hash, &md, &key_hash, &serial, const_cast<OCSP_CERTID*>(id)) != 1 ||
      name_hash == nullptr || md == nullptr || key_hash == nullptr || serial == nullptr) {
    return false;
  }
  out->hash_nid = OBJ_obj2nid(md);
  auto bytes = [](const ASN1_STRING* s) {
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<size_t>(ASN1_STRING_length(s)));
  };
  out->issuer_name_hash = bytes(name_hash);
  out->issuer_key_hash = bytes(key_hash);
  // INTEGER contents as encoded (two's complement, big-endian).
  std::string serial_der = toDer(serial, i2d_ASN1_INTEGER);
  const auto* p = reinterpret_cast<const unsigned char*>(serial_der.data());
  long len = 0;
  int tag = 0, cls = 0;
  if (serial_der.empty() ||
      ASN1_get_object(&p, &len, &tag, &cls, static_cast<long>(serial_der.size())) & 0x80) {
    return false;
  }
  out->serial.assign(reinterpret_cast<const char*>(p), static_cast<size_t>(len));
  out->der = toDer(const_cast<OCSP_CERTID*>(id), i2d_OCSP_CERTID);
  return !out->der.empty();  // hash_nid may be NID_undef: callers decide
}

bool sameCertId(const CertIdInfo& a, const CertIdInfo& b) {
  return a.hash_nid == b.hash_nid && a.issuer_name_hash == b.issuer_name_hash &&
         a.issuer_key_hash == b.issuer_key_hash &&
         normalisedSerial(a.serial) == normalisedSerial(b.serial);
}

std::string encodeOcspRequest(const std::vector<CertIdInfo>& ids) {
  OcspRequestPtr req(OCSP_REQUEST_new());
  for (const auto& id : ids) {
    const auto* p = reinterpret_cast<const unsigned char*>(id.der.data());
    OCSP_CERTID* cid = d2i_OCSP_CERTID(nullptr, &p, static_cast<long>(id.der.size()));
    // add0 takes ownership of cid on success.
    if (cid == nullptr || OCSP_request_add0_id(req.get(), cid) == nullptr) {
      OCSP_CERTID_free(cid);
      ERR_clear_error();
      return {};
    }
  }
  return toDer(req.get(), i2d_OCSP_REQUEST);
}

CacheKey cacheKeyFor(const std::vector<CertIdInfo>& ids) {
  std::string buf = "ocsp:v1";
  for (const auto& id : ids) {
    const char* oid = OBJ_nid2sn(id.hash_nid);
    appendField(buf, oid ? oid : "?");
    appendField(buf, id.issuer_name_hash);
    appendField(buf, id.issuer_key_hash);
    appendField(buf, normalisedSerial(id.serial));
  }
  std::string digest = sha256(buf);
  CacheKey key;
  std::memcpy(key.data(), digest.data(), key.size());
  return key;
}

std::string cacheKeyString(const CacheKey& key) {
  std::string out;
  appendCacheKeyString(out, key);
  return out;
}

void appendCacheKeyString(std::string& out, const CacheKey& key) {
  out.append("ocsp:v1:");
  appendHex(out, std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
}

}  // namespace ocsp
