#include "tools/egress_verdict.h"

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>

#include "core/json.h"
#include "core/ossl.h"
#include "pki/ca_issuers_document.h"

namespace ocsp::tools {

namespace {

// One DER tag-length header (X.690 §8.1): the tag byte, the header's size and the content's
// length. Only single-byte tags and definite lengths (DER has no other).
struct DerHeader {
  uint8_t tag = 0;
  size_t header = 0;
  size_t length = 0;
};

bool readHeader(std::string_view s, size_t pos, DerHeader* out) {
  if (pos + 2 > s.size()) return false;
  out->tag = static_cast<uint8_t>(s[pos]);
  const auto first = static_cast<uint8_t>(s[pos + 1]);
  if (first < 0x80) {
    out->header = 2;
    out->length = first;
    return true;
  }
  const size_t n = first & 0x7f;
  if (n == 0 || n > 4 || pos + 2 + n > s.size()) return false;  // indefinite, or too big
  size_t length = 0;
  for (size_t i = 0; i < n; ++i) length = (length << 8) | static_cast<uint8_t>(s[pos + 2 + i]);
  out->header = 2 + n;
  out->length = length;
  return true;
}

// The element at `pos` has tag `tag` and lies wholly within `s`; `pos` moves past it.
bool skipElement(std::string_view s, size_t& pos, uint8_t tag) {
  DerHeader h;
  if (!readHeader(s, pos, &h) || h.tag != tag || pos + h.header + h.length > s.size()) {
    return false;
  }
  pos += h.header + h.length;
  return true;
}

// RFC 5280 §5.1: CertificateList ::= SEQUENCE { tbsCertList SEQUENCE { version INTEGER
// OPTIONAL, signature AlgorithmIdentifier, issuer Name, thisUpdate Time, ... } ... }. The
// prefix of a CRL too large to read here is checked that far; a certificate fails it (its
// tbsCertificate has a SEQUENCE, validity, where a CRL has a Time).
bool derCrlPrefix(std::string_view s) {
  DerHeader outer, tbs, next;
  if (!readHeader(s, 0, &outer) || outer.tag != 0x30) return false;
  size_t pos = outer.header;
  if (!readHeader(s, pos, &tbs) || tbs.tag != 0x30) return false;
  pos += tbs.header;
  if (readHeader(s, pos, &next) && next.tag == 0x02 && !skipElement(s, pos, 0x02)) return false;
  if (!skipElement(s, pos, 0x30) || !skipElement(s, pos, 0x30)) return false;
  if (!readHeader(s, pos, &next)) return false;
  return next.tag == 0x17 || next.tag == 0x18;  // UTCTime or GeneralizedTime
}

bool wholeDerCrl(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  X509CrlPtr crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(s.size())));
  return crl && p == reinterpret_cast<const unsigned char*>(s.data()) + s.size();
}

bool wholePemCrl(std::string_view s) {
  BioPtr bio(BIO_new_mem_buf(s.data(), static_cast<int>(s.size())));
  if (!bio) return false;
  X509CrlPtr crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return crl != nullptr;
}

std::string_view withoutLeadingSpace(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  return s;
}

// "(text/html, 1234 bytes)": what came instead of the expected document.
std::string whatCame(const EgressFacts& f) {
  std::string type = f.content_type.empty() ? "no Content-Type" : f.content_type;
  const size_t semicolon = type.find(';');
  if (semicolon != std::string::npos) type.resize(semicolon);
  return "(" + type + ", " + std::to_string(f.body_bytes) + " bytes)";
}

std::string timeoutAfter(int64_t ms) { return "timeout after " + std::to_string(ms) + " ms"; }

EgressVerdict fail(std::string cause) { return {false, std::move(cause)}; }
EgressVerdict pass(std::string cause) { return {true, std::move(cause)}; }

EgressVerdict judgeTransport(const EgressFacts& f) {
  switch (f.transport) {
    case EgressTransport::Answered:
      break;
    case EgressTransport::DnsFailed:
      return fail("DNS: " + f.dns_error);
    case EgressTransport::DnsTimeout:
      return fail("DNS: " + timeoutAfter(f.timeout_ms));
    case EgressTransport::Refused:
      return fail("connect refused");
    case EgressTransport::ConnectFailed:
      return fail("connect failed: " + f.detail);
    case EgressTransport::ConnectTimeout:
      return fail(timeoutAfter(f.timeout_ms) + " (connecting)");
    case EgressTransport::AnswerTimeout:
      return fail(timeoutAfter(f.timeout_ms) + " (connected, no answer)");
    case EgressTransport::Closed:
      return fail("connection closed without an answer: " + f.detail);
    case EgressTransport::Tls:
      return fail("TLS: " + f.detail);
    case EgressTransport::Other:
      return fail(f.detail);
  }
  return {};
}

EgressVerdict judgeOcsp(const EgressFacts& f) {
  const std::string status = f.truncated ? "" : ocspResponseStatusOf(f.body);
  if (status.empty()) return fail("not an OCSP answer " + whatCame(f));
  if (status == "successful") return pass("OCSP answer: successful");
  // RFC 6960 §2.3: unauthorized is what a responder says about a CertID it does not serve.
  return pass("OCSP answer: " + status +
              " (the responder answered; the path works, whatever it says of this CertID)");
}

EgressVerdict judgeAia(const EgressFacts& f) {
  if (f.truncated) return fail("not a certificate " + whatCame(f) + ": too large");
  auto doc = checkCaIssuersDocument(f.body);
  if (!doc) return fail("not a certificate " + whatCame(f));
  const char* form = doc->form == CaIssuersForm::Certificate ? "DER"
                     : doc->form == CaIssuersForm::Pkcs7     ? "PKCS#7"
                                                             : "PEM";
  return pass("caIssuers: " + std::to_string(doc->certificates) + " certificate" +
              (doc->certificates == 1 ? "" : "s") + " (" + form + ")");
}

EgressVerdict judgeHttp(const EgressFacts& f) {
  if (!f.path_known) {
    return pass("HTTP " + std::to_string(f.http_status) +
                " for / (the config names no URL on this host; content not checked)");
  }
  if (f.http_status != 200) return fail("HTTP " + std::to_string(f.http_status));
  switch (f.kind) {
    case EgressKind::Ocsp:
      return judgeOcsp(f);
    case EgressKind::Crl:
      if (!looksLikeCrl(f.body, f.truncated)) return fail("not a CRL " + whatCame(f));
      return pass(std::string("CRL (") +
                  (withoutLeadingSpace(f.body).starts_with("-----") ? "PEM" : "DER") + ", " +
                  std::to_string(f.body_bytes) + " bytes)");
    case EgressKind::Aia:
      return judgeAia(f);
    case EgressKind::Redis:
      break;
  }
  return fail("internal: not an HTTP host");
}

std::string pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string joined(const std::vector<std::string>& parts, const char* separator) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : separator) + p;
  return out;
}

std::string addressCell(const EgressRow& r) {
  if (r.addresses.empty()) return "-";
  std::string cell = joined(r.addresses, ",");
  if (r.resolved_by == "resolve") cell += " (resolve:)";
  return cell;
}

}  // namespace

std::string ocspResponseStatusOf(std::string_view body) {
  const auto* p = reinterpret_cast<const unsigned char*>(body.data());
  OcspResponsePtr response(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(body.size())));
  ERR_clear_error();
  if (!response || p != reinterpret_cast<const unsigned char*>(body.data()) + body.size()) {
    return "";
  }
  return OCSP_response_status_str(OCSP_response_status(response.get()));
}

bool looksLikeCrl(std::string_view body, bool truncated) {
  const std::string_view text = withoutLeadingSpace(body);
  if (text.starts_with("-----BEGIN X509 CRL-----")) return truncated || wholePemCrl(body);
  if (truncated) return derCrlPrefix(body);
  const bool ok = wholeDerCrl(body);
  ERR_clear_error();
  return ok;
}

EgressVerdict judgeEgress(const EgressFacts& facts) {
  if (facts.transport != EgressTransport::Answered) return judgeTransport(facts);
  if (facts.kind == EgressKind::Redis) {
    if (facts.redis_reply == "PONG") return pass("Redis: PONG");
    return fail("Redis: " + facts.redis_reply);
  }
  return judgeHttp(facts);
}

std::string renderEgressTable(const std::vector<EgressRow>& rows) {
  const std::vector<std::string> head = {"HOST",    "PORT", "PURPOSE", "ADDRESSES",
                                         "VERDICT", "TIME", "CAUSE"};
  std::vector<std::vector<std::string>> cells;
  for (const auto& r : rows) {
    cells.push_back({r.host, std::to_string(r.port), r.purpose, addressCell(r),
                     r.verdict.ok ? "ok" : "FAIL", std::to_string(r.elapsed_ms) + " ms",
                     r.verdict.cause});
  }
  std::vector<size_t> width(head.size());
  for (size_t c = 0; c < head.size(); ++c) {
    width[c] = head[c].size();
    for (const auto& row : cells) width[c] = std::max(width[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& row) {
    std::string out;
    for (size_t c = 0; c + 1 < row.size(); ++c) out += pad(row[c], width[c]) + "  ";
    return out + row.back() + "\n";
  };
  std::string out = line(head);
  size_t failed = 0;
  for (size_t i = 0; i < cells.size(); ++i) {
    out += line(cells[i]);
    failed += !rows[i].verdict.ok;
  }
  if (rows.empty()) return out + "No host to test: the config names none.\n";
  if (failed == 0) return out + "All " + std::to_string(rows.size()) + " hosts reachable.\n";
  return out + std::to_string(failed) + " of " + std::to_string(rows.size()) + " hosts FAILED.\n";
}

std::string renderEgressJson(const std::vector<EgressRow>& rows, int64_t timeout_ms) {
  size_t failed = 0;
  for (const auto& r : rows) failed += !r.verdict.ok;
  std::string out = "{\"ok\": " + std::string(failed == 0 ? "true" : "false") +
                    ", \"failed\": " + std::to_string(failed) +
                    ", \"timeout_ms\": " + std::to_string(timeout_ms) + ", \"hosts\": [";
  for (size_t i = 0; i < rows.size(); ++i) {
    const EgressRow& r = rows[i];
    std::vector<std::string> addresses;
    for (const auto& a : r.addresses) addresses.push_back(jsonString(a));
    out += i ? ",\n  " : "\n  ";
    out += "{\"host\": " + jsonString(r.host) + ", \"port\": " + std::to_string(r.port) +
           ", \"purpose\": " + jsonString(r.purpose) + ", \"url\": " + jsonString(r.url) +
           ", \"addresses\": [" + joined(addresses, ", ") +
           "], \"resolved_by\": " + jsonString(r.resolved_by) +
           ", \"verdict\": " + jsonString(r.verdict.ok ? "ok" : "FAIL") +
           ", \"cause\": " + jsonString(r.verdict.cause) +
           ", \"elapsed_ms\": " + std::to_string(r.elapsed_ms) + "}";
  }
  return out + (rows.empty() ? "]}\n" : "\n]}\n");
}

}  // namespace ocsp::tools
