#include "core/json.h"

#include <cstdio>

#include "core/utf8.h"

namespace ocsp {

void appendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      // RFC 8259 §8.1: JSON text is UTF-8. A byte that is not part of well-formed UTF-8 is
      // written as the text \xNN (core/utf8.h), so the line stays valid JSON.
      const size_t n = utf8SequenceLength(s.substr(i));
      if (n == 0) {
        out.push_back('\\');
        appendByteEscape(out, c);
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    ++i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

}  // namespace ocsp
