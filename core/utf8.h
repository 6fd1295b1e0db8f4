#pragma once
// UTF-8 well-formedness (RFC 3629 §4) and the one rule every log of the proxy follows for
// bytes that are not text. Values in the logs come partly from outside (a client's URL, an
// FQDN or issuer name read from Redis or an upstream), so they may hold any byte.
//
// The escaping rule, the same in the logfmt log (core/log.h) and the JSON Lines revocation
// log (proxy/revocation_log.h), and in what `ocsp-proxy report` shows:
//   - well-formed UTF-8 is written as it is (an issuer "CN=Société" stays readable);
//   - a byte that is not part of a well-formed UTF-8 sequence (e.g. Latin-1 0xE9, a lone
//     continuation byte, an overlong form, a surrogate) becomes the four characters \xNN,
//     two lower-case hex digits;
//   - control characters (U+0000..U+001F, U+007F) are escaped as well: \xNN in logfmt, and
//     JSON's own \n \r \t \u00NN in the revocation log.
// In logfmt a literal backslash is written \\, so \xNN there always means a byte. In JSON the
// four characters are the string's content (written "\\xNN" in the JSON text), so a decoded
// value holds them; the log never holds a raw invalid byte, and every line stays valid JSON.
#include <cstddef>
#include <string>
#include <string_view>

namespace ocsp {

// Length of the well-formed UTF-8 sequence at s[0] (RFC 3629 §4, Unicode Table 3-7), 0 if
// ill-formed or `s` is empty.
size_t utf8SequenceLength(std::string_view s);

// Appends \xNN for `byte`.
void appendByteEscape(std::string& out, unsigned char byte);

}  // namespace ocsp
