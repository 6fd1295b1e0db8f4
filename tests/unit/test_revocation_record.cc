#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
// One revocation-log record (core/revocation_record.h), as the proxy writes it and as
// `ocsp-proxy report` reads it back: the exact bytes of a line, every field read back as it
// was written, and what the reader says when a line does not carry a field by its name.
#include <doctest/doctest.h>
#include <openssl/obj_mac.h>

#include <string>

#include "core/revocation_record.h"
#include "tools/log_record.h"

namespace ocsp {
namespace {

struct Written {
  CertIdInfo id;
  RevocationRecord record;
};

// A revoked answer in forward mode with every field set, or an error when `error` is given.
Written revokedRecord(std::string_view error = {}) {
  Written w;
  w.id.hash_nid = NID_sha256;
  w.id.issuer_key_hash = std::string("\x0a\xbc\xff\x01", 4);
  w.id.issuer_name_hash = std::string(32, '\x22');
  w.id.serial = std::string("\x7f\x00\x10", 3);
  RevocationRecord& r = w.record;
  r.time_ms = 1'795'000'000'123;
  r.client = "[2001:db8::5]:40000";
  r.mode = Mode::Forward;
  r.upstream = "quovadis";
  r.upstream_fqdn = "ocsp.quovadisglobal.com";
  r.issuer = "CN=Quo\"Vadis\" \xc3\xa9,O=QuoVadis";
  r.cert_id = &w.id;
  r.status = CertStatus::Revoked;
  r.revocation = Revocation{1'790'000'000, 1};
  r.source = AnswerSource::Stale;
  r.validated = false;
  r.error = error;
  r.issuer_revoked = true;
  r.latency_ms = 37;
  return w;
}

TEST_CASE("a record is written as one line, its fields in the order of the table, byte for byte") {
  Written w = revokedRecord();
  CHECK(formatRevocationRecord(w.record) ==
        R"({"time":"2026-11-18T11:06:40.123Z","client":"[2001:db8::5]:40000","mode":"forward",)"
        R"("upstream":"quovadis","upstream_fqdn":"ocsp.quovadisglobal.com",)"
        R"("issuer":"CN=Quo\"Vadis\" é,O=QuoVadis","issuer_key_hash":"0abcff01",)"
        R"("hash":"sha256","serial":"7f0010","status":"revoked",)"
        R"("revocation_time":"2026-09-21T14:13:20Z","revocation_reason":"keyCompromise",)"
        R"("source":"stale","validation":"unvalidated","issuer_revoked":true,"latency_ms":37})");
  Written e = revokedRecord("upstream_timeout");
  e.record.cert_id = nullptr;
  e.record.mode = Mode::Responder;
  e.record.upstream_fqdn = "";
  CHECK(formatRevocationRecord(e.record) ==
        R"({"time":"2026-11-18T11:06:40.123Z","client":"[2001:db8::5]:40000","mode":"responder",)"
        R"("upstream":"quovadis","upstream_fqdn":"","issuer":"CN=Quo\"Vadis\" é,O=QuoVadis",)"
        R"("issuer_key_hash":"","hash":"","serial":"","status":"error",)"
        R"("revocation_time":null,"revocation_reason":null,"source":null,)"
        R"("validation":"error:upstream_timeout","issuer_revoked":true,"latency_ms":37})");
}

TEST_CASE("what the writer writes, the reader reads back field by field") {
  Written w = revokedRecord();
  const std::string line = formatRevocationRecord(w.record);

  record::LineParser fields;
  record::Values v;
  const record::Problem problem = fields.parse(line, v);
  REQUIRE_MESSAGE(problem.fault == nullptr, record::describe(problem));
  CHECK(v[record::kTime].str == "2026-11-18T11:06:40.123Z");
  CHECK(v[record::kClient].str == "[2001:db8::5]:40000");
  CHECK(v[record::kMode].str == "forward");
  CHECK(v[record::kUpstream].str == "quovadis");
  CHECK(v[record::kUpstreamFqdn].str == "ocsp.quovadisglobal.com");
  CHECK(v[record::kIssuer].str == "CN=Quo\"Vadis\" \xc3\xa9,O=QuoVadis");
  CHECK(v[record::kIssuerKeyHash].str == "0abcff01");
  CHECK(v[record::kHash].str == "sha256");
  CHECK(v[record::kSerial].str == "7f0010");
  CHECK(v[record::kStatus].str == "revoked");
  CHECK(v[record::kRevocationTime].str == "2026-09-21T14:13:20Z");
  CHECK(v[record::kRevocationReason].str == "keyCompromise");
  CHECK(v[record::kSource].str == "stale");
  CHECK(v[record::kValidation].str == "unvalidated");
  CHECK(v[record::kIssuerRevoked].kind == record::Kind::Bool);
  CHECK(v[record::kIssuerRevoked].flag);
  CHECK(v[record::kLatencyMs].str == "37");

  // The report's reader: the same line as one checked answer.
  report::LogRecordParser reader;
  report::Answer a;
  const report::Problem checked = reader.parse(line, a);
  REQUIRE_MESSAGE(checked.fault == nullptr, report::describe(checked));
  CHECK(a.time_ms == w.record.time_ms);
  CHECK(a.status == report::kRevoked);
  CHECK(a.client == w.record.client);
  CHECK(a.upstream == w.record.upstream);
  CHECK(a.fqdn == w.record.upstream_fqdn);
  CHECK(a.issuer == w.record.issuer);
  CHECK(a.key_hash == "0abcff01");
  CHECK(a.serial == "7f0010");
  CHECK(a.validation == "unvalidated");
  CHECK(a.revocation_ms == w.record.revocation->time * 1000);
  CHECK(a.reason == std::optional<std::string_view>("keyCompromise"));
  CHECK(a.stale);
  CHECK(a.issuer_revoked);
  CHECK_FALSE(a.invalid_utf8);

  // An error record: nulls where the table allows them, read back as such.
  Written e = revokedRecord("upstream_timeout");
  const std::string error_line = formatRevocationRecord(e.record);
  REQUIRE(fields.parse(error_line, v).fault == nullptr);
  CHECK(v[record::kStatus].str == "error");
  CHECK(v[record::kRevocationTime].kind == record::Kind::Null);
  CHECK(v[record::kRevocationReason].kind == record::Kind::Null);
  CHECK(v[record::kSource].kind == record::Kind::Null);
  CHECK(v[record::kValidation].str == "error:upstream_timeout");
  report::Answer ea;  // the report reads each line into a fresh answer
  REQUIRE(reader.parse(error_line, ea).fault == nullptr);
  CHECK(ea.status == report::kError);
  CHECK(ea.reason == std::nullopt);
  CHECK_FALSE(ea.stale);
}

TEST_CASE("a line that carries a field under another name is refused, naming the field") {
  Written w = revokedRecord();
  const std::string line = formatRevocationRecord(w.record);
  report::LogRecordParser reader;
  report::Answer a;
  for (const record::FieldSpec& f : record::kFields) {
    CAPTURE(f.name);
    const std::string name = "\"" + std::string(f.name) + "\":";
    std::string renamed = line;
    const size_t at = renamed.find(name);
    REQUIRE(at != std::string::npos);
    renamed.replace(at, name.size(), "\"" + std::string(f.name) + "_v2\":");
    const report::Problem problem = reader.parse(renamed, a);
    CHECK(report::describe(problem) == "missing field \"" + std::string(f.name) + "\"");
  }
}

}  // namespace
}  // namespace ocsp
