#include "pki/cert_conformance.h"

#include <openssl/asn1.h>
#include <openssl/objects.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "core/ossl.h"

namespace ocsp {

namespace {

using PoliciesPtr = std::unique_ptr<CERTIFICATEPOLICIES, FreeWith<CERTIFICATEPOLICIES_free>>;

// RFC 5280 Appendix A.1 upper bounds (ub-*) of the attributes CAs actually fill in.
size_t upperBound(int nid) {
  switch (nid) {
    case NID_commonName:
    case NID_organizationName:
    case NID_organizationalUnitName:
    case NID_serialNumber:
      return 64;
    case NID_localityName:
    case NID_stateOrProvinceName:
      return 128;
    default:
      return 0;  // no bound checked
  }
}

// Characters (not bytes) of an attribute value.
size_t characters(const ASN1_STRING* value) {
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, value);
  if (len < 0) {
    ERR_clear_error();
    return 0;
  }
  OpensslBuffer<unsigned char> owned(utf8);
  size_t count = 0;
  for (int i = 0; i < len; ++i) {
    if ((utf8[i] & 0xC0) != 0x80) ++count;
  }
  return count;
}

// X.680 §41: the characters each restricted string type may hold.
bool charsetOk(const ASN1_STRING* value) {
  std::string_view bytes = asn1Bytes(value);
  auto all = [&](auto ok) { return std::all_of(bytes.begin(), bytes.end(), ok); };
  switch (ASN1_STRING_type(value)) {
    case V_ASN1_VISIBLESTRING:
      return all([](unsigned char c) { return c >= 0x20 && c <= 0x7E; });
    case V_ASN1_IA5STRING:
      return all([](unsigned char c) { return c < 0x80; });
    case V_ASN1_PRINTABLESTRING:
      return all([](unsigned char c) {
        return std::isalnum(c) || std::strchr(" '()+,-./:=?", c) != nullptr;
      });
    default:
      return true;
  }
}

std::string charsetNote(const ASN1_STRING* value, const std::string& where) {
  return where + " is a " + ASN1_tag2str(ASN1_STRING_type(value)) +
         " holding characters that type does not allow (X.680 §41)";
}

// RFC 5280 §4.2.1.4: explicitText of a user notice (the text a relying party shows).
void checkPolicies(X509* cert, std::vector<std::string>* notes) {
  PoliciesPtr policies(static_cast<CERTIFICATEPOLICIES*>(
      X509_get_ext_d2i(cert, NID_certificate_policies, nullptr, nullptr)));
  for (int i = 0; policies && i < sk_POLICYINFO_num(policies.get()); ++i) {
    const POLICYINFO* info = sk_POLICYINFO_value(policies.get(), i);
    for (int j = 0; j < sk_POLICYQUALINFO_num(info->qualifiers); ++j) {
      const POLICYQUALINFO* q = sk_POLICYQUALINFO_value(info->qualifiers, j);
      if (OBJ_obj2nid(q->pqualid) != NID_id_qt_unotice || q->d.usernotice == nullptr) continue;
      const ASN1_STRING* text = q->d.usernotice->exptext;
      if (text != nullptr && !charsetOk(text)) {
        notes->push_back(charsetNote(text, "certificatePolicies userNotice explicitText"));
      }
    }
  }
}

// X.690 §11.5 (DER): a component equal to its DEFAULT is left out. OpenSSL keeps an
// extension's critical flag as read (absent, FALSE or TRUE), so its encoding shows whether
// the certificate wrote out the DEFAULT FALSE: SEQUENCE { OID, BOOLEAN 00, OCTET STRING }.
bool criticalFalseWritten(X509_EXTENSION* ext) {
  std::string der = toDer(ext, i2d_X509_EXTENSION);
  auto bytes = reinterpret_cast<const unsigned char*>(der.data());
  size_t at = 1;  // past the SEQUENCE tag
  if (der.size() < 2) return false;
  at += (bytes[at] & 0x80) ? 1 + (bytes[at] & 0x7F) : 1;  // past the SEQUENCE length
  if (at + 2 > der.size() || bytes[at] != V_ASN1_OBJECT) return false;
  at += 2 + bytes[at + 1];  // OIDs of extensions are short
  return at + 3 <= der.size() && bytes[at] == V_ASN1_BOOLEAN && bytes[at + 1] == 1 &&
         bytes[at + 2] == 0;
}

void checkName(const X509_NAME* name, const char* which, std::vector<std::string>* notes) {
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    if (!charsetOk(X509_NAME_ENTRY_get_data(e))) {
      notes->push_back(charsetNote(X509_NAME_ENTRY_get_data(e),
                                   std::string(which) + " " + OBJ_nid2sn(nid)));
    }
    size_t bound = upperBound(nid);
    size_t n = characters(X509_NAME_ENTRY_get_data(e));
    if (bound != 0 && n > bound) {
      notes->push_back(std::string(which) + " " + OBJ_nid2sn(nid) + " has " + std::to_string(n) +
                       " characters, more than RFC 5280 Appendix A allows (" +
                       std::to_string(bound) + ")");
    }
  }
}

}  // namespace

std::vector<std::string> conformanceNotes(X509* cert) {
  ErrorQueueGuard guard;
  std::vector<std::string> notes;
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  if (ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER) {
    notes.push_back("serial number is negative (RFC 5280 §4.1.2.2: a positive integer)");
  } else if (ASN1_INTEGER_get(serial) == 0 && ASN1_STRING_length(serial) <= 1) {
    notes.push_back("serial number is zero (RFC 5280 §4.1.2.2: a positive integer)");
  }
  checkName(X509_get_subject_name(cert), "subject", &notes);
  checkName(X509_get_issuer_name(cert), "issuer", &notes);
  checkPolicies(cert, &notes);
  for (int i = 0; i < X509_get_ext_count(cert); ++i) {
    X509_EXTENSION* ext = X509_get_ext(cert, i);
    if (criticalFalseWritten(ext)) {
      notes.push_back(std::string("extension ") +
                      OBJ_nid2sn(OBJ_obj2nid(X509_EXTENSION_get_object(ext))) +
                      " writes critical FALSE, its DEFAULT (not DER, X.690 §11.5)");
    }
  }

  return notes;
}

}  // namespace ocsp
