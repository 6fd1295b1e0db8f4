#include "http/http_exchange.h"

#include "http/http_connection.h"

namespace ocsp {

std::string_view HttpExchange::path() const {
  std::string_view t = head_->target;
  return t.substr(0, t.find_first_of("?#"));
}

std::string_view HttpExchange::peer() const { return conn_->peer_; }
std::string_view HttpExchange::peerAddress() const { return conn_->peer_address_; }

void HttpExchange::addHeader(std::string_view name, std::string_view value) {
  extra_headers_.append(name);
  extra_headers_.append(": ");
  extra_headers_.append(value);
  extra_headers_.append("\r\n");
}

void HttpExchange::reply(int code, std::string_view reason, std::string_view body,
                         std::shared_ptr<const void> keep, std::string_view body_rest) {
  conn_->reply(code, reason, body, std::move(keep), body_rest);
}

}  // namespace ocsp
