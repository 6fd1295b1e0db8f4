#pragma once
// One request on the OCSP listener and its answer (docs/ARCHITECTURE.md §11): what the
// connection layer (http/http_connection.h) hands to the handler, and the handler's side of
// the contract.
//   - The exchange is valid from HttpHandler::onRequest until reply(), even when the client
//     goes away meanwhile (the answer is then dropped), so a callback may always answer it.
//   - The handler replies exactly once, now or later, from the same event loop; a second
//     reply is ignored.
//   - A limit found while reading the request (LimitBreach) is the handler's to answer, log
//     and count; the connection closes after that answer (the rest of the request is not
//     read).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "http/http_parse.h"

namespace ocsp {

class HttpConnection;

// A limit found while reading the request; the handler answers it (HttpFront::admit).
enum class LimitBreach {
  None,
  Connections,  // this connection is over limits.max_connections (found on accept)
  Headers,      // more header fields than max_headers (amount: the count)
  HeaderBytes,  // a head over max_header_bytes (amount: bytes received, at least)
  Body,         // a body over max_request_bytes (amount: its Content-Length or bytes so far)
  // Chunked trailer fields count against the head's limits (RFC 9112 §7.1.2); amount: head
  // and trailers together, fields or bytes (at least).
  TrailerFields,
  TrailerBytes,
  RequestTimeout,  // head or body not complete within request_timeout (amount: bytes received)
  // Closed to make room for a new connection at max_connections or the open-file ceiling
  // (amount: ms it waited for a complete request).
  Evicted,
  OpenFiles,  // a new connection over the open-file ceiling (amount: its descriptor)
};

// One request and its answer. Valid from HttpHandler::onRequest until reply().
class HttpExchange {
 public:
  std::string_view method() const { return head_->method; }
  std::string_view target() const { return head_->target; }
  // The target up to '?' or '#' (for an origin-form request, its path).
  std::string_view path() const;
  const RequestHead& head() const { return *head_; }
  const HttpHeader* header(std::string_view name) const { return head_->find(name); }
  std::string_view body() const { return body_; }
  std::string_view peer() const;         // "address:port"
  std::string_view peerAddress() const;  // "address"
  LimitBreach breach() const { return breach_; }
  uint64_t breachAmount() const { return breach_amount_; }

  // The answer: header fields first, then reply() once. Content-Length, Date and Connection
  // are added by reply(). The answer carries Connection: close (and the connection closes)
  // when the client asked for it, after a limit breach, while draining, or after
  // closeAfterReply().
  void addHeader(std::string_view name, std::string_view value);
  void closeAfterReply() { close_ = true; }
  // `body` is copied, unless `keep` is given: then `body` must point into memory that `keep`
  // keeps alive; it is held until the bytes are written. HEAD, 204 and 304 send no body.
  // `body_rest`, which needs `keep` too, is sent right after `body` (a body held in two parts:
  // a cached answer's own bytes and the certificates it shares with others).
  void reply(int code, std::string_view reason, std::string_view body = {},
             std::shared_ptr<const void> keep = nullptr, std::string_view body_rest = {});

  // What the handler keeps with this request while its answer is pending (a decoded query,
  // when it began), so that its callback captures only the exchange: that fits
  // std::function's inline storage, and an answer costs no heap block for its callback.
  // takeHeld() hands it back (the callback keeps it alive while it answers).
  void hold(std::shared_ptr<const void> state, int64_t since_ms) {
    held_ = std::move(state);
    held_since_ms_ = since_ms;
  }
  std::shared_ptr<const void> takeHeld() { return std::move(held_); }
  int64_t heldSinceMs() const { return held_since_ms_; }

 private:
  friend class HttpConnection;
  explicit HttpExchange(HttpConnection* conn) : conn_(conn) {}
  HttpConnection* conn_;
  const RequestHead* head_ = nullptr;
  std::string_view body_;
  LimitBreach breach_ = LimitBreach::None;
  uint64_t breach_amount_ = 0;
  bool close_ = false;
  std::string extra_headers_;  // "name: value\r\n"..., reused
  std::shared_ptr<const void> held_;
  int64_t held_since_ms_ = 0;
};

class HttpHandler {
 public:
  // The handler replies now or later (from the same loop); exactly once.
  virtual void onRequest(HttpExchange& exchange) = 0;

 protected:
  ~HttpHandler() = default;
};

}  // namespace ocsp
