#pragma once
// The pure half of `ocsp-proxy egress test` (tools/egress_test.h): what one probe of a host
// found (EgressFacts, filled by tools/egress_probe.h) becomes a verdict and a cause in words,
// and the rows become the table or the JSON document the network team reads. No I/O.
//
// A host passes only when the whole path works for what the proxy does there:
//   - DNS gave at least one address (or the config's `resolve:` map names one);
//   - the TCP connection (and TLS, for https) was made;
//   - OCSP upstream: HTTP 200 and a body that parses as one OCSPResponse (RFC 6960 §4.2.1),
//     whatever its responseStatus: a real responder asked about a serial it does not know,
//     or an issuer it does not serve, answers `unauthorized`, and that still proves the path;
//   - CRL host: HTTP 200 and a CertificateList (RFC 5280 §5.1), DER or PEM; only the first
//     bytes of a large CRL are read, and their structure is checked up to thisUpdate;
//   - caIssuers host: HTTP 200 and a certificate or PKCS#7 bundle (pki/ca_issuers_document.h);
//   - a CRL or caIssuers host for which the config names no URL: any HTTP answer to `/`
//     (nothing to check the content against; the cause says so);
//   - Redis: PONG to PING (after AUTH when redis.password is set).
// Pure functions; thread-safe.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ocsp::tools {

enum class EgressKind { Ocsp, Crl, Aia, Redis };

// How the connection and the exchange ended, before any content is looked at.
enum class EgressTransport {
  Answered,        // an HTTP response (any status) or a Redis reply came back
  DnsFailed,       // no address: `dns_error` says why
  DnsTimeout,      // the lookup did not finish within the timeout
  Refused,         // every address refused the connection (RST)
  ConnectFailed,   // unreachable, no route, ...: `detail` says which
  ConnectTimeout,  // no connection within the timeout
  AnswerTimeout,   // connected, no (complete) answer within the timeout
  Closed,          // connected, the peer closed or reset before answering: `detail`
  Tls,             // the TLS handshake failed: `detail`
  Other,           // anything else: `detail`
};

struct EgressFacts {
  EgressKind kind = EgressKind::Ocsp;
  EgressTransport transport = EgressTransport::Answered;
  std::string dns_error;  // DnsFailed: "no address" or the resolver's message
  std::string detail;     // ConnectFailed, Closed, Tls, Other
  int64_t timeout_ms = 0;
  // HTTP (transport Answered)
  bool path_known = true;  // false: the config names no URL on this host; `/` was asked
  long http_status = 0;
  std::string content_type;  // "" when the answer had none
  std::string body;          // what was read: all of it, or the first bytes when `truncated`
  bool truncated = false;    // the answer was longer than what was read
  int64_t body_bytes = 0;    // the answer's size (Content-Length when known, else bytes read)
  // Redis (transport Answered)
  std::string redis_reply;  // "PONG", or the error reply ("NOAUTH Authentication required.")
};

struct EgressVerdict {
  bool ok = false;
  std::string cause;  // "OCSP answer: successful", "connect refused", "HTTP 503", ...
};

EgressVerdict judgeEgress(const EgressFacts& facts);

// The responseStatus name ("successful", "unauthorized", ...) if `body` is exactly one
// OCSPResponse; "" if it is not.
std::string ocspResponseStatusOf(std::string_view body);
// True if `body` is a CRL: a whole DER or PEM CertificateList, or when `truncated`, the first
// bytes of one (DER structure up to thisUpdate; a PEM "X509 CRL" header).
bool looksLikeCrl(std::string_view body, bool truncated);

struct EgressRow {
  std::string host;
  uint16_t port = 0;
  std::string purpose;                 // as firewall-list names it
  std::string url;                     // what was asked ("" for Redis)
  std::vector<std::string> addresses;  // what the name resolved to, A before AAAA
  std::string resolved_by;             // "dns", "resolve" (the config's map), "literal"
  EgressVerdict verdict;
  int64_t elapsed_ms = 0;
};

// A fixed-width table, one row per host (HOST PORT PURPOSE ADDRESSES VERDICT TIME CAUSE), then
// one summary line. Ends with a newline.
std::string renderEgressTable(const std::vector<EgressRow>& rows);
// One JSON object: {"ok", "failed", "timeout_ms", "hosts": [{host, port, purpose, url,
// addresses, resolved_by, verdict ("ok"|"FAIL"), cause, elapsed_ms}]}. Ends with a newline.
std::string renderEgressJson(const std::vector<EgressRow>& rows, int64_t timeout_ms);

}  // namespace ocsp::tools
