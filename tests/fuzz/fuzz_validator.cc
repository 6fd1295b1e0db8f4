// Fuzz target: an upstream OCSP response (pki/validator.h validateResponse). The input is
// the response body; it is validated against fixed issuers, as the proxy would after asking:
//   - with a fixed request and its nonce (the aws-lc request for its CA, the fuzz PKI's
//     request for its issuing CA), so that the CertID, nonce and time rules run on answers to
//     a question really asked;
//   - with the CertIDs the response itself answers, against each known issuer (real CAs and
//     the fuzz PKI), so that a mutated response that still verifies reaches every later check;
//   - without an issuer (forward.unknown_issuer: pass), where everything but the signature
//     and the delegation rules runs on any parsable response.
// `now` is the response's producedAt (plus a minute) when it can be read, so old real
// responses and freshly generated ones are both inside their validity; else a fixed date.
// Checked: the documented error categories, the contract on a result (times against now,
// status and revocation agree), an empty OpenSSL error queue afterwards, and that whatever
// passes with an issuer also passes without one with the same fields.
#include <openssl/err.h>
#include <openssl/ocsp.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/cert_id.h"
#include "core/ocsp_entry.h"
#include "core/ossl.h"
#include "tests/fuzz/fuzz_util.h"
#include "pki/validator.h"

namespace ocsp {
namespace {

constexpr int64_t kFallbackNow = 1795392000;  // 2026-11-23T00:00:00Z, when the real data was taken
constexpr int64_t kSkewS = 300;

struct Fixture {
  X509Ptr issuer;
  std::vector<CertIdInfo> asked;     // empty: no fixed request for this issuer
  std::optional<std::string> nonce;  // the request's nonce, as validateResponse expects it
};

std::vector<CertIdInfo> certIdsOf(OCSP_REQUEST* req) {
  std::vector<CertIdInfo> ids;
  for (int i = 0; i < OCSP_request_onereq_count(req); ++i) {
    CertIdInfo id;
    if (!certIdInfoFrom(OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, i)), &id)) {
      fuzz::broken(__FILE__, __LINE__, "fixed request has an unreadable CertID");
    }
    ids.push_back(std::move(id));
  }
  return ids;
}

Fixture withRequest(const std::string& issuer_path, const std::string& request_path) {
  Fixture f{fuzz::loadCert(issuer_path), {}, std::nullopt};
  const std::string der = fuzz::readFile(request_path);
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  OcspRequestPtr req(d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(der.size())));
  if (!req) fuzz::broken(__FILE__, __LINE__, "fixed request is not DER");
  f.asked = certIdsOf(req.get());
  int idx = OCSP_REQUEST_get_ext_by_NID(req.get(), NID_id_pkix_OCSP_Nonce, -1);
  if (idx >= 0) {
    f.nonce = std::string(asn1Bytes(X509_EXTENSION_get_data(OCSP_REQUEST_get_ext(req.get(), idx))));
  }
  return f;
}

const std::vector<Fixture>& fixtures() {
  static const std::vector<Fixture> all = [] {
    std::vector<Fixture> f;
    f.push_back(withRequest(fuzz::realData("aws-lc-ocsp/ca_cert.pem"),
                            fuzz::realData("aws-lc-ocsp/ocsp_request.der")));
    f.push_back(withRequest(fuzz::pkiFile("ica.pem"), fuzz::pkiFile("request.der")));
    for (const char* issuer :
         {"openssl-ocsp-tests/D1_Issuer_ICA.pem", "openssl-ocsp-tests/ND1_Issuer_ICA.pem",
          "pyca-cryptography-vectors/certs/letsencryptx3.pem", "golang-x-crypto-ocsp/GTSRoot.pem",
          "openjdk-certification-tests/QuoVadis_Global_SSL_ICA_G3.pem"}) {
      f.push_back(Fixture{fuzz::loadCert(fuzz::realData(issuer)), {}, std::nullopt});
    }
    return f;
  }();
  return all;
}

// What a lenient parse of the input says: the CertIDs it answers and its producedAt.
struct Peek {
  std::vector<CertIdInfo> answered;
  int64_t now = kFallbackNow;
};

Peek peek(std::string_view der) {
  Peek out;
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  OcspResponsePtr resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  OcspBasicRespPtr bs(resp ? OCSP_response_get1_basic(resp.get()) : nullptr);
  if (bs) {
    for (int i = 0; i < OCSP_resp_count(bs.get()); ++i) {
      CertIdInfo id;
      if (certIdInfoFrom(OCSP_SINGLERESP_get0_id(OCSP_resp_get0(bs.get(), i)), &id)) {
        out.answered.push_back(std::move(id));
      }
    }
    if (auto produced = asn1ToEpoch(OCSP_resp_get0_produced_at(bs.get()))) out.now = *produced + 60;
  }
  ERR_clear_error();
  return out;
}

Result<ValidatedResponse> validate(std::string_view der, const std::vector<CertIdInfo>& asked,
                                   X509* issuer, int64_t now,
                                   const std::optional<std::string>& nonce) {
  ValidationInput in;
  in.der = der;
  in.cert_ids = &asked;
  in.issuer = issuer;
  in.without_issuer = issuer == nullptr;
  in.now = now;
  in.clock_skew_s = kSkewS;
  in.expected_nonce = nonce;
  auto result = validateResponse(in);
  FUZZ_CHECK(ERR_peek_error() == 0);  // validator.h: its ErrorQueueGuard leaves it empty
  if (!result.ok()) {
    const Error& e = result.error();
    FUZZ_CHECK(e.code != "internal");  // every call here passes what the contract asks for
    FUZZ_CHECK(e.category == ErrorCategory::ValidationFailed || e.code == "upstream_status");
    return result;
  }
  const ValidatedResponse& r = *result;
  FUZZ_CHECK(r.this_update <= now + kSkewS);
  FUZZ_CHECK(r.next_update == 0 || r.next_update > now);
  FUZZ_CHECK(r.revocation.has_value() == (r.status == CertStatus::Revoked));
  FUZZ_CHECK(!r.delegated || issuer != nullptr);
  return result;
}

// Whatever passes with the issuer's checks passes without them, with the same answer.
void checkWithoutIssuer(std::string_view der, const std::vector<CertIdInfo>& asked, int64_t now,
                        const std::optional<std::string>& nonce,
                        const Result<ValidatedResponse>& with_issuer) {
  if (!with_issuer.ok()) return;
  auto without = validate(der, asked, nullptr, now, nonce);
  FUZZ_CHECK(without.ok());
  FUZZ_CHECK(without->produced_at == with_issuer->produced_at);
  FUZZ_CHECK(without->this_update == with_issuer->this_update);
  FUZZ_CHECK(without->next_update == with_issuer->next_update);
  FUZZ_CHECK(without->status == with_issuer->status);
}

}  // namespace
}  // namespace ocsp

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ocsp;
  const std::string_view der = fuzz::asView(data, size);
  const Peek seen = peek(der);
  for (const Fixture& f : fixtures()) {
    if (!f.asked.empty()) {
      auto r = validate(der, f.asked, f.issuer.get(), seen.now, f.nonce);
      checkWithoutIssuer(der, f.asked, seen.now, f.nonce, r);
    }
    if (!seen.answered.empty()) {
      auto r = validate(der, seen.answered, f.issuer.get(), seen.now, std::nullopt);
      checkWithoutIssuer(der, seen.answered, seen.now, std::nullopt, r);
    }
  }
  const std::vector<CertIdInfo>& asked =
      seen.answered.empty() ? fixtures().front().asked : seen.answered;
  validate(der, asked, nullptr, seen.now, std::nullopt);
  return 0;
}
