#pragma once
// Minimal JSON output for the revocation log and /status: strings escaped per RFC 8259 §7,
// and a byte that is not well-formed UTF-8 written as the text \xNN (core/utf8.h), so that
// every string is valid JSON whatever bytes it came with.
#include <string>
#include <string_view>

namespace ocsp {

// Appends `s` as a quoted JSON string.
void appendJsonString(std::string& out, std::string_view s);

inline std::string jsonString(std::string_view s) {
  std::string out;
  appendJsonString(out, s);
  return out;
}

}  // namespace ocsp
