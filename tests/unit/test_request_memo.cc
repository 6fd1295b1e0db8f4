// The per-worker memo of decoded requests (proxy/request_memo.h): bounded with second-chance
// eviction, and a remembered query is never handed to two lookups at once.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "proxy/request_memo.h"

using ocsp::OcspQuery;
using ocsp::RequestMemo;

namespace {
std::shared_ptr<OcspQuery> queryFor(const std::string& request) {
  auto q = std::make_shared<OcspQuery>();
  q->request_der = request;
  return q;
}

// A request is admitted on its second sighting.
void seenTwice(RequestMemo& memo, const std::string& request,
               const std::shared_ptr<OcspQuery>& query) {
  memo.remember(request, query);
  memo.remember(request, query);
}
}  // namespace

TEST_CASE("a remembered request comes back as the same query, reset for the new request") {
  RequestMemo memo(4);
  CHECK(memo.take("a") == nullptr);
  auto q = queryFor("a");
  seenTwice(memo, "a", q);
  q->client = "192.0.2.1:1000";
  q->mode = ocsp::Mode::Forward;
  q->forward_upstream = 2;
  q->forward_fqdn = 1;
  OcspQuery* first = q.get();
  q.reset();  // the first request is answered
  auto again = memo.take("a");
  REQUIRE(again != nullptr);
  CHECK(again.get() == first);  // no copy
  CHECK(again->client.empty());
  CHECK(again->mode == ocsp::Mode::Responder);
  CHECK_FALSE(again->forward_upstream.has_value());
  CHECK(again->forward_fqdn == 0);
  CHECK(again->request_der == "a");
}

TEST_CASE("a query still held by a lookup in flight is copied, never shared") {
  RequestMemo memo(4);
  auto in_flight = queryFor("a");
  seenTwice(memo, "a", in_flight);
  in_flight->client = "192.0.2.1:1000";
  auto second = memo.take("a");
  REQUIRE(second != nullptr);
  CHECK(second.get() != in_flight.get());
  CHECK(in_flight->client == "192.0.2.1:1000");  // the lookup's own fields untouched
  CHECK(second->request_der == "a");
}

TEST_CASE("nonce requests are not remembered") {
  RequestMemo memo(4);
  auto q = queryFor("n");
  q->nonce = std::string("\x04\x02zz", 4);
  seenTwice(memo, "n", q);
  CHECK(memo.take("n") == nullptr);
  CHECK(memo.size() == 0);
}

TEST_CASE("a cyclic working set within capacity always hits; beyond it, recent ones survive") {
  RequestMemo memo(8);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 8; ++i) {
      std::string key = "k" + std::to_string(i);
      if (round > 0) CHECK_MESSAGE(memo.take(key) != nullptr, key);
      else seenTwice(memo, key, queryFor(key));
    }
  }
  CHECK(memo.size() == 8);
  // Every slot was asked for again: each gets its second chance, then the oldest goes first.
  seenTwice(memo, "new", queryFor("new"));
  CHECK(memo.size() == 8);
  CHECK(memo.take("new") != nullptr);
  CHECK(memo.take("k0") == nullptr);
  // k1 was asked for after the hand passed it: it survives the next insertion; k2 does not.
  CHECK(memo.take("k1") != nullptr);
  seenTwice(memo, "newer", queryFor("newer"));
  CHECK(memo.take("k1") != nullptr);
  CHECK(memo.take("k2") == nullptr);
  CHECK(memo.size() == 8);
}

TEST_CASE("capacity 0 remembers nothing") {
  RequestMemo memo(0);
  seenTwice(memo, "a", queryFor("a"));
  CHECK(memo.take("a") == nullptr);
}

TEST_CASE("requests seen once take no slot and push out nothing") {
  RequestMemo memo(4);
  for (int i = 0; i < 4; ++i) seenTwice(memo, "hot" + std::to_string(i), queryFor("hot"));
  // A scan of one-off requests.
  for (int i = 0; i < 10'000; ++i) memo.remember("once" + std::to_string(i), queryFor("x"));
  CHECK(memo.size() == 4);
  for (int i = 0; i < 4; ++i) CHECK(memo.take("hot" + std::to_string(i)) != nullptr);
  CHECK(memo.take("once7") == nullptr);
  // The first sighting is not remembered; the second is.
  memo.remember("twice", queryFor("twice"));
  CHECK(memo.take("twice") == nullptr);
  memo.remember("twice", queryFor("twice"));
  CHECK(memo.take("twice") != nullptr);
}

TEST_CASE("every request of a cyclic working set is remembered from its second pass on") {
  // 10,000 requests asked in the same order again and again (wrk's cycle; clients polling
  // the same certificates): where two requests share a doorkeeper slot and alternate, each
  // must not wipe the other's first sighting forever.
  RequestMemo memo(16'384);
  std::vector<std::string> requests;
  for (int i = 0; i < 10'000; ++i) requests.push_back("request-" + std::to_string(i * 7919));
  for (int pass = 0; pass < 2; ++pass) {
    for (const std::string& r : requests) {
      if (memo.take(r) == nullptr) memo.remember(r, queryFor(r));
    }
  }
  CHECK(memo.size() == requests.size());
  size_t missed = 0;
  for (const std::string& r : requests) missed += memo.take(r) == nullptr ? 1 : 0;
  CHECK(missed == 0);
}

TEST_CASE("the remembered requests never hold more bytes than the bound") {
  // One client sending many distinct requests, each twice: the memo stays within its bytes.
  constexpr size_t kBound = 64 * 1024;
  const size_t before = RequestMemo::processBytes();
  {
    RequestMemo memo(16'384, kBound);
    size_t most = 0;
    for (int i = 0; i < 2'000; ++i) {
      std::string request(900, 'r');
      request += std::to_string(i);
      auto q = queryFor(request);
      seenTwice(memo, request, q);
      most = std::max(most, memo.bytes());
      CHECK(memo.take(request) != nullptr);  // the newest is always kept
    }
    CHECK(most <= kBound);
    CHECK(memo.bytes() > kBound / 2);  // the bound is used, not left empty
    CHECK(memo.size() < 2'000);
    // The process-wide gauge counts it (plus the doorkeeper's fixed 256 KiB).
    CHECK(RequestMemo::processBytes() - before == memo.bytes() + 256 * 1024);
  }
  CHECK(RequestMemo::processBytes() == before);
}

TEST_CASE("requests longer than a real OCSP request are never remembered") {
  RequestMemo memo;
  const std::string large(16 * 1024, 'x');
  seenTwice(memo, large, queryFor(large));
  CHECK(memo.take(large) == nullptr);
  CHECK(memo.bytes() == 0);
  const std::string largest(RequestMemo::kMaxRememberedRequestBytes, 'y');
  seenTwice(memo, largest, queryFor(largest));
  CHECK(memo.take(largest) != nullptr);
}

TEST_CASE("a bound of 0 bytes remembers nothing") {
  RequestMemo memo(16, 0);
  seenTwice(memo, "a", queryFor("a"));
  CHECK(memo.take("a") == nullptr);
  CHECK(memo.bytes() == 0);
}
