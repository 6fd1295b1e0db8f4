// HTTP/1.1 request framing (http/http_parse.h): what the OCSP listener accepts, and the
// requests it refuses because they could be read two ways.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "http/http_parse.h"

using ocsp::ChunkedDecoder;
using ocsp::TrailerLimits;
using ocsp::HeadStatus;
using ocsp::parseRequestHead;
using ocsp::RequestHead;

namespace {

HeadStatus statusOf(std::string_view text, RequestHead* head = nullptr) {
  RequestHead local;
  return parseRequestHead(text, head != nullptr ? head : &local).status;
}

}  // namespace

TEST_CASE("a POST head: method, target, fields in order, body length, keep-alive") {
  const std::string text =
      "POST /ocsp HTTP/1.1\r\nHost: a.example\r\nContent-Type: application/ocsp-request\r\n"
      "Content-Length: 5\r\n\r\nhello";
  RequestHead h;
  auto r = parseRequestHead(text, &h);
  REQUIRE(r.status == HeadStatus::Complete);
  CHECK(h.method == "POST");
  CHECK(h.target == "/ocsp");
  CHECK(h.minor == 1);
  REQUIRE(h.headers.size() == 3);
  CHECK(h.headers[1].name == "Content-Type");
  CHECK(h.headers[1].value == "application/ocsp-request");
  CHECK(h.content_length == 5);
  CHECK_FALSE(h.chunked);
  CHECK(h.keep_alive);
  CHECK(text.substr(h.head_bytes) == "hello");
  REQUIRE(h.find("content-type") != nullptr);  // names compare case-insensitively
  CHECK(h.find("content-type")->value == "application/ocsp-request");
  CHECK(h.find("Accept") == nullptr);
}

TEST_CASE("an unfinished head asks for more, also when resumed from where it stopped") {
  std::string text = "GET /MFQw HTTP/1.1\r\nHost: a\r\n";
  RequestHead h;
  CHECK(parseRequestHead(text, &h).status == HeadStatus::Incomplete);
  const size_t scanned = text.size();
  text += "\r\n";
  auto r = parseRequestHead(text, &h, scanned);
  REQUIRE(r.status == HeadStatus::Complete);
  CHECK(h.head_bytes == text.size());
  CHECK(h.target == "/MFQw");
}

TEST_CASE("bare LF line ends and leading empty lines are accepted; OWS around values trimmed") {
  RequestHead h;
  REQUIRE(statusOf("\r\n\r\nGET / HTTP/1.1\nHost:  a.example \t\n\n", &h) == HeadStatus::Complete);
  CHECK(h.method == "GET");
  CHECK(h.find("Host")->value == "a.example");
}

TEST_CASE("connection persistence follows the version, Connection and Proxy-Connection") {
  RequestHead h;
  REQUIRE(statusOf("GET / HTTP/1.0\r\n\r\n", &h) == HeadStatus::Complete);
  CHECK_FALSE(h.keep_alive);
  REQUIRE(statusOf("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &h) == HeadStatus::Complete);
  CHECK(h.keep_alive);
  // Forward-proxy clients of the HTTP/1.0 era say it with Proxy-Connection.
  REQUIRE(statusOf("GET http://a/ HTTP/1.0\r\nProxy-Connection: keep-alive\r\n\r\n", &h) ==
          HeadStatus::Complete);
  CHECK(h.keep_alive);
  REQUIRE(statusOf("GET / HTTP/1.1\r\nConnection: TE, close\r\n\r\n", &h) == HeadStatus::Complete);
  CHECK_FALSE(h.keep_alive);
}

TEST_CASE("requests that two parsers could frame differently are refused") {
  // RFC 9112 §6.1, §6.3: smuggling through disagreeing lengths.
  CHECK(statusOf("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n") ==
        HeadStatus::BadRequest);
  CHECK(statusOf("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n") ==
        HeadStatus::BadRequest);
  CHECK(statusOf("POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n") == HeadStatus::BadRequest);
  CHECK(statusOf("POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n") == HeadStatus::BadRequest);
  CHECK(statusOf("POST / HTTP/1.1\r\nContent-Length : 5\r\n\r\n") == HeadStatus::BadRequest);
  CHECK(statusOf("GET / HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n") == HeadStatus::BadRequest);
  CHECK(statusOf("GET / HTTP/1.1\r\nno colon\r\n\r\n") == HeadStatus::BadRequest);
  CHECK(statusOf("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == HeadStatus::BadRequest);
  // Equal repeated lengths are one length.
  RequestHead h;
  CHECK(statusOf("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", &h) ==
        HeadStatus::Complete);
  CHECK(h.content_length == 5);
}

TEST_CASE("malformed request lines, other versions, codings and expectations") {
  CHECK(statusOf("GET /\r\n\r\n") == HeadStatus::BadRequest);
  CHECK(statusOf("GET  / HTTP/1.1\r\n\r\n") == HeadStatus::BadRequest);
  CHECK(statusOf("GET / HTTP/1.1 extra\r\n\r\n") == HeadStatus::BadRequest);
  CHECK(statusOf("G(T / HTTP/1.1\r\n\r\n") == HeadStatus::BadRequest);
  CHECK(statusOf("GET / HTTP/11\r\n\r\n") == HeadStatus::BadRequest);
  CHECK(statusOf(std::string_view("GET /\0 HTTP/1.1\r\n\r\n", 20)) == HeadStatus::BadRequest);
  CHECK(statusOf("GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n") == HeadStatus::BadRequest);
  CHECK(statusOf("PRI * HTTP/2.0\r\n\r\n") == HeadStatus::BadVersion);
  CHECK(statusOf("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") ==
        HeadStatus::NotImplemented);
  CHECK(statusOf("POST / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n") == HeadStatus::ExpectationFailed);
  RequestHead h;
  REQUIRE(statusOf("POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 9\r\n\r\n", &h) ==
          HeadStatus::Complete);
  CHECK(h.expect_continue);
  REQUIRE(statusOf("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n", &h) ==
          HeadStatus::Complete);
  CHECK(h.chunked);
}

TEST_CASE("a chunked body is decoded across any split, with extensions and trailers") {
  const std::string wire = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\nNEXT";
  for (size_t split = 0; split <= wire.size(); ++split) {
    CAPTURE(split);
    ChunkedDecoder d;
    std::string body;
    std::string pending = wire.substr(0, split);
    std::string_view in = pending;
    auto s = d.feed(&in, &body, 100);
    std::string rest = std::string(in) + wire.substr(split);
    if (s != ChunkedDecoder::Status::Done) {
      REQUIRE(s == ChunkedDecoder::Status::NeedMore);
      std::string_view in2 = rest;
      s = d.feed(&in2, &body, 100);
      rest = std::string(in2);
    }
    CHECK(s == ChunkedDecoder::Status::Done);
    CHECK(body == "hello world");
    CHECK(rest == "NEXT");  // a pipelined request after it is left alone
  }
}

TEST_CASE("a chunked body over the limit, or malformed, is reported") {
  ChunkedDecoder d;
  std::string body;
  std::string_view big = "10\r\n0123456789abcdef\r\n0\r\n\r\n";
  CHECK(d.feed(&big, &body, 8) == ChunkedDecoder::Status::TooLarge);
  for (std::string_view bad : {"zz\r\nab\r\n0\r\n\r\n", "2\r\nabc\r\n0\r\n\r\n",
                               "ffffffffffffffffff\r\n"}) {
    CAPTURE(bad);
    ChunkedDecoder fresh;
    std::string out;
    std::string_view in = bad;
    auto s = fresh.feed(&in, &out, 1 << 20);
    CHECK((s == ChunkedDecoder::Status::Bad || s == ChunkedDecoder::Status::TooLarge));
  }
}

TEST_CASE("chunked trailer fields are bounded like header fields, however they arrive") {
  const TrailerLimits limits{64, 2};
  auto decode = [&](const std::string& wire, size_t piece) {
    ChunkedDecoder d;
    std::string body;
    std::string pending;
    auto s = ChunkedDecoder::Status::NeedMore;
    for (size_t at = 0; at < wire.size() && s == ChunkedDecoder::Status::NeedMore; at += piece) {
      pending += wire.substr(at, piece);
      std::string_view in = pending;
      s = d.feed(&in, &body, 100, limits);
      pending = std::string(in);
    }
    return std::make_pair(s, d);
  };
  const std::string body = "3\r\nabc\r\n0\r\n";
  for (size_t piece : {size_t{1}, size_t{7}, size_t{4096}}) {
    CAPTURE(piece);
    // Within both limits: decoded as before.
    CHECK(decode(body + "A: 1\r\nB: 2\r\n\r\n", piece).first == ChunkedDecoder::Status::Done);
    // A third field is one over max_fields.
    auto [fields, d1] = decode(body + "A: 1\r\nB: 2\r\nC: 3\r\n\r\n", piece);
    CHECK(fields == ChunkedDecoder::Status::TrailerTooLarge);
    CHECK(d1.trailerFields() == 3);
    // One long field, and a stream of trailer bytes that never ends: refused once over 64
    // bytes, not read to the end.
    auto [bytes, d2] = decode(body + "A: " + std::string(100, 'x') + "\r\n\r\n", piece);
    CHECK(bytes == ChunkedDecoder::Status::TrailerTooLarge);
    CHECK(d2.trailerBytes() > 64);
    auto [endless, d3] = decode(body + std::string(1 << 20, 'x'), piece == 1 ? 7 : piece);
    CHECK(endless == ChunkedDecoder::Status::TrailerTooLarge);
    CHECK(d3.trailerBytes() < 64 + 4096 + 8);
  }
}
