#include "cache/crl_parser.h"

#include "core/log.h"

namespace ocsp {

void CrlParser::parse(const std::string& url, std::string bytes, CrlReply done) {
  queue_.post([this, url, bytes = std::move(bytes), done = std::move(done)]() mutable {
    const int64_t started = monotonicMs();
    auto checked = checkDocument(rules_, bytes, clock_.now());
    const int64_t took = monotonicMs() - started;
    crl_thread_.post([this, url, bytes = std::move(bytes), checked = std::move(checked), took,
                      done = std::move(done)]() mutable {
      if (checked) {
        logEvent(LogLevel::Debug, docEvent(rules_.kind, "parsed"),
                 {{"url", url},
                  {"entries", std::to_string((*checked)->crl.revoked.size())},
                  {"parse_ms", std::to_string(took)}});
      }
      done(makeEntry(url, std::move(bytes), std::move(checked)));
    });
  });
}

namespace {

Result<std::shared_ptr<CrlEntry>> checkCrl(const CrlParseRules& rules, std::string_view bytes,
                                           int64_t now) {
  std::vector<SharedX509> candidates =
      rules.candidates ? rules.candidates() : std::vector<SharedX509>{};
  CrlCheckInput in;
  in.bytes = bytes;
  in.candidates = &candidates;
  in.trust_store = rules.trust_store;
  in.now = now;
  in.clock_skew_s = rules.clock_skew_s;
  auto parsed = parseAndValidateCrl(in);
  if (!parsed) return parsed.error();
  if (!parsed->signature_checked && rules.unknown_issuer == conf::UnknownIssuerPolicy::Refuse) {
    return makeError(ErrorCategory::ValidationFailed, "unknown_issuer",
                     "no configured or trusted certificate signs CRLs for " + parsed->issuer);
  }
  auto entry = std::make_shared<CrlEntry>();
  entry->crl = std::move(*parsed);
  return entry;
}

}  // namespace

Result<std::shared_ptr<CrlEntry>> checkDocument(const CrlParseRules& rules, std::string_view bytes,
                                                int64_t now) {
  if (rules.kind == DocKind::Crl) return checkCrl(rules, bytes, now);
  std::vector<SharedX509> certificates;
  auto document = checkCaIssuersDocument(bytes, rules.on_certificates ? &certificates : nullptr);
  if (!document) return document.error();
  if (rules.on_certificates) rules.on_certificates(certificates);
  auto entry = std::make_shared<CrlEntry>();
  entry->kind = DocKind::CaIssuers;
  entry->ca_issuers = std::move(*document);
  return entry;
}

Result<std::shared_ptr<const CrlEntry>> CrlParser::makeEntry(
    const std::string& url, std::string bytes, Result<std::shared_ptr<CrlEntry>> checked) const {
  if (!checked) return checked.error();
  std::shared_ptr<CrlEntry> entry = std::move(*checked);
  entry->url = url;
  entry->fetched_at = clock_.now();
  entry->bytes = std::move(bytes);  // before finishCrlEntry: the ETag is the bytes' hash
  finishCrlEntry(*entry, rules_.ttl_s, rules_.refresh_fraction);
  return std::shared_ptr<const CrlEntry>(std::move(entry));
}

void logCrlFetched(const CrlEntry& entry, const char* source) {
  if (entry.kind == DocKind::CaIssuers) {
    const CaIssuersDocument& d = entry.ca_issuers;
    logEvent(LogLevel::Info, docEvent(entry.kind, "fetched"),
             {{"url", entry.url},
              {"source", source},
              {"bytes", std::to_string(entry.bytes.size())},
              {"content_type", contentTypeOf(d.form)},
              {"certificates", std::to_string(d.certificates)},
              {"subject", d.subject},
              {"not_after", rfc3339(d.not_after)},
              {"expires", rfc3339(entry.hard_expiry)}});
    return;
  }
  logEvent(LogLevel::Info, "crl_fetched",
           {{"url", entry.url},
            {"source", source},
            {"bytes", std::to_string(entry.bytes.size())},
            {"entries", std::to_string(entry.crl.revoked.size())},
            {"issuer", entry.crl.issuer},
            {"signature_checked", entry.crl.signature_checked ? "true" : "false"},
            {"this_update", rfc3339(entry.crl.this_update)},
            {"next_update", entry.crl.next_update ? rfc3339(entry.crl.next_update) : "none"}});
}

}  // namespace ocsp
