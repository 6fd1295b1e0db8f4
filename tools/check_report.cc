#include "tools/check_report.h"

#include <string_view>
#include <utility>

#include "core/json.h"
#include "core/log.h"
#include "tools/check.h"

namespace ocsp::check {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

std::string timeOrEmpty(const std::optional<int64_t>& t) { return t ? rfc3339(*t) : ""; }

// Builds one JSON object; values are passed already encoded.
class JsonObject {
 public:
  JsonObject& raw(std::string_view key, std::string_view json) {
    body_ += body_.empty() ? "" : ",";
    body_ += jsonString(key) + ":" + std::string(json);
    return *this;
  }
  JsonObject& text(std::string_view key, std::string_view s) {  // "" -> null
    return raw(key, s.empty() ? "null" : jsonString(s));
  }
  JsonObject& time(std::string_view key, const std::optional<int64_t>& t) {
    return raw(key, t ? jsonString(rfc3339(*t)) : "null");
  }
  std::string str() const { return "{" + body_ + "}"; }

 private:
  std::string body_;
};

std::string jsonErrorOf(const std::optional<Error>& e, const std::string& stage) {
  if (!e) return "null";
  JsonObject o;
  if (!stage.empty()) o.text("stage", stage);
  return o.text("code", e->code).text("detail", e->detail).str();
}

}  // namespace

void addFlag(Report& r, std::string flag) {
  for (const auto& f : r.flags) {
    if (f == flag) return;
  }
  r.flags.push_back(std::move(flag));
}

int exitCodeFor(const Report& r) {
  if (r.error || !r.validated) return kExitError;
  switch (r.validated->status) {
    case CertStatus::Good:
      return kExitGood;
    case CertStatus::Revoked:
      return kExitRevoked;
    case CertStatus::Unknown:
      return kExitUnknown;
  }
  return kExitError;
}

void printText(const Report& r, FILE* out) {
  auto line = [out](const char* label, const std::string& value) {
    if (!value.empty()) std::fprintf(out, "%-15s %s\n", label, value.c_str());
  };
  line("certificate:", r.cert_subject);
  line("serial:", r.cert_serial);
  if (!r.issuer_subject.empty()) {
    line("issuer:", r.issuer_subject + " (" + r.issuer_source + " " + r.issuer_origin + ")");
  }
  line("issuer trust:", r.issuer_trust_detail);
  line("responder url:", r.responder_url);
  line("route:", r.route == "proxy" ? "via proxy " + r.proxy_url : r.route);
  line("certid hash:", r.hash);
  line("http status:", r.http_status ? std::to_string(*r.http_status) : "");
  line("ocsp status:", r.response_status);
  if (r.cert_status) {
    line("cert status:",
         std::string(certStatusName(*r.cert_status)) + (r.validated ? "" : " (not validated)"));
  }
  line("revoked at:", timeOrEmpty(r.revoked_at));
  line("reason:", r.revocation_reason);
  line("this update:", timeOrEmpty(r.this_update));
  if (r.cert_status) line("next update:", r.next_update ? rfc3339(*r.next_update) : "(none)");
  line("produced at:", timeOrEmpty(r.produced_at));
  if (!r.signer.empty()) {
    const char* kind = !r.validated             ? ""
                       : r.validated->delegated ? " (delegated responder)"
                                                : " (the issuer)";
    line("signer:", r.signer + kind);
  }
  line("elapsed:", r.elapsed_ms ? std::to_string(*r.elapsed_ms) + " ms" : "");
  if (r.validated) line("validation:", "ok");
  if (r.validation_error) {
    line("validation:", "failed: " + r.validation_error->code + ": " + r.validation_error->detail);
  }
  line("flags:", r.flags.empty() ? "none" : join(r.flags));
}

void printJson(const Report& r, int exit_code, FILE* out) {
  JsonObject o;
  o.raw("certificate",
        r.cert_subject.empty()
            ? "null"
            : JsonObject().text("subject", r.cert_subject).text("serial", r.cert_serial).str());
  o.raw("issuer", r.issuer_subject.empty() ? "null"
                                           : JsonObject()
                                                 .text("subject", r.issuer_subject)
                                                 .text("source", r.issuer_source)
                                                 .text("origin", r.issuer_origin)
                                                 .time("not_after", r.issuer_not_after)
                                                 .raw("trusted", !r.issuer_trusted   ? "null"
                                                                 : *r.issuer_trusted ? "true"
                                                                                     : "false")
                                                 .text("trust_detail", r.issuer_trust_detail)
                                                 .str());
  o.text("responder_url", r.responder_url).text("route", r.route).text("proxy", r.proxy_url);
  o.text("certid_hash", r.hash);
  o.raw("http_status", r.http_status ? std::to_string(*r.http_status) : "null");
  o.text("response_status", r.response_status);
  o.text("cert_status", r.cert_status ? certStatusName(*r.cert_status) : "");
  o.time("revocation_time", r.revoked_at).text("revocation_reason", r.revocation_reason);
  o.time("this_update", r.this_update).time("next_update", r.next_update);
  o.time("produced_at", r.produced_at);
  o.text("signer", r.signer);
  o.raw("delegated", !r.validated ? "null" : r.validated->delegated ? "true" : "false");
  o.raw("elapsed_ms", r.elapsed_ms ? std::to_string(*r.elapsed_ms) : "null");
  o.raw("validation", r.validated          ? JsonObject().text("result", "ok").str()
                      : r.validation_error ? JsonObject()
                                                 .text("result", "failed")
                                                 .text("code", r.validation_error->code)
                                                 .text("detail", r.validation_error->detail)
                                                 .str()
                                           : "null");
  std::string flags;
  for (const auto& f : r.flags) flags += (flags.empty() ? "" : ",") + jsonString(f);
  o.raw("flags", "[" + flags + "]");
  o.raw("error", jsonErrorOf(r.error, r.error_stage));
  o.raw("exit_code", std::to_string(exit_code));
  std::fprintf(out, "%s\n", o.str().c_str());
}

}  // namespace ocsp::check
