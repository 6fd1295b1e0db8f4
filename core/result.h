#pragma once
// Errors are values on the request path (STYLE.md): a Result<T> holds either the value or an
// Error whose category picks the HTTP/OCSP answer and metric label, and whose detail goes to
// the log.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace ocsp {

enum class ErrorCategory {
  MalformedRequest,     // client sent something we cannot decode -> OCSP malformedRequest
  Unauthorized,         // no configured upstream/issuer can answer -> OCSP unauthorized
  SigRequired,          // upstream demands a signed request -> OCSP sigRequired
  UpstreamUnavailable,  // every FQDN failed (transport, 5xx, garbage) -> OCSP tryLater
  ValidationFailed,     // upstream answered but the answer did not validate -> tryLater
  Internal,             // our bug or resource failure -> OCSP internalError
  Config,               // configuration problem (start-up / reload only)
};

const char* categoryName(ErrorCategory c);

// Why an upstream answer, a CRL or a certificate chain was refused, for the reasons that code
// elsewhere acts on rather than only logs: every reason of the answer validator
// (pki/validator.h), and a CRL's or a chain's where a caller tells them apart (pki/crl.h
// "expired", pki/issuer_completion.h "untrusted_chain"). reasonName() is the text Error::code
// carries for each: the metric label and log value.
enum class Reason : uint8_t {
  Unparsable,                   // "unparsable"
  UpstreamStatus,               // "upstream_status"
  NotBasic,                     // "not_basic"
  SignerNotFound,               // "signer_not_found"
  ResponderNotIssuedByIssuer,   // "responder_not_issued_by_issuer"
  ResponderMissingOcspSigning,  // "responder_missing_ocsp_signing"
  ResponderCertExpired,         // "responder_cert_expired"
  BadSignature,                 // "bad_signature"
  CertIdMismatch,               // "certid_mismatch"
  ThisUpdateInFuture,           // "this_update_in_future"
  Expired,                      // "expired"
  NonceMismatch,                // "nonce_mismatch"
  UntrustedChain,               // "untrusted_chain"
  Internal,                     // "internal"
};
const char* reasonName(Reason r);

struct Error {
  ErrorCategory category = ErrorCategory::Internal;
  std::string code;    // short machine-readable reason, e.g. "bad_signature" (metric label)
  std::string detail;  // human-readable explanation for the log
  // Set when the error is one of the Reasons (then code is reasonName(*reason)): callers that
  // act on the reason compare this, never the text.
  std::optional<Reason> reason{};
};

inline Error makeError(ErrorCategory c, std::string code, std::string detail = {}) {
  return Error{c, std::move(code), std::move(detail)};
}
inline Error makeError(ErrorCategory c, Reason reason, std::string detail = {}) {
  return Error{c, reasonName(reason), std::move(detail), reason};
}

template <class T>
class Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void> equivalent.
struct Ok {};
using Status = Result<Ok>;

}  // namespace ocsp
