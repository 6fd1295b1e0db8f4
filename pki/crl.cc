#include "pki/crl.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>
#include <utility>

#include "core/log.h"
#include "pki/crl_extensions.h"

namespace ocsp {
namespace {

using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, FreeWith<X509_STORE_CTX_free>>;
using AuthorityKeyIdPtr = std::unique_ptr<AUTHORITY_KEYID, FreeWith<AUTHORITY_KEYID_free>>;

Error fail(std::string code, std::string detail) {
  return makeError(ErrorCategory::ValidationFailed, std::move(code), std::move(detail));
}

std::string_view stripLeadingZeros(std::string_view bytes) {
  size_t zeros = 0;
  while (zeros < bytes.size() && bytes[zeros] == '\0') ++zeros;
  return bytes.substr(zeros);
}

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// ---------------------------------------------------------------------------------------------
// Decoding

// RFC 5280 §5.1: one CertificateList. Trailing bytes would be served to clients as part of
// the CRL, so they make the download unusable rather than being ignored.
Result<X509CrlPtr> parseDer(std::string_view der, const char* what) {
  if (der.empty()) return fail("not_a_crl", std::string("empty ") + what);
  if (der.size() > static_cast<size_t>(LONG_MAX)) return fail("not_a_crl", "CRL too large");
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* const end = p + der.size();
  X509CrlPtr crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  if (!crl) {
    return fail("not_a_crl", withOpensslErrors(std::string("not a ") + what + " CertificateList (" +
                                               std::to_string(der.size()) + " bytes)"));
  }
  if (p != end) {
    return fail("not_a_crl", std::to_string(end - p) + " trailing bytes after the " +
                                 std::to_string(der.size() - static_cast<size_t>(end - p)) +
                                 "-byte " + what + " CertificateList");
  }
  return crl;
}

// RFC 7468 §5: exactly one "X509 CRL" block, optionally surrounded by whitespace. Its
// contents go through the same DER checks, so PEM and DER of one CRL read the same.
Result<X509CrlPtr> parsePem(std::string_view pem) {
  if (pem.size() > static_cast<size_t>(INT_MAX)) return fail("not_a_crl", "CRL too large");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return makeError(ErrorCategory::Internal, "internal", withOpensslErrors("no memory"));
  char* name_raw = nullptr;
  char* header_raw = nullptr;
  unsigned char* data_raw = nullptr;
  long len = 0;
  int ok = PEM_read_bio(bio.get(), &name_raw, &header_raw, &data_raw, &len);
  OpensslBuffer<char> name(name_raw);
  OpensslBuffer<char> header(header_raw);
  OpensslBuffer<unsigned char> data(data_raw);
  if (ok != 1) return fail("not_a_crl", withOpensslErrors("unreadable PEM"));
  if (std::strcmp(name.get(), PEM_STRING_X509_CRL) != 0) {
    return fail("not_a_crl", std::string("PEM block is \"") + name.get() + "\", not \"" +
                                 PEM_STRING_X509_CRL + "\"");
  }
  char rest[256];
  int got;
  while ((got = BIO_read(bio.get(), rest, sizeof(rest))) > 0) {
    if (!std::all_of(rest, rest + got, isSpace)) {
      return fail("not_a_crl", "bytes other than whitespace after the PEM CRL block");
    }
  }
  return parseDer({reinterpret_cast<const char*>(data.get()), static_cast<size_t>(len)}, "PEM");
}

Result<X509CrlPtr> parseCrl(std::string_view bytes) {
  std::string_view head = bytes.substr(std::min(bytes.size(), bytes.find_first_not_of(" \t\r\n")));
  if (head.starts_with("-----BEGIN ")) return parsePem(bytes);
  return parseDer(bytes, "DER");
}

// ---------------------------------------------------------------------------------------------
// Issuer and signature

std::optional<std::string> authorityKeyId(X509_CRL* crl) {
  AuthorityKeyIdPtr akid(static_cast<AUTHORITY_KEYID*>(
      X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, nullptr, nullptr)));
  if (!akid || akid->keyid == nullptr) return std::nullopt;
  return std::string(asn1Bytes(akid->keyid));
}

// Candidates seen while looking for the CRL's signer, and the one that verified.
struct IssuerSearch {
  bool verified = false;
  std::string signer;      // subject of the certificate that verified the CRL
  std::string signer_key_sha1;  // SHA-1 of its public key's BIT STRING contents
  int is_issuer = 0;       // subject and key id match
  int not_crl_signer = 0;  // ... but keyUsage lacks cRLSign
  std::string refused;     // subjects whose key did not verify, for the log
};

// RFC 5280 §5.2.1 / §4.2.1.3. Returns true once a certificate verified the CRL.
bool tryIssuer(X509_CRL* crl, X509* cert, const std::optional<std::string>& aki,
               IssuerSearch* search) {
  if (X509_NAME_cmp(X509_get_subject_name(cert), X509_CRL_get_issuer(crl)) != 0) return false;
  if (aki) {
    const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(cert);
    if (ski != nullptr && asn1Bytes(ski) != *aki) return false;
  }
  ++search->is_issuer;
  // UINT32_MAX when there is no keyUsage extension; 0 when the extensions are unreadable.
  if ((X509_get_key_usage(cert) & KU_CRL_SIGN) == 0) {
    ++search->not_crl_signer;
    return false;
  }
  EVP_PKEY* key = X509_get0_pubkey(cert);
  if (key != nullptr && X509_CRL_verify(crl, key) == 1) {
    ERR_clear_error();  // what earlier candidates failed with no longer matters
    search->verified = true;
    search->signer = subjectLine(cert);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (X509_pubkey_digest(cert, EVP_sha1(), digest, &len) == 1) {
      search->signer_key_sha1.assign(reinterpret_cast<const char*>(digest), len);
    }
    return true;
  }
  if (!search->refused.empty()) search->refused += "; ";
  search->refused += subjectLine(cert);
  return false;
}

Result<IssuerSearch> findIssuer(X509_CRL* crl, const CrlCheckInput& in) {
  IssuerSearch search;
  auto aki = authorityKeyId(crl);
  if (in.candidates != nullptr) {
    for (const auto& cert : *in.candidates) {
      if (cert && tryIssuer(crl, cert.get(), aki, &search)) return search;
    }
  }
  if (in.trust_store != nullptr) {
    X509StoreCtxPtr ctx(X509_STORE_CTX_new());
    if (!ctx || X509_STORE_CTX_init(ctx.get(), in.trust_store, nullptr, nullptr) != 1) {
      return makeError(ErrorCategory::Internal, "internal",
                       withOpensslErrors("cannot search the trust store"));
    }
    // A reference to each certificate: they stay valid even if the store changes meanwhile.
    X509StackPtr roots(X509_STORE_CTX_get1_certs(ctx.get(), X509_CRL_get_issuer(crl)));
    for (int i = 0; i < sk_X509_num(roots.get()); ++i) {
      if (tryIssuer(crl, sk_X509_value(roots.get(), i), aki, &search)) return search;
    }
  }
  return search;
}

// ---------------------------------------------------------------------------------------------
// Entries

// RFC 5280 §5.3.1: reasonCode is an ENUMERATED, DER `0a 01 nn`; 7 is unused.
int readReason(X509_EXTENSION* ext) {
  std::string_view v = asn1Bytes(X509_EXTENSION_get_data(ext));
  if (v.size() != 3 || v[0] != 0x0a || v[1] != 0x01) return -1;
  int code = static_cast<unsigned char>(v[2]);
  return code <= 10 && code != 7 ? code : -1;
}

// RFC 5280 §5.3.3: does a certificateIssuer extension name this CRL's issuer?
Result<bool> namesCrlIssuer(X509_EXTENSION* ext, const X509_NAME* crl_issuer,
                            const ASN1_INTEGER* serial) {
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
  if (!names) {
    return fail("not_a_crl", withOpensslErrors("unreadable certificateIssuer on the entry for " +
                                               toHex(asn1Bytes(serial))));
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type == GEN_DIRNAME && X509_NAME_cmp(gn->d.directoryName, crl_issuer) == 0) {
      return true;
    }
  }
  return false;
}

// Reads the revokedCertificates into the table. Hot path for a million entries: no heap
// allocation unless an entry carries a certificateIssuer, and revocation dates are converted
// once per distinct encoding (CAs write them in runs).
Result<RevokedSerials> readEntries(X509_CRL* crl) {
  const X509_NAME* crl_issuer = X509_CRL_get_issuer(crl);
  STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crl);
  const int count = std::max(0, sk_X509_REVOKED_num(entries));
  RevokedSerials::Builder builder;
  builder.reserve(static_cast<size_t>(count));
  bool for_other_issuer = false;  // RFC 5280 §5.3.3: carries over to the following entries
  const ASN1_TIME* last_date = nullptr;
  int64_t last_epoch = 0;
  for (int i = 0; i < count; ++i) {
    X509_REVOKED* entry = sk_X509_REVOKED_value(entries, i);
    const ASN1_INTEGER* serial = X509_REVOKED_get0_serialNumber(entry);
    int reason = -1;
    const STACK_OF(X509_EXTENSION)* exts = X509_REVOKED_get0_extensions(entry);
    for (int e = 0; e < sk_X509_EXTENSION_num(exts); ++e) {
      X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, e);
      const ASN1_OBJECT* obj = X509_EXTENSION_get_object(ext);
      switch (OBJ_obj2nid(obj)) {
        case NID_crl_reason:
          reason = readReason(ext);
          break;
        case NID_certificate_issuer: {
          auto ours = namesCrlIssuer(ext, crl_issuer, serial);
          if (!ours.ok()) return ours.error();
          for_other_issuer = !*ours;
          break;
        }
        case NID_invalidity_date:
          break;
        default:
          if (X509_EXTENSION_get_critical(ext) != 0) {
            return fail("unsupported", "critical entry extension " + extensionName(obj) + " on serial " +
                                           toHex(asn1Bytes(serial)) + " is not supported");
          }
      }
    }
    if (for_other_issuer || ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER) continue;
    const ASN1_TIME* date = X509_REVOKED_get0_revocationDate(entry);
    if (last_date == nullptr || ASN1_STRING_type(date) != ASN1_STRING_type(last_date) ||
        asn1Bytes(date) != asn1Bytes(last_date)) {
      auto epoch = asn1ToEpoch(date);
      if (!epoch) {
        return fail("not_a_crl", withOpensslErrors("unreadable revocationDate on serial " +
                                                   toHex(asn1Bytes(serial))));
      }
      last_date = date;
      last_epoch = *epoch;
    }
    builder.add(asn1Bytes(serial), last_epoch, reason);
  }
  return std::move(builder).finish();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// RevokedSerials

void RevokedSerials::Builder::reserve(size_t entries) {
  offsets_.reserve(entries + 1);
  times_.reserve(entries);
  reasons_.reserve(entries);
}

void RevokedSerials::Builder::add(std::string_view magnitude, int64_t time, int reason) {
  if (offsets_.empty()) offsets_.push_back(0);
  bytes_.append(stripLeadingZeros(magnitude));
  offsets_.push_back(bytes_.size());
  times_.push_back(time);
  reasons_.push_back(static_cast<int8_t>(reason >= 0 && reason <= INT8_MAX ? reason : -1));
}

RevokedSerials RevokedSerials::Builder::finish() && {
  RevokedSerials out;
  const size_t n = times_.size();
  if (n == 0) return out;
  auto serial = [this](size_t i) {
    return std::string_view(bytes_.data() + offsets_[i], offsets_[i + 1] - offsets_[i]);
  };
  size_t width = 0;
  for (size_t i = 0; i < n; ++i) width = std::max(width, serial(i).size());

  // Sorting a million random serials by memcmp through an index costs ~1 s in cache misses;
  // sorting (first 8 bytes of the slot, index) pairs settles almost every comparison on the
  // integer and takes a tenth of that.
  struct Key {
    uint64_t prefix;  // first 8 bytes of the zero-padded slot, big-endian
    size_t index;     // entry in CRL order
  };
  std::vector<Key> order(n);
  for (size_t i = 0; i < n; ++i) {
    std::string_view s = serial(i);
    const size_t pad = width - s.size();
    uint64_t prefix = 0;
    for (size_t b = 0; b < 8; ++b) {
      unsigned char byte =
          b >= pad && b - pad < s.size() ? static_cast<unsigned char>(s[b - pad]) : 0;
      prefix = (prefix << 8) | byte;
    }
    order[i] = Key{prefix, i};
  }
  // Without leading zeros a longer magnitude is a larger number. Equal serials stay in CRL
  // order, so the first one is kept.
  auto less = [&](const Key& a, const Key& b) {
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    std::string_view sa = serial(a.index);
    std::string_view sb = serial(b.index);
    if (sa.size() != sb.size()) return sa.size() < sb.size();
    int c = std::memcmp(sa.data(), sb.data(), sa.size());
    return c != 0 ? c < 0 : a.index < b.index;
  };
  // CAs often write their CRLs in serial order: then there is nothing to sort.
  if (!std::is_sorted(order.begin(), order.end(), less)) {
    std::sort(order.begin(), order.end(), less);
  }

  out.width_ = width;
  out.slots_.assign(n * width, '\0');
  out.times_.reserve(n);
  out.reasons_.reserve(n);
  std::string_view previous;
  size_t kept = 0;
  for (size_t k = 0; k < n; ++k) {
    const size_t i = order[k].index;
    std::string_view s = serial(i);
    if (k > 0 && s == previous) continue;
    previous = s;
    std::memcpy(out.slots_.data() + kept * width + (width - s.size()), s.data(), s.size());
    out.times_.push_back(times_[i]);
    out.reasons_.push_back(reasons_[i]);
    ++kept;
  }
  out.slots_.resize(kept * width);
  out.slots_.shrink_to_fit();
  out.times_.shrink_to_fit();
  out.reasons_.shrink_to_fit();
  return out;
}

std::optional<CrlRevocation> RevokedSerials::find(std::string_view serial) const {
  // Two's complement: a set top bit is a negative number, which no CRL entry here holds.
  if (serial.empty() || (static_cast<unsigned char>(serial[0]) & 0x80) != 0) return std::nullopt;
  std::string_view key = stripLeadingZeros(serial);
  if (key.size() > width_) return std::nullopt;
  const size_t pad = width_ - key.size();
  // <0, 0, >0 as slot i compares with the key (the key is implicitly left-padded to width_).
  auto compare = [&](size_t i) {
    const char* slot = slots_.data() + i * width_;
    for (size_t b = 0; b < pad; ++b) {
      if (slot[b] != '\0') return 1;
    }
    return std::memcmp(slot + pad, key.data(), key.size());
  };
  size_t lo = 0;
  size_t hi = size();
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = compare(mid);
    if (c == 0) return CrlRevocation{times_[mid], reasons_[mid]};
    if (c < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return std::nullopt;
}

size_t RevokedSerials::footprint() const {
  return sizeof(*this) + slots_.capacity() + times_.capacity() * sizeof(int64_t) +
         reasons_.capacity() * sizeof(int8_t);
}

// ---------------------------------------------------------------------------------------------

Result<ParsedCrl> parseAndValidateCrl(const CrlCheckInput& in) {
  ErrorQueueGuard clear_errors;
  auto parsed = parseCrl(in.bytes);
  if (!parsed.ok()) return parsed.error();
  X509_CRL* crl = parsed->get();

  ParsedCrl out;
  out.issuer = nameLine(X509_CRL_get_issuer(crl));
  out.issuer_der = toDer(X509_CRL_get_issuer(crl), i2d_X509_NAME);

  auto issuer = findIssuer(crl, in);
  if (!issuer.ok()) return issuer.error();
  if (issuer->verified) {
    out.signature_checked = true;
    out.signer = std::move(issuer->signer);
    out.signer_key_sha1 = std::move(issuer->signer_key_sha1);
  } else if (issuer->is_issuer > 0 && issuer->is_issuer == issuer->not_crl_signer) {
    return fail("issuer_not_crl_signer", "every certificate for CRL issuer " + out.issuer + " (" +
                                             std::to_string(issuer->is_issuer) +
                                             ") has keyUsage without cRLSign");
  } else if (issuer->is_issuer > 0) {
    return fail("bad_signature", withOpensslErrors("CRL of " + out.issuer +
                                                   " does not verify with " + issuer->refused));
  }
  // else: no certificate is the issuer; the caller's unknown-issuer policy decides.

  Status extensions = readCrlExtensions(crl, &out);
  if (!extensions.ok()) return extensions.error();

  // RFC 5280 §5.1.2.4 / §5.1.2.5.
  auto this_update = asn1ToEpoch(X509_CRL_get0_lastUpdate(crl));
  const ASN1_TIME* next_asn1 = X509_CRL_get0_nextUpdate(crl);
  auto next_update = asn1ToEpoch(next_asn1);
  if (!this_update || (next_asn1 != nullptr && !next_update)) {
    return fail("not_a_crl", withOpensslErrors("CRL of " + out.issuer +
                                               " has an unreadable thisUpdate or nextUpdate"));
  }
  if (*this_update > in.now + in.clock_skew_s) {
    return fail("this_update_in_future", "CRL of " + out.issuer + ": thisUpdate " +
                                             rfc3339(*this_update) + " is after now " +
                                             rfc3339(in.now) + " + " +
                                             std::to_string(in.clock_skew_s) + "s skew");
  }
  if (next_update && in.now >= *next_update) {
    return makeError(ErrorCategory::ValidationFailed, Reason::Expired,
                     "CRL of " + out.issuer + ": nextUpdate " + rfc3339(*next_update) +
                         " is not after now " + rfc3339(in.now));
  }
  out.this_update = *this_update;
  out.next_update = next_update.value_or(0);

  auto revoked = readEntries(crl);
  if (!revoked.ok()) return revoked.error();
  out.revoked = std::move(*revoked);
  return out;
}

}  // namespace ocsp
