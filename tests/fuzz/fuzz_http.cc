// Fuzz target: the OCSP listener's HTTP/1.1 framing (http/http_parse.h parseRequestHead,
// ChunkedDecoder). Input: the bytes a client sends on a connection.
// Checked: a parsed head lies inside the bytes received and its fields keep their documented
// form (a token method, a target without spaces or control bytes, header names that are
// tokens, never both a length and chunked); parsing is prefix-stable (a head complete in a
// prefix is the same head in the whole input) and resuming a search (scan_from) changes
// nothing; a chunked body decodes to the same bytes whether it arrives at once or in two
// pieces, and never past its limit.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/http_parse.h"
#include "tests/fuzz/fuzz_util.h"

namespace ocsp {
namespace {

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() || (part.data() >= whole.data() &&
                          part.data() + part.size() <= whole.data() + whole.size());
}

void checkHead(const RequestHead& h, std::string_view input) {
  FUZZ_CHECK(h.head_bytes > 0 && h.head_bytes <= input.size());
  std::string_view head = input.substr(0, h.head_bytes);
  FUZZ_CHECK(inside(h.method, head) && inside(h.target, head));
  FUZZ_CHECK(!h.method.empty() && !h.target.empty());
  for (unsigned char c : h.target) FUZZ_CHECK(c > 0x20 && c != 0x7f);
  for (const HttpHeader& f : h.headers) {
    FUZZ_CHECK(inside(f.name, head) && inside(f.value, head));
    FUZZ_CHECK(!f.name.empty());
    for (unsigned char c : f.name) FUZZ_CHECK(c > 0x20 && c != ':' && c < 0x7f);
    if (!f.value.empty()) {
      FUZZ_CHECK(f.value.front() != ' ' && f.value.front() != '\t');
      FUZZ_CHECK(f.value.back() != ' ' && f.value.back() != '\t');
    }
  }
  FUZZ_CHECK(h.minor >= 0 && h.minor <= 9);
  FUZZ_CHECK(!(h.chunked && h.content_length >= 0));
  FUZZ_CHECK(h.content_length >= -1);
}

void checkChunked(std::string_view body_bytes) {
  constexpr size_t kMax = 4096;
  ChunkedDecoder whole;
  std::string whole_body;
  std::string_view in = body_bytes;
  auto whole_status = whole.feed(&in, &whole_body, kMax);
  FUZZ_CHECK(whole_body.size() <= kMax);
  const size_t whole_left = in.size();
  // The same bytes in two pieces, split where the input's length says.
  const size_t split = body_bytes.empty() ? 0 : body_bytes.size() * 7 / 13;
  ChunkedDecoder pieces;
  std::string pieces_body;
  std::string first(body_bytes.substr(0, split));
  std::string_view in1 = first;
  auto status = pieces.feed(&in1, &pieces_body, kMax);
  if (status == ChunkedDecoder::Status::NeedMore) {
    std::string rest = std::string(in1) + std::string(body_bytes.substr(split));
    std::string_view in2 = rest;
    status = pieces.feed(&in2, &pieces_body, kMax);
    if (whole_status == ChunkedDecoder::Status::Done) FUZZ_CHECK(in2.size() == whole_left);
  }
  FUZZ_CHECK(pieces_body.size() <= kMax);
  if (whole_status == ChunkedDecoder::Status::Done) {
    FUZZ_CHECK(status == ChunkedDecoder::Status::Done);
    FUZZ_CHECK(pieces_body == whole_body);
  }
}

}  // namespace
}  // namespace ocsp

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ocsp;
  std::string_view input = fuzz::asView(data, size);
  RequestHead h;
  HeadResult r = parseRequestHead(input, &h);
  if (r.status != HeadStatus::Complete) {
    FUZZ_CHECK(r.status == HeadStatus::Incomplete || *r.detail != '\0');
  } else {
    checkHead(h, input);
  }
  // Prefix stability, and resuming the search where an incomplete parse stopped.
  for (size_t cut : {size / 3, size / 2, size - size / 4}) {
    RequestHead p;
    HeadResult pr = parseRequestHead(input.substr(0, cut), &p);
    if (pr.status == HeadStatus::Complete) {
      FUZZ_CHECK(r.status == HeadStatus::Complete && p.head_bytes == h.head_bytes);
      FUZZ_CHECK(p.headers.size() == h.headers.size());
    }
    if (pr.status == HeadStatus::Incomplete) {
      RequestHead resumed;
      HeadResult rr = parseRequestHead(input, &resumed, cut);
      FUZZ_CHECK(rr.status == r.status);
      if (rr.status == HeadStatus::Complete) FUZZ_CHECK(resumed.head_bytes == h.head_bytes);
    }
  }
  if (r.status == HeadStatus::Complete && h.chunked) {
    checkChunked(input.substr(h.head_bytes));
  }
  return 0;
}
