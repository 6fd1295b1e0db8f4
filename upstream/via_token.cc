#include "upstream/via_token.h"

#include <openssl/rand.h>

#include <random>

namespace ocsp {

namespace {

std::string makeToken() {
  unsigned char bytes[8];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // Uniqueness, not secrecy, is what the token is for: another source will do.
    std::random_device rd;
    for (unsigned char& b : bytes) b = static_cast<unsigned char>(rd());
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token = "ocsp-proxy-";
  for (unsigned char b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 0xf];
  }
  return token;
}

bool isSpace(char c) { return c == ' ' || c == '\t'; }

}  // namespace

const std::string& viaReceivedBy() {
  static const std::string token = makeToken();
  return token;
}

const std::string& viaHeaderValue() {
  static const std::string value = "1.1 " + viaReceivedBy();
  return value;
}

bool viaLists(std::string_view via, std::string_view received_by) {
  size_t i = 0;
  while (i < via.size()) {
    // One list element: received-protocol RWS received-by [ RWS comment ].
    while (i < via.size() && (isSpace(via[i]) || via[i] == ',')) ++i;
    int word = 0;
    while (i < via.size() && via[i] != ',') {
      if (isSpace(via[i])) {
        ++i;
        continue;
      }
      if (via[i] == '(') {
        // A comment (may nest, may hold commas and quoted-pairs): skipped whole.
        int depth = 0;
        for (; i < via.size(); ++i) {
          if (via[i] == '\\') {
            ++i;
          } else if (via[i] == '(') {
            ++depth;
          } else if (via[i] == ')' && --depth == 0) {
            ++i;
            break;
          }
        }
        continue;
      }
      size_t start = i;
      while (i < via.size() && via[i] != ',' && via[i] != '(' && !isSpace(via[i])) ++i;
      if (++word == 2 && via.substr(start, i - start) == received_by) return true;
    }
  }
  return false;
}

}  // namespace ocsp
