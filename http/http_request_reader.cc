#include "http/http_request_reader.h"

#include <errno.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace ocsp {

namespace {

constexpr size_t kInitialBuffer = 4096;

HttpRequestReader::Step breachStep(LimitBreach breach, uint64_t amount) {
  HttpRequestReader::Step s;
  s.kind = HttpRequestReader::Step::Kind::Breach;
  s.breach = breach;
  s.amount = amount;
  return s;
}

HttpRequestReader::Step errorStep(int code, const char* reason, const char* detail) {
  HttpRequestReader::Step s;
  s.kind = HttpRequestReader::Step::Kind::ProtocolError;
  s.code = code;
  s.reason = reason;
  s.detail = detail;
  return s;
}

HttpRequestReader::Step kindStep(HttpRequestReader::Step::Kind kind) {
  HttpRequestReader::Step s;
  s.kind = kind;
  return s;
}

}  // namespace

HttpRequestReader::HttpRequestReader(const RequestReaderLimits& limits) : limits_(limits) {
  in_.resize(kInitialBuffer);
}

HttpRequestReader::Step HttpRequestReader::step() {
  using Kind = Step::Kind;
  const RequestReaderLimits& lim = limits_;
  std::string_view buffered(in_.data() + start_, end_ - start_);
  if (in_body_) return bodyStep(buffered);
  if (buffered.empty()) {
    if (start_ != 0) start_ = end_ = 0;  // idle: next request at the buffer's start
    return kindStep(Kind::NeedMore);
  }
  HeadResult r = parseRequestHead(buffered, &head_, scanned_);
  switch (r.status) {
    case HeadStatus::Incomplete:
      scanned_ = buffered.size();
      if (buffered.size() > lim.max_header_bytes) {
        head_.method = head_.target = {};
        head_.headers.clear();
        consumed_ = buffered.size();
        return breachStep(LimitBreach::HeaderBytes, buffered.size());
      }
      return kindStep(Kind::NeedMore);  // makeRoom() grows the buffer when it is full
    case HeadStatus::BadRequest: return errorStep(400, "Bad Request", r.detail);
    case HeadStatus::NotImplemented: return errorStep(501, "Not Implemented", r.detail);
    case HeadStatus::BadVersion: return errorStep(505, "HTTP Version Not Supported", r.detail);
    case HeadStatus::ExpectationFailed: return errorStep(417, "Expectation Failed", r.detail);
    case HeadStatus::Complete: break;
  }
  scanned_ = 0;
  continue_sent_ = false;
  consumed_ = head_.head_bytes;
  if (head_.headers.size() > lim.max_headers) {
    return breachStep(LimitBreach::Headers, head_.headers.size());
  }
  if (head_.head_bytes > lim.max_header_bytes) {
    return breachStep(LimitBreach::HeaderBytes, head_.head_bytes);
  }
  if (head_.content_length > 0 &&
      static_cast<uint64_t>(head_.content_length) > lim.max_request_bytes) {
    return breachStep(LimitBreach::Body, static_cast<uint64_t>(head_.content_length));
  }
  if (!head_.chunked && head_.content_length <= 0) {
    body_ = {};
    return kindStep(Kind::Request);
  }
  in_body_ = true;
  chunks_.reset();
  chunked_body_.clear();
  chunk_pos_ = head_.head_bytes;
  return bodyStep(buffered);
}

HttpRequestReader::Step HttpRequestReader::bodyStep(std::string_view buffered) {
  using Kind = Step::Kind;
  const RequestReaderLimits& lim = limits_;
  if (head_.chunked) {
    std::string_view raw = buffered.substr(chunk_pos_);
    const size_t before = raw.size();
    // Trailer fields share the head's limits (RFC 9112 §7.1.2: they are header fields).
    TrailerLimits trailer;
    trailer.max_bytes = lim.max_header_bytes - std::min(lim.max_header_bytes, head_.head_bytes);
    trailer.max_fields = lim.max_headers - std::min(lim.max_headers, head_.headers.size());
    auto status = chunks_.feed(&raw, &chunked_body_, lim.max_request_bytes, trailer);
    chunk_pos_ += before - raw.size();
    if (status == ChunkedDecoder::Status::Bad) {
      return errorStep(400, "Bad Request", "malformed chunked body");
    }
    if (status == ChunkedDecoder::Status::TrailerTooLarge) {
      consumed_ = chunk_pos_;
      if (chunks_.trailerFields() > trailer.max_fields) {
        return breachStep(LimitBreach::TrailerFields,
                          head_.headers.size() + chunks_.trailerFields());
      }
      return breachStep(LimitBreach::TrailerBytes, head_.head_bytes + chunks_.trailerBytes());
    }
    if (status == ChunkedDecoder::Status::TooLarge) {
      consumed_ = chunk_pos_;
      return breachStep(LimitBreach::Body, chunked_body_.size());
    }
    if (status == ChunkedDecoder::Status::Done) {
      consumed_ = chunk_pos_;
      body_ = chunked_body_;
      return kindStep(Kind::Request);
    }
    if (end_ == in_.size()) {
      // Decoded bytes are kept in chunked_body_: drop their raw form behind the head.
      const size_t keep_from = start_ + head_.head_bytes;
      const size_t raw_from = start_ + chunk_pos_;
      std::memmove(in_.data() + keep_from, in_.data() + raw_from, end_ - raw_from);
      end_ -= raw_from - keep_from;
      chunk_pos_ = head_.head_bytes;
      if (end_ == in_.size() && !reserve(end_ - start_ + kInitialBuffer)) {
        return errorStep(400, "Bad Request", "chunked body framing too long");
      }
    }
  } else {
    const size_t need = head_.head_bytes + static_cast<size_t>(head_.content_length);
    if (buffered.size() >= need) {
      consumed_ = need;
      body_ = buffered.substr(head_.head_bytes, static_cast<size_t>(head_.content_length));
      return kindStep(Kind::Request);
    }
    if (!reserve(need)) return errorStep(400, "Bad Request", "request too large");
  }
  if (head_.expect_continue && !continue_sent_) {
    continue_sent_ = true;
    return kindStep(Kind::Continue);
  }
  return kindStep(Kind::NeedMore);
}

void HttpRequestReader::abandon() {
  if (!in_body_) {
    head_.method = head_.target = {};
    head_.headers.clear();
  }
  consumed_ = end_ - start_;
}

void HttpRequestReader::next() {
  start_ += consumed_;
  consumed_ = 0;
  in_body_ = false;
}

bool HttpRequestReader::makeRoom(bool may_move) {
  if (!full()) return true;
  return may_move && reserve(end_ - start_ + kInitialBuffer);
}

ssize_t HttpRequestReader::readFrom(int fd) {
  if (full()) return 0;
  const ssize_t n = ::read(fd, in_.data() + end_, in_.size() - end_);
  if (n > 0) end_ += static_cast<size_t>(n);
  return n;
}

bool HttpRequestReader::reserve(size_t bytes) {
  const RequestReaderLimits& lim = limits_;
  const size_t bound = lim.max_header_bytes + lim.max_request_bytes + 16 * 1024;
  if (start_ + bytes <= in_.size()) return true;
  if (bytes > bound) return false;
  if (bytes > in_.size()) {
    std::string bigger;
    bigger.resize(std::min(bound, std::max(bytes, 2 * in_.size())));
    std::memcpy(bigger.data(), in_.data() + start_, end_ - start_);
    in_.swap(bigger);
  } else {
    std::memmove(in_.data(), in_.data() + start_, end_ - start_);
  }
  end_ -= start_;
  start_ = 0;
  // Same bytes, new place: the views must follow.
  if (in_body_) parseRequestHead(std::string_view(in_.data() + start_, end_ - start_), &head_);
  return true;
}

}  // namespace ocsp
