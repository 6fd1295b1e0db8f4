#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace ocsp {

// Decodes standard (RFC 4648 §4) or URL-safe (§5) base64; padding optional; no whitespace.
// Mixed alphabets are accepted (clients URL-encode standard base64 inconsistently).
std::optional<std::string> base64Decode(std::string_view in);
std::string base64Encode(std::string_view in);

// Decodes %XX escapes (RFC 3986 §2.1). nullopt on a malformed escape.
std::optional<std::string> percentDecode(std::string_view in);

}  // namespace ocsp
