// How a lookup's result becomes the HTTP answer (proxy/ocsp_reply.h): status codes, OCSP
// error bodies, RFC 5019 §6.2 headers, conditional requests (RFC 9110 §13), CRL answers.
// The answers are real: signed by a generated PKI or taken from aws-lc's OpenSSL-made
// matrix and pyca's CRLs, and validated by the real validator before they become entries.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <openssl/ocsp.h>
#include <openssl/sha.h>

#include <optional>
#include <string>
#include <vector>

#include "cache/crl_store.h"
#include "core/log.h"
#include "core/cert_id.h"
#include "core/ocsp_entry.h"
#include "core/source.h"
#include "pki/crl.h"
#include "pki/validator.h"
#include "proxy/ocsp_reply.h"
#include "tests/unit/test_pki.h"
#include "tests/unit/test_util.h"

namespace ocsp {
namespace {

// The generated PKI and the real data files (tests/unit/test_pki.h, test_util.h).
using namespace test;

constexpr const char* kMaxAgeRest = ", public, no-transform, must-revalidate";

// An entry made of `der` the way the upstream stage makes one: validated against `issuer` at
// `now` (or without an issuer: forward.unknown_issuer pass), times from the validator.
std::shared_ptr<const OcspEntry> entryOf(const std::string& der, X509* issuer, int64_t now,
                                         bool passthrough = false) {
  const std::vector<CertIdInfo> ids = certIdsIn(der);
  ValidationInput in;
  in.der = der;
  in.cert_ids = &ids;
  in.issuer = issuer;
  in.now = now;
  in.without_issuer = issuer == nullptr;
  auto v = validateResponse(in);
  REQUIRE_MESSAGE(v.ok(), (v.ok() ? "" : v.error().code));
  OcspEntry e;
  e.der = der;
  e.produced_at = v->produced_at;
  e.this_update = v->this_update;
  e.next_update = v->next_update;
  e.fetched_at = now;
  e.status = v->status;
  e.revocation = v->revocation;
  e.cacheable = !passthrough && issuer != nullptr;
  e.validated = issuer != nullptr;
  finishEntry(e, FreshnessPolicy{});
  return sealEntry(std::move(e));
}

Result<Answer> answerOf(std::shared_ptr<const OcspEntry> e,
                        AnswerSource source = AnswerSource::Memory) {
  return Answer{std::move(e), source};
}

// A CA of the generated PKI and one signed answer of `status` from it (nextUpdate kT + 1 day).
struct Signed {
  Identity ca = issue({.cn = "Reply CA", .ca = true}, nullptr);
  std::string der;
  explicit Signed(int status = V_OCSP_CERTSTATUS_GOOD) {
    OcspCertIdPtr id = certIdFor(ca, 7001);
    der = makeResponse(
        {{.id = id.get(),
          .status = status,
          .reason = status == V_OCSP_CERTSTATUS_REVOKED ? OCSP_REVOKED_STATUS_KEYCOMPROMISE
                                                        : OCSP_REVOKED_STATUS_NOSTATUS}},
        ca);
  }
  std::shared_ptr<const OcspEntry> entry() const { return entryOf(der, ca.cert.get(), kT); }
};

// The value of header `name` (repeated fields joined with ", "), or nullopt when absent.
std::optional<std::string> field(const HttpReply& r, std::string_view name) {
  std::optional<std::string> out;
  r.forEachField([&](std::string_view n, std::string_view v) {
    if (n != name) return;
    out = out ? *out + ", " + std::string(v) : std::string(v);
  });
  return out;
}

// responseStatus of an OCSPResponse body (RFC 6960 §4.2.1), -1 when it does not parse.
int responseStatusOf(std::string_view body) {
  const auto* p = reinterpret_cast<const unsigned char*>(body.data());
  OcspResponsePtr resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(body.size())));
  return resp ? OCSP_response_status(resp.get()) : -1;
}

std::string etagOf(const std::string& der) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(der.data()), der.size(), md);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string tag = "\"";
  for (int i = 0; i < 16; ++i) {
    tag += kHex[md[i] >> 4];
    tag += kHex[md[i] & 15];
  }
  return tag + "\"";
}

ReplyRequest get() { return ReplyRequest{.method = "GET"}; }

// -------------------------------------------------------------------------------------------
// OCSP answers and errors

TEST_CASE("each certificate status is HTTP 200 with the upstream's DER byte for byte") {
  struct Row {
    const char* file;  // under aws-lc-ocsp/
    OcspResult result;
  };
  const Row rows[] = {
      {"ocsp_response.der", OcspResult::Good},
      {"ocsp_response_revoked.der", OcspResult::Revoked},
      {"ocsp_response_unknown.der", OcspResult::Unknown},
      {"ocsp_response_sha256.der", OcspResult::Good},
      {"ocsp_response_revoked_sha256.der", OcspResult::Revoked},
  };
  X509Ptr ca = loadCert("aws-lc-ocsp/ca_cert.pem");
  constexpr int64_t kNow = 1700000000;  // 2023-11: inside every answer's validity
  for (const Row& row : rows) {
    const std::string file = row.file;
    CAPTURE(file);
    const std::string der = readFile(realData(std::string("aws-lc-ocsp/") + row.file));
    for (const std::string method : {"GET", "POST", "HEAD"}) {
      CAPTURE(method);
      HttpReply r =
          ocspReply({.method = method}, answerOf(entryOf(der, ca.get(), kNow)), false, kNow);
      CHECK(r.code == 200);
      CHECK(r.result == row.result);
      CHECK(r.body() == der);
      CHECK(responseStatusOf(r.body()) == OCSP_RESPONSE_STATUS_SUCCESSFUL);
      CHECK(field(r, "Content-Type") == "application/ocsp-response");
      CHECK_FALSE(field(r, "X-OCSP-Proxy-Flags").has_value());
    }
  }
  // And from the generated PKI, one per status.
  const std::pair<int, OcspResult> generated[] = {
      {V_OCSP_CERTSTATUS_GOOD, OcspResult::Good},
      {V_OCSP_CERTSTATUS_REVOKED, OcspResult::Revoked},
      {V_OCSP_CERTSTATUS_UNKNOWN, OcspResult::Unknown},
  };
  for (const auto& row : generated) {
    const int status = row.first;  // named, not a structured binding: CAPTURE takes it by lambda
    const OcspResult result = row.second;
    CAPTURE(status);
    Signed s(status);
    HttpReply r = ocspReply(get(), answerOf(s.entry()), false, kT);
    CHECK(r.code == 200);
    CHECK(r.result == result);
    CHECK(r.body() == s.der);
  }
}

TEST_CASE("each error category is HTTP 200 with its unsigned OCSP responseStatus, never kept") {
  struct Row {
    ErrorCategory category;
    const char* same_as;  // aws-lc's openssl-made response with that status
    int status;
    OcspResult result;
  };
  const Row rows[] = {
      {ErrorCategory::MalformedRequest, "ocsp_response_malformedrequest.der",
       OCSP_RESPONSE_STATUS_MALFORMEDREQUEST, OcspResult::MalformedRequest},
      {ErrorCategory::Unauthorized, "ocsp_response_unauthorized.der",
       OCSP_RESPONSE_STATUS_UNAUTHORIZED, OcspResult::Unauthorized},
      {ErrorCategory::SigRequired, "ocsp_response_sigrequired.der",
       OCSP_RESPONSE_STATUS_SIGREQUIRED, OcspResult::Unauthorized},
      {ErrorCategory::UpstreamUnavailable, "ocsp_response_trylater.der",
       OCSP_RESPONSE_STATUS_TRYLATER, OcspResult::TryLater},
      {ErrorCategory::ValidationFailed, "ocsp_response_trylater.der", OCSP_RESPONSE_STATUS_TRYLATER,
       OcspResult::TryLater},
      {ErrorCategory::Internal, "ocsp_response_internalerror.der",
       OCSP_RESPONSE_STATUS_INTERNALERROR, OcspResult::InternalError},
      {ErrorCategory::Config, "ocsp_response_internalerror.der", OCSP_RESPONSE_STATUS_INTERNALERROR,
       OcspResult::InternalError},
  };
  for (const Row& row : rows) {
    const std::string category = categoryName(row.category);
    CAPTURE(category);
    for (const std::string method : {"GET", "POST"}) {
      CAPTURE(method);
      ReplyRequest req{.method = method, .if_none_match = "\"anything\""};
      HttpReply r =
          ocspReply(req, Result<Answer>(makeError(row.category, "some_reason")), false, kT);
      CHECK(r.code == 200);
      CHECK(r.result == row.result);
      CHECK(responseStatusOf(r.body()) == row.status);
      CHECK(r.body() == readFile(realData(std::string("aws-lc-ocsp/") + row.same_as)));
      CHECK(field(r, "Content-Type") == "application/ocsp-response");
      CHECK(field(r, "Cache-Control") == "no-store");
      CHECK_FALSE(field(r, "ETag").has_value());
      CHECK_FALSE(field(r, "Expires").has_value());
      CHECK_FALSE(field(r, "Last-Modified").has_value());
      CHECK_FALSE(field(r, "X-OCSP-Proxy-Flags").has_value());
    }
  }
}

TEST_CASE("a request that cannot be decoded is counted as malformed_request whatever its status") {
  HttpReply r = undecodableRequestReply(ErrorCategory::MalformedRequest);
  CHECK(r.code == 200);
  CHECK(r.result == OcspResult::MalformedRequest);
  CHECK(responseStatusOf(r.body()) == OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
  CHECK(field(r, "Cache-Control") == "no-store");
  HttpReply other = undecodableRequestReply(ErrorCategory::Internal);
  CHECK(other.result == OcspResult::MalformedRequest);
  CHECK(responseStatusOf(other.body()) == OCSP_RESPONSE_STATUS_INTERNALERROR);
}

TEST_CASE("the watch and distrust flags mark answers and refusals") {
  Signed s;
  HttpReply flagged = ocspReply(get(), answerOf(s.entry()), true, kT);
  CHECK(field(flagged, "X-OCSP-Proxy-Flags") == "issuer_revoked");
  CHECK(flagged.body() == s.der);

  Result<Answer> distrusted = makeError(ErrorCategory::Unauthorized, "distrusted_issuer");
  HttpReply refused = ocspReply(get(), distrusted, false, kT);
  CHECK(field(refused, "X-OCSP-Proxy-Flags") == "distrusted");
  CHECK(responseStatusOf(refused.body()) == OCSP_RESPONSE_STATUS_UNAUTHORIZED);
  CHECK(field(ocspReply(get(), distrusted, true, kT), "X-OCSP-Proxy-Flags") ==
        "issuer_revoked, distrusted");
  Result<Answer> other = makeError(ErrorCategory::Unauthorized, "unknown_issuer");
  CHECK_FALSE(field(ocspReply(get(), other, false, kT), "X-OCSP-Proxy-Flags").has_value());
}

// -------------------------------------------------------------------------------------------
// RFC 5019 §6.2 headers

TEST_CASE("a cached answer carries max-age to its freshness end, Expires, Last-Modified, ETag") {
  Signed s;  // thisUpdate kT, nextUpdate kT + 1 day: fresh until nextUpdate
  std::shared_ptr<const OcspEntry> e = s.entry();
  struct Row {
    int64_t now;
    const char* max_age;
  };
  const Row rows[] = {
      {kT, "max-age=86400"},
      {kT + 3600, "max-age=82800"},
      {kT + kDay - 1, "max-age=1"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.now - kT);
    for (const std::string method : {"GET", "HEAD", "POST"}) {
      CAPTURE(method);
      HttpReply r = ocspReply({.method = method}, answerOf(e), false, row.now);
      CHECK(r.code == 200);
      CHECK(field(r, "Cache-Control") == std::string(row.max_age) + kMaxAgeRest);
      CHECK(field(r, "Expires") == httpDate(kT + kDay));
      CHECK(field(r, "Last-Modified") == httpDate(kT));
      CHECK(field(r, "ETag") == etagOf(s.der));
    }
  }
}

TEST_CASE("a stale answer is served with its validators and max-age=0") {
  Signed s;
  std::shared_ptr<const OcspEntry> e = s.entry();
  for (int64_t past : {int64_t{0}, int64_t{1}, int64_t{600}}) {
    CAPTURE(past);
    HttpReply r = ocspReply(get(), answerOf(e, AnswerSource::Stale), false, e->fresh_until + past);
    CHECK(r.code == 200);
    CHECK(r.body() == s.der);
    CHECK(field(r, "Cache-Control") == std::string("max-age=0") + kMaxAgeRest);
    CHECK(field(r, "ETag") == etagOf(s.der));
    CHECK(field(r, "Expires") == httpDate(kT + kDay));
  }
}

TEST_CASE("passthrough and unvalidated answers are no-store, without validators, never 304") {
  Signed s;
  struct Row {
    const char* what;
    std::shared_ptr<const OcspEntry> entry;
  };
  const Row rows[] = {
      {"nonce passthrough", entryOf(s.der, s.ca.cert.get(), kT, true)},
      {"unvalidated (forward.unknown_issuer: pass)", entryOf(s.der, nullptr, kT)},
  };
  for (const Row& row : rows) {
    const std::string what = row.what;
    CAPTURE(what);
    const std::string etag = etagOf(s.der);
    const std::string since = httpDate(kT + 60);
    for (const std::string method : {"GET", "HEAD", "POST"}) {
      CAPTURE(method);
      ReplyRequest req{.method = method, .if_none_match = etag, .if_modified_since = since};
      HttpReply r = ocspReply(req, answerOf(row.entry, AnswerSource::Upstream), false, kT);
      CHECK(r.code == 200);
      CHECK(r.result == OcspResult::Good);
      CHECK(r.body() == s.der);
      CHECK(field(r, "Cache-Control") == "no-store");
      CHECK_FALSE(field(r, "ETag").has_value());
      CHECK_FALSE(field(r, "Expires").has_value());
      CHECK_FALSE(field(r, "Last-Modified").has_value());
    }
  }
}

// -------------------------------------------------------------------------------------------
// Conditional requests (RFC 9110 §13)

TEST_CASE("an OCSP answer is 304 for GET and HEAD whose If-None-Match is its ETag, else 200") {
  Signed s;
  std::shared_ptr<const OcspEntry> e = s.entry();
  const std::string etag = etagOf(s.der);
  struct Row {
    const char* method;
    std::optional<std::string> inm;
    std::optional<std::string> ims;
    int code;
  };
  const Row rows[] = {
      {"GET", etag, std::nullopt, 304},
      {"HEAD", etag, std::nullopt, 304},
      {"POST", etag, std::nullopt, 200},  // POST is never conditional
      {"GET", "\"0123456789abcdef0123456789abcdef\"", std::nullopt, 200},
      {"GET", "", std::nullopt, 200},
      {"GET", std::nullopt, std::nullopt, 200},
      {"HEAD", std::nullopt, std::nullopt, 200},
      // The ETag alone decides for OCSP: If-Modified-Since is not used.
      {"GET", std::nullopt, httpDate(kT), 200},
      {"GET", std::nullopt, httpDate(kT + 60), 200},
      {"GET", etag, httpDate(kT - 60), 304},
  };
  for (const Row& row : rows) {
    const std::string method = row.method;
    CAPTURE(method);
    CAPTURE(row.inm.value_or("(none)"));
    CAPTURE(row.ims.value_or("(none)"));
    ReplyRequest req{.method = row.method};
    if (row.inm) req.if_none_match = *row.inm;
    if (row.ims) req.if_modified_since = *row.ims;
    HttpReply r = ocspReply(req, answerOf(e), false, kT + 60);
    CHECK(r.code == row.code);
    if (row.code == 304) {
      CHECK(r.result == OcspResult::NotModified);
      CHECK(r.body().empty());
    } else {
      CHECK(r.result == OcspResult::Good);
      CHECK(r.body() == s.der);
    }
    // A 304 carries the headers the 200 would (RFC 9110 §15.4.5).
    CHECK(field(r, "ETag") == etag);
    CHECK(field(r, "Cache-Control") == std::string("max-age=86340") + kMaxAgeRest);
    CHECK(field(r, "Last-Modified") == httpDate(kT));
  }
}

TEST_CASE("a reply holds the cached entry its body and headers point into, until it is gone") {
  Signed s;
  std::weak_ptr<const OcspEntry> entry;
  std::optional<HttpReply> reply;
  {
    std::shared_ptr<const OcspEntry> e = s.entry();
    entry = e;
    reply = ocspReply(get(), answerOf(std::move(e)), false, kT);
  }
  REQUIRE_FALSE(entry.expired());  // the answer and the cache let go; the reply did not
  HttpReply moved = std::move(*reply);
  reply.reset();
  CHECK_FALSE(entry.expired());
  CHECK(moved.body() == s.der);
  CHECK(field(moved, "ETag") == etagOf(s.der));
  CHECK(field(moved, "Cache-Control") == std::string("max-age=86400") + kMaxAgeRest);
  moved = HttpReply{};
  CHECK(entry.expired());
}

// -------------------------------------------------------------------------------------------
// CRLs

// pyca's CRLs are valid through 2015 (thisUpdate 2015-01-01, nextUpdate 2016-01-01).
constexpr int64_t kCrlNow = 1420070400 + 3600;

std::shared_ptr<const CrlEntry> crlEntryOf(const std::string& relative) {
  auto e = std::make_shared<CrlEntry>();
  e->bytes = readFile(realData(relative));
  CrlCheckInput in;
  in.bytes = e->bytes;
  in.now = kCrlNow;
  auto parsed = parseAndValidateCrl(in);  // no issuer known: accepted unchecked
  REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error().code));
  e->crl = std::move(parsed).value();
  e->fetched_at = e->crl.this_update;
  finishCrlEntry(*e, 300, 0.5);
  return e;
}

TEST_CASE("a CRL is 200 with its bytes and freshness headers up to its hard expiry") {
  std::shared_ptr<const CrlEntry> e =
      crlEntryOf("pyca-cryptography-vectors/crl/crl_all_reasons.pem");
  REQUIRE(e->crl.next_update > e->crl.this_update);
  const int64_t now = e->crl.this_update + 100;
  for (const std::string method : {"GET", "HEAD"}) {
    CAPTURE(method);
    HttpReply r = crlReply({.method = method}, e, now);
    CHECK(r.code == 200);
    CHECK(r.body() == e->bytes);
    CHECK(field(r, "Content-Type") == "application/pkix-crl");
    CHECK(field(r, "Cache-Control") ==
          "max-age=" + std::to_string(e->hard_expiry - now) + kMaxAgeRest);
    CHECK(field(r, "Last-Modified") == httpDate(e->crl.this_update));
    CHECK(field(r, "Expires") == httpDate(e->hard_expiry));
    CHECK(field(r, "ETag") == e->etag);
  }
  HttpReply expired = crlReply(get(), e, e->hard_expiry + 5);
  CHECK(field(expired, "Cache-Control") == std::string("max-age=0") + kMaxAgeRest);
}

TEST_CASE("a CRL is 304 for its ETag, or for If-Modified-Since at or after its thisUpdate") {
  std::shared_ptr<const CrlEntry> e =
      crlEntryOf("pyca-cryptography-vectors/crl/crl_all_reasons.pem");
  const int64_t tu = e->crl.this_update;
  const std::string other = "\"0000\"";
  struct Row {
    const char* what;
    std::optional<std::string> inm;
    std::optional<std::string> ims;
    int code;
  };
  const Row rows[] = {
      {"no condition", std::nullopt, std::nullopt, 200},
      {"matching ETag", e->etag, std::nullopt, 304},
      {"other ETag", other, std::nullopt, 200},
      {"since thisUpdate", std::nullopt, httpDate(tu), 304},
      {"since after thisUpdate", std::nullopt, httpDate(tu + 3600), 304},
      {"since before thisUpdate", std::nullopt, httpDate(tu - 1), 200},
      {"unreadable date", std::nullopt, "yesterday", 200},
      // RFC 9110 §13.1.3: with If-None-Match, If-Modified-Since is ignored.
      {"other ETag, since after", other, httpDate(tu + 3600), 200},
      {"matching ETag, since before", e->etag, httpDate(tu - 3600), 304},
  };
  for (const Row& row : rows) {
    const std::string what = row.what;
    CAPTURE(what);
    ReplyRequest req{.method = "GET"};
    if (row.inm) req.if_none_match = *row.inm;
    if (row.ims) req.if_modified_since = *row.ims;
    HttpReply r = crlReply(req, e, tu + 10);
    CHECK(r.code == row.code);
    CHECK(r.body() == (row.code == 200 ? std::string_view(e->bytes) : std::string_view()));
    CHECK(field(r, "ETag") == e->etag);
  }
}

TEST_CASE("a CRL that could not be had is 502 naming why, never kept") {
  Result<std::shared_ptr<const CrlEntry>> failed =
      makeError(ErrorCategory::UpstreamUnavailable, "fetch_failed", "connection refused");
  HttpReply r = crlReply({.method = "GET", .if_none_match = "\"x\""}, failed, kT);
  CHECK(r.code == 502);
  CHECK(r.body() == "CRL not available: fetch_failed\n");
  CHECK(field(r, "Content-Type") == "text/plain; charset=utf-8");
  CHECK(field(r, "Cache-Control") == "no-store");
  CHECK_FALSE(field(r, "ETag").has_value());
}

}  // namespace
}  // namespace ocsp
