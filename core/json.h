#pragma once
// Minimal JSON output for the revocation log and /status: strings escaped per RFC 8259 §7.
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
