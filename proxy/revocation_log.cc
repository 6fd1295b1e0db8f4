#include "proxy/revocation_log.h"

#include <fcntl.h>
#include <openssl/ocsp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/json.h"
#include "core/log.h"

namespace ocsp {

namespace {

constexpr size_t kFlushAtBytes = 64 * 1024;

void field(std::string& out, const char* name) {
  if (out.size() > 1) out.push_back(',');
  out.push_back('"');
  out += name;
  out += "\":";
}

void stringField(std::string& out, const char* name, std::string_view value) {
  field(out, name);
  appendJsonString(out, value);
}

void nullableField(std::string& out, const char* name, const char* value) {
  field(out, name);
  if (value == nullptr) {
    out += "null";
  } else {
    appendJsonString(out, value);
  }
}

int openAppend(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

}  // namespace

const char* crlReasonName(int reason) {
  // RFC 5280 §5.3.1; 7 is not used.
  static const char* names[] = {"unspecified",          "keyCompromise",  "cACompromise",
                                "affiliationChanged",   "superseded",     "cessationOfOperation",
                                "certificateHold",      nullptr,          "removeFromCRL",
                                "privilegeWithdrawn",   "aACompromise"};
  if (reason < 0 || reason >= static_cast<int>(sizeof(names) / sizeof(names[0]))) return nullptr;
  return names[reason];
}

std::string formatRevocationRecord(const RevocationRecord& r) {
  std::string out = "{";
  out.reserve(512);
  stringField(out, "time", rfc3339Ms(r.time_ms));
  stringField(out, "client", r.client);
  stringField(out, "mode", r.mode == Mode::Forward ? "forward" : "responder");
  stringField(out, "upstream", r.upstream);
  stringField(out, "upstream_fqdn", r.upstream_fqdn);
  stringField(out, "issuer", r.issuer);
  const bool have_id = r.cert_id != nullptr;
  stringField(out, "issuer_key_hash", have_id ? toHex(r.cert_id->issuer_key_hash) : "");
  stringField(out, "hash", have_id ? OBJ_nid2ln(r.cert_id->hash_nid) : "");  // "sha1", "sha256"
  stringField(out, "serial", have_id ? toHex(r.cert_id->serial) : "");
  const bool error = !r.error.empty();
  stringField(out, "status", error ? "error" : certStatusName(r.status));
  const bool revoked = !error && r.status == CertStatus::Revoked && r.revocation;
  std::string when = revoked ? rfc3339(r.revocation->time) : "";
  nullableField(out, "revocation_time", revoked ? when.c_str() : nullptr);
  nullableField(out, "revocation_reason", revoked ? crlReasonName(r.revocation->reason) : nullptr);
  nullableField(out, "source", !error && r.source ? answerSourceName(*r.source) : nullptr);
  std::string validation = error ? "error:" + std::string(r.error) : r.validated ? "ok" : "unvalidated";
  stringField(out, "validation", validation);
  field(out, "issuer_revoked");
  out += r.issuer_revoked ? "true" : "false";
  field(out, "latency_ms");
  out += std::to_string(r.latency_ms);
  out.push_back('}');
  return out;
}

std::vector<std::pair<CertStatus, std::optional<Revocation>>> statusesIn(
    std::string_view der, const std::vector<CertIdInfo>& ids) {
  std::vector<std::pair<CertStatus, std::optional<Revocation>>> out(
      ids.size(), {CertStatus::Unknown, std::nullopt});
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  OcspResponsePtr resp(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  if (!resp) return out;
  OcspBasicRespPtr bs(OCSP_response_get1_basic(resp.get()));
  if (!bs) return out;
  for (int i = 0; i < OCSP_resp_count(bs.get()); ++i) {
    OCSP_SINGLERESP* single = OCSP_resp_get0(bs.get(), i);
    CertIdInfo info;
    if (!certIdInfoFrom(OCSP_SINGLERESP_get0_id(single), &info)) continue;
    int reason = -1;
    ASN1_GENERALIZEDTIME* revoked_at = nullptr;
    int status = OCSP_single_get0_status(single, &reason, &revoked_at, nullptr, nullptr);
    for (size_t k = 0; k < ids.size(); ++k) {
      if (!sameCertId(ids[k], info)) continue;
      if (status == V_OCSP_CERTSTATUS_GOOD) {
        out[k] = {CertStatus::Good, std::nullopt};
      } else if (status == V_OCSP_CERTSTATUS_REVOKED) {
        auto t = asn1ToEpoch(revoked_at);
        out[k] = {CertStatus::Revoked, Revocation{t ? *t : 0, reason}};
      }
    }
  }
  return out;
}

Result<std::unique_ptr<RevocationLog>> RevocationLog::open(const std::string& path) {
  int fd = path == "-" ? ::dup(STDOUT_FILENO) : openAppend(path);
  if (fd < 0) {
    return makeError(ErrorCategory::Config, "revocation_log",
                     "cannot open revocation log " + path + ": " + std::strerror(errno));
  }
  return std::unique_ptr<RevocationLog>(new RevocationLog(path, fd));
}

RevocationLog::~RevocationLog() {
  flush();
  ::close(fd_);
}

void RevocationLog::append(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_ += line;
  pending_.push_back('\n');
  if (pending_.size() >= kFlushAtBytes) flushLocked();
}

void RevocationLog::flush() {
  std::lock_guard<std::mutex> lock(mu_);
  flushLocked();
}

void RevocationLog::flushLocked() {
  size_t done = 0;
  while (done < pending_.size()) {
    ssize_t n = ::write(fd_, pending_.data() + done, pending_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (!failing_) {
        logEvent(LogLevel::Error, "revocation_log_write_failed",
                 {{"path", path_}, {"detail", std::strerror(errno)},
                  {"dropped_bytes", std::to_string(pending_.size() - done)}});
      }
      failing_ = true;
      pending_.clear();
      return;
    }
    done += static_cast<size_t>(n);
  }
  failing_ = false;
  pending_.clear();
}

Status RevocationLog::reopen() {
  std::lock_guard<std::mutex> lock(mu_);
  flushLocked();
  if (path_ == "-") return Ok{};
  int fd = openAppend(path_);
  if (fd < 0) {
    return makeError(ErrorCategory::Config, "revocation_log",
                     "cannot reopen revocation log " + path_ + ": " + std::strerror(errno));
  }
  ::close(fd_);
  fd_ = fd;
  return Ok{};
}

}  // namespace ocsp
