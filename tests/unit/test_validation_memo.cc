// The validation memo (pki/validation_memo.h): a hit gives what validateResponse gives at
// the same `now`, without validating again. Real aws-lc and GlobalSign responses, and the
// generated PKI (tests/unit/test_pki.h) for times no real file has.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/cert_id.h"
#include "core/ossl.h"
#include "tests/unit/test_pki.h"
#include "tests/unit/test_util.h"
#include "pki/validation_memo.h"
#include "pki/validator.h"

namespace ocsp {
namespace {

// The generated PKI and the real data files (tests/unit/test_pki.h, test_util.h).
using namespace test;

constexpr int64_t kSkew = 300;
constexpr int64_t kD1ProducedAt = 1350987936;  // 2012-10-23T10:25:36Z

// One question: these bytes, for these CertIDs, from this issuer.
struct Question {
  std::string der;
  std::vector<CertIdInfo> cert_ids;
  X509* issuer = nullptr;

  // Initialised in one go: GCC (with -fsanitize=address) reports assigning to the
  // default-constructed optional afterwards as maybe-uninitialized.
  ValidationInput at(int64_t now, int64_t skew_s = kSkew,
                     std::optional<std::string> nonce = std::nullopt) const {
    return ValidationInput{.der = der,
                           .cert_ids = &cert_ids,
                           .issuer = issuer,
                           .now = now,
                           .clock_skew_s = skew_s,
                           .expected_nonce = std::move(nonce)};
  }
};

// An aws-lc or other real response, asked with the CertIDs it answers.
Question realQuestion(const std::string& response, X509* issuer) {
  std::string der = readFile(realData(response));
  auto ids = certIdsIn(der);
  return Question{std::move(der), std::move(ids), issuer};
}

std::string codeOf(const Result<ValidatedResponse>& r) { return r.ok() ? "ok" : r.error().code; }

void checkSameFields(const ValidatedResponse& got, const ValidatedResponse& want) {
  CHECK(got.produced_at == want.produced_at);
  CHECK(got.this_update == want.this_update);
  CHECK(got.next_update == want.next_update);
  CHECK(got.status == want.status);
  REQUIRE(got.revocation.has_value() == want.revocation.has_value());
  if (got.revocation) {
    CHECK(got.revocation->time == want.revocation->time);
    CHECK(got.revocation->reason == want.revocation->reason);
  }
  CHECK(got.delegated == want.delegated);
  CHECK(got.latest_this_update == want.latest_this_update);
  CHECK(got.earliest_next_update == want.earliest_next_update);
  CHECK(got.responder_not_before == want.responder_not_before);
  CHECK(got.responder_not_after == want.responder_not_after);
}

// The memo's answer to `in` is the one validateResponse gives: code, category and fields.
Result<ValidatedResponse> checkedValidate(ValidationMemo& memo, const ValidationInput& in) {
  auto got = memo.validate(in);
  auto want = validateResponse(in);
  CHECK_MESSAGE(codeOf(got) == codeOf(want),
                "memo: " << codeOf(got) << ", validateResponse: "
                         << (want.ok() ? "ok" : want.error().code + ": " + want.error().detail));
  if (got.ok() && want.ok()) checkSameFields(*got, *want);
  if (!got.ok() && !want.ok()) CHECK(got.error().category == want.error().category);
  return got;
}

// What validateResponse accepts `q` with at `now` (the test case stops if it refuses).
ValidatedResponse acceptedAt(const Question& q, int64_t now) {
  auto v = validateResponse(q.at(now));
  REQUIRE_MESSAGE(v.ok(), v.error().code << ": " << v.error().detail);
  return *v;
}

// The RFC 8954 nonce extension value OCSP_basic_add1_nonce makes of 16 raw bytes: the DER of
// an OCTET STRING, as validateResponse expects it.
std::string nonceExtensionValue(const std::string& raw16) {
  return std::string("\x04\x10", 2) + raw16;
}

// A CA, its delegated responder, and CertIDs under the CA.
struct Pki {
  Identity ca = issue({.cn = "Memo CA", .ca = true}, nullptr);
  Identity responder = issue({.cn = "Memo OCSP responder", .ocsp_signing = true}, &ca);
  Identity other_ca = issue({.cn = "Other CA", .ca = true}, nullptr);

  // A CA-signed response for serial `serial`, asked for that serial.
  Question direct(long serial, int64_t this_update = kT, int64_t next_update = kT + kDay) {
    auto id = certIdFor(ca, serial);
    return Question{
        makeResponse({{.id = id.get(), .this_update = this_update, .next_update = next_update}},
                     ca),
        {infoOf(id)},
        ca.cert.get()};
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Hits

TEST_CASE("the same bytes asked again are answered from the memo with the same result") {
  struct Row {
    const char* response;
    const char* issuer;
    int64_t now;  // when the response is valid
  };
  const Row rows[] = {
      {"aws-lc-ocsp/ocsp_response.der", "aws-lc-ocsp/ca_cert.pem", kT},  // delegated
      {"aws-lc-ocsp/ocsp_response_revoked.der", "aws-lc-ocsp/ca_cert.pem", kT},
      {"aws-lc-ocsp/ocsp_response_ca_signed.der", "aws-lc-ocsp/ca_cert.pem", kT},
      // GlobalSign, delegated, at its producedAt 2012-10-23T10:25:36Z
      {"openssl-ocsp-tests/der/D1.der", "openssl-ocsp-tests/D1_Issuer_ICA.pem", kD1ProducedAt},
      // Comodo, CA-direct, at its producedAt 2012-10-11T08:41:13Z
      {"openssl-ocsp-tests/der/ND1.der", "openssl-ocsp-tests/ND1_Issuer_ICA.pem", 1349944873},
  };
  ValidationMemo memo(64);
  uint64_t expected_hits = 0;
  for (const auto& row : rows) {
    CAPTURE(row.response);
    auto issuer = loadCert(row.issuer);
    Question q = realQuestion(row.response, issuer.get());
    const int64_t now = row.now;
    auto first = checkedValidate(memo, q.at(now));
    CHECK(memo.stats().hits == expected_hits);
    auto second = checkedValidate(memo, q.at(now + 60));
    ++expected_hits;
    CHECK(memo.stats().hits == expected_hits);  // the second answer did not validate again
    REQUIRE(first.ok());
    REQUIRE(second.ok());
    checkSameFields(*second, *first);
  }
  const auto stats = memo.stats();
  CHECK(stats.misses == std::size(rows));
  CHECK(stats.size == std::size(rows));
  CHECK(stats.skipped == 0);
}

TEST_CASE("a copy of the issuer certificate (another object, same bytes) hits") {
  auto issuer = loadCert("aws-lc-ocsp/ca_cert.pem");
  auto copy = loadCert("aws-lc-ocsp/ca_cert.pem");
  REQUIRE(issuer.get() != copy.get());
  Question q = realQuestion("aws-lc-ocsp/ocsp_response.der", issuer.get());
  const int64_t now = acceptedAt(q, kT).this_update + 60;
  ValidationMemo memo;
  checkedValidate(memo, q.at(now));
  q.issuer = copy.get();
  CHECK(codeOf(checkedValidate(memo, q.at(now))) == "ok");
  CHECK(memo.stats().hits == 1);
}

TEST_CASE("a digest the caller computed keys the memo as the DER itself does") {
  auto issuer = loadCert("aws-lc-ocsp/ca_cert.pem");
  Question q = realQuestion("aws-lc-ocsp/ocsp_response.der", issuer.get());
  const int64_t now = acceptedAt(q, kT).this_update + 60;
  ValidationMemo memo;
  checkedValidate(memo, q.at(now));  // stored, keyed by the DER's digest computed here
  const std::string digest = sha256(q.der);
  ValidationInput with_digest = q.at(now);
  with_digest.der_sha256 = digest;
  CHECK(codeOf(checkedValidate(memo, with_digest)) == "ok");
  CHECK(memo.stats().hits == 1);
  CHECK(memo.stats().misses == 1);
}

// ---------------------------------------------------------------------------------------------
// Time rules on a hit

TEST_CASE("a hit fails once nextUpdate has passed, or before thisUpdate minus the skew") {
  auto ca = loadCert("aws-lc-ocsp/ca_cert.pem");
  Question q = realQuestion("aws-lc-ocsp/ocsp_response.der", ca.get());
  const ValidatedResponse v = acceptedAt(q, kT);
  ValidationMemo memo;
  REQUIRE(codeOf(checkedValidate(memo, q.at(v.this_update + 60))) == "ok");
  struct Row {
    int64_t now;
    const char* code;
  };
  const Row rows[] = {
      {v.next_update - 1, "ok"},
      {v.next_update, "expired"},
      {v.next_update + 365 * kDay, "expired"},
      {v.this_update - kSkew, "ok"},
      {v.this_update - kSkew - 1, "this_update_in_future"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.now);
    CHECK(codeOf(checkedValidate(memo, q.at(row.now))) == row.code);
  }
  CHECK(memo.stats().hits == std::size(rows));
  CHECK(memo.stats().misses == 1);
}

TEST_CASE("a delegated hit fails once the responder certificate has expired") {
  // GlobalSign 2012: the responder certificate expired after nextUpdate, so validateResponse
  // reports the responder (checked first) from its notAfter on, and so does the memo.
  auto ica = loadCert("openssl-ocsp-tests/D1_Issuer_ICA.pem");
  Question d1 = realQuestion("openssl-ocsp-tests/der/D1.der", ica.get());
  const ValidatedResponse v = acceptedAt(d1, kD1ProducedAt);
  REQUIRE(v.delegated);
  REQUIRE(v.responder_not_after > v.next_update);
  ValidationMemo memo;
  REQUIRE(codeOf(checkedValidate(memo, d1.at(v.produced_at))) == "ok");
  CHECK(codeOf(checkedValidate(memo, d1.at(v.responder_not_after - 1))) == "expired");
  CHECK(codeOf(checkedValidate(memo, d1.at(v.responder_not_after))) == "responder_cert_expired");
  CHECK(memo.stats().hits == 2);

  // A responder that expires before nextUpdate, and one not yet valid at thisUpdate.
  Pki pki;
  Identity short_lived = issue({.cn = "Short-lived responder",
                                .ocsp_signing = true,
                                .not_before = kT + 600,
                                .not_after = kT + 2 * kDay},
                               &pki.ca);
  auto id = certIdFor(pki.ca, 7);
  Question q{makeResponse({{.id = id.get(), .this_update = kT, .next_update = kT + 7 * kDay}},
                          short_lived),
             {infoOf(id)},
             pki.ca.cert.get()};
  ValidationMemo generated_memo;
  REQUIRE(codeOf(checkedValidate(generated_memo, q.at(kT + kDay))) == "ok");
  struct Row {
    int64_t now;
    const char* code;
  };
  const Row rows[] = {
      {kT + 2 * kDay - 1, "ok"},
      {kT + 2 * kDay, "responder_cert_expired"},
      {kT + 7 * kDay, "responder_cert_expired"},  // expired too: the responder is checked first
      {kT + 600, "ok"},
      {kT + 599, "responder_cert_expired"},  // thisUpdate is fine, the responder is not yet
      {kT - kSkew - 1, "responder_cert_expired"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.now);
    CHECK(codeOf(checkedValidate(generated_memo, q.at(row.now))) == row.code);
  }
  CHECK(generated_memo.stats().hits == std::size(rows));
}

TEST_CASE("with several SingleResponses a hit fails on any of their times, as validation does") {
  Pki pki;
  auto a = certIdFor(pki.ca, 1);
  auto b = certIdFor(pki.ca, 2);
  auto c = certIdFor(pki.ca, 3);
  // a is the earliest to expire, b the latest to begin, c never expires.
  Question q{makeResponse({{.id = a.get(), .this_update = kT - kDay, .next_update = kT + kDay},
                           {.id = b.get(), .this_update = kT, .next_update = kT + 3 * kDay},
                           {.id = c.get(), .this_update = kT - kDay, .next_update = std::nullopt}},
                          pki.responder),
             {infoOf(a), infoOf(b), infoOf(c)},
             pki.ca.cert.get()};
  ValidationMemo memo;
  REQUIRE(codeOf(checkedValidate(memo, q.at(kT))) == "ok");
  struct Row {
    int64_t now;
    const char* code;
  };
  const Row rows[] = {
      {kT - kSkew - 1, "this_update_in_future"},  // b's
      {kT - kSkew, "ok"},
      {kT + kDay - 1, "ok"},
      {kT + kDay, "expired"},  // a's
      {kT + 3 * kDay, "expired"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.now);
    CHECK(codeOf(checkedValidate(memo, q.at(row.now))) == row.code);
  }
  CHECK(memo.stats().hits == std::size(rows));
}

// ---------------------------------------------------------------------------------------------
// What is never a hit

TEST_CASE("the same bytes for another issuer or other CertIDs are validated in full") {
  auto ca = loadCert("aws-lc-ocsp/ca_cert.pem");
  auto other_ca = loadCert("openssl-ocsp-tests/ND1_Issuer_ICA.pem");
  Question q = realQuestion("aws-lc-ocsp/ocsp_response.der", ca.get());
  const int64_t now = acceptedAt(q, kT).this_update + 60;
  ValidationMemo memo;
  REQUIRE(codeOf(checkedValidate(memo, q.at(now))) == "ok");

  Question other_ids = q;  // the SHA-256 CertID of the same certificate
  other_ids.cert_ids = certIdsIn(readFile(realData("aws-lc-ocsp/ocsp_response_sha256.der")));
  CHECK(codeOf(checkedValidate(memo, other_ids.at(now))) == "certid_mismatch");

  Question more_ids = q;  // one more CertID than the response answers
  more_ids.cert_ids.push_back(other_ids.cert_ids.front());
  CHECK(codeOf(checkedValidate(memo, more_ids.at(now))) == "certid_mismatch");

  Question other_issuer = q;
  other_issuer.issuer = other_ca.get();
  CHECK(codeOf(checkedValidate(memo, other_issuer.at(now))) != "ok");

  // Accepted, but under another key: what was remembered for a different skew or for a check
  // with the issuer is not reused.
  CHECK(codeOf(checkedValidate(memo, q.at(now, kSkew + 1))) == "ok");
  ValidationInput unchecked = q.at(now);
  unchecked.without_issuer = true;
  CHECK(codeOf(checkedValidate(memo, unchecked)) == "ok");

  const auto stats = memo.stats();
  CHECK(stats.hits == 0);
  CHECK(stats.misses == 6);
  CHECK(stats.size == 3);  // the three accepted keys
}

TEST_CASE("a request with a nonce is never answered from the memo nor stored") {
  Pki pki;
  const std::string raw = "0123456789abcdef";
  auto id = certIdFor(pki.ca, 11);
  Question q{
      makeResponse({{id.get()}}, pki.responder, {.nonce = raw}), {infoOf(id)}, pki.ca.cert.get()};
  ValidationMemo memo;
  for (int round = 0; round < 2; ++round) {
    CHECK(codeOf(checkedValidate(memo, q.at(kT, kSkew, nonceExtensionValue(raw)))) == "ok");
  }
  CHECK(memo.stats().size == 0);
  // Stored by a request without a nonce, still not used for one with a nonce.
  CHECK(codeOf(checkedValidate(memo, q.at(kT))) == "ok");
  CHECK(codeOf(checkedValidate(memo, q.at(kT, kSkew, nonceExtensionValue("fedcba9876543210")))) ==
        "nonce_mismatch");
  const auto stats = memo.stats();
  CHECK(stats.skipped == 3);
  CHECK(stats.misses == 1);
  CHECK(stats.hits == 0);
  CHECK(stats.size == 1);
}

TEST_CASE("failed validations are not stored: each is judged again") {
  auto ca = loadCert("aws-lc-ocsp/ca_cert.pem");
  ValidationMemo memo;
  for (const char* response :
       {"aws-lc-ocsp/ocsp_response_expired_signer.der",
        "aws-lc-ocsp/ocsp_response_wrong_signer.der", "aws-lc-ocsp/ocsp_response_trylater.der"}) {
    CAPTURE(response);
    Question q{readFile(realData(response)),
               certIdsIn(readFile(realData("aws-lc-ocsp/ocsp_response.der"))), ca.get()};
    const std::string first = codeOf(checkedValidate(memo, q.at(kT)));
    CHECK(first != "ok");
    CHECK(codeOf(checkedValidate(memo, q.at(kT))) == first);
  }
  // Refused at one time (expired), then accepted at another: the refusal was not remembered.
  Question q = realQuestion("aws-lc-ocsp/ocsp_response.der", ca.get());
  const ValidatedResponse v = acceptedAt(q, kT);
  CHECK(codeOf(checkedValidate(memo, q.at(v.next_update))) == "expired");
  CHECK(codeOf(checkedValidate(memo, q.at(v.this_update))) == "ok");
  const auto stats = memo.stats();
  CHECK(stats.hits == 0);
  CHECK(stats.misses == 8);
  CHECK(stats.size == 1);
}

TEST_CASE("inputs validateResponse refuses as a caller bug skip the memo") {
  ValidationMemo memo;
  std::vector<CertIdInfo> none;
  Question q{"", none, nullptr};
  CHECK(codeOf(memo.validate(q.at(kT))) == "internal");
  CHECK(memo.stats().skipped == 1);
}

// ---------------------------------------------------------------------------------------------
// Bounds

TEST_CASE("the memo never holds more entries than its capacity") {
  Pki pki;
  SUBCASE("one shard") {
    ValidationMemo memo(8);
    CHECK(memo.capacity() == 8);
    for (long serial = 1; serial <= 20; ++serial) {
      checkedValidate(memo, pki.direct(serial).at(kT));
      CHECK(memo.stats().size <= 8);
    }
    CHECK(memo.stats().size == 8);
    CHECK(memo.stats().evictions == 12);
  }
  SUBCASE("several shards, each full") {
    ValidationMemo memo(2 * 1'024);
    CHECK(memo.capacity() == 2 * 1'024);
    // Distinct keys from one response: each clock skew is another key.
    Question q = pki.direct(1);
    const int inserts = 3'000;
    for (int skew = 0; skew < inserts; ++skew) memo.validate(q.at(kT, skew));
    const auto stats = memo.stats();
    CHECK(stats.misses == inserts);
    CHECK(stats.size <= memo.capacity());
    CHECK(stats.size + stats.evictions == inserts);
  }
  SUBCASE("capacities round down to whole shards, and 0 turns the memo off") {
    CHECK(ValidationMemo(16 * 1'024 + 15).capacity() == 16 * 1'024);
    CHECK(ValidationMemo(3'000).capacity() == 3'000);  // two shards of 1,500
    CHECK(ValidationMemo(100'000).capacity() == 100'000 / 16 * 16);
    ValidationMemo off(0);
    CHECK(off.capacity() == 0);
    Question q = pki.direct(1);
    checkedValidate(off, q.at(kT));
    checkedValidate(off, q.at(kT));
    CHECK(off.stats().size == 0);
    CHECK(off.stats().hits == 0);
  }
}

TEST_CASE("a full memo evicts an entry not hit since the last eviction first (CLOCK)") {
  Pki pki;
  ValidationMemo memo(4);
  std::vector<Question> q;
  for (long serial = 1; serial <= 5; ++serial) q.push_back(pki.direct(serial));
  for (int i = 0; i < 4; ++i) memo.validate(q[i].at(kT));
  memo.validate(q[0].at(kT));  // hit: q[0] gets a second chance
  memo.validate(q[4].at(kT));  // full: q[0] is spared, q[1] goes
  auto hits = memo.stats().hits;
  memo.validate(q[0].at(kT));
  CHECK(memo.stats().hits == hits + 1);
  memo.validate(q[1].at(kT));
  CHECK(memo.stats().hits == hits + 1);  // evicted: validated in full
  CHECK(memo.stats().evictions == 2);
}

// ---------------------------------------------------------------------------------------------
// Threads

TEST_CASE("threads sharing one memo each get the answer validateResponse gives") {
  Pki pki;
  const Question good = pki.direct(1);
  const Question expired = pki.direct(2, kT - 2 * kDay, kT - kDay);
  const Question other = pki.direct(3);
  Question wrong_issuer = pki.direct(4);
  wrong_issuer.issuer = pki.other_ca.cert.get();
  ValidationMemo memo(64);
  constexpr int kThreads = 4;
  constexpr int kRounds = 50;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        if (codeOf(memo.validate(good.at(kT + i))) != "ok") ++wrong;
        if (codeOf(memo.validate(other.at(kT - kSkew - 1))) != "this_update_in_future") ++wrong;
        if (codeOf(memo.validate(expired.at(kT))) != "expired") ++wrong;
        if (codeOf(memo.validate(wrong_issuer.at(kT))) == "ok") ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(wrong == 0);
  const auto stats = memo.stats();
  CHECK(stats.hits + stats.misses == 4 * kThreads * kRounds);
  // `other` is stored only once some thread validated it at a time it was valid: never here.
  CHECK(stats.size == 1);
  CHECK(stats.hits >= kThreads * kRounds - kThreads);  // `good`: at most one miss per thread
}

}  // namespace ocsp
