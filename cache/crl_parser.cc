#include "cache/crl_parser.h"

#include "core/log.h"

namespace ocsp {

void CrlParser::parse(const std::string& url, std::string bytes, CrlReply done) {
  queue_.post([this, url, bytes = std::move(bytes), done = std::move(done)]() mutable {
    std::vector<SharedX509> candidates =
        rules_.candidates ? rules_.candidates() : std::vector<SharedX509>{};
    CrlCheckInput in;
    in.bytes = bytes;
    in.candidates = &candidates;
    in.trust_store = rules_.trust_store;
    in.now = clock_.now();
    in.clock_skew_s = rules_.clock_skew_s;
    const int64_t started = monotonicMs();
    auto parsed = parseAndValidateCrl(in);
    const int64_t took = monotonicMs() - started;
    crl_thread_.post([this, url, bytes = std::move(bytes), parsed = std::move(parsed), took,
                      done = std::move(done)]() mutable {
      if (parsed) {
        logEvent(LogLevel::Debug, "crl_parsed",
                 {{"url", url},
                  {"entries", std::to_string(parsed->revoked.size())},
                  {"parse_ms", std::to_string(took)}});
      }
      done(makeEntry(url, std::move(bytes), std::move(parsed)));
    });
  });
}

Result<std::shared_ptr<const CrlEntry>> CrlParser::makeEntry(const std::string& url,
                                                             std::string bytes,
                                                             Result<ParsedCrl> parsed) const {
  if (!parsed) return parsed.error();
  if (!parsed->signature_checked && rules_.unknown_issuer == conf::UnknownIssuerPolicy::Refuse) {
    return makeError(ErrorCategory::ValidationFailed, "unknown_issuer",
                     "no configured or trusted certificate signs CRLs for " + parsed->issuer);
  }
  auto entry = std::make_shared<CrlEntry>();
  entry->url = url;
  entry->fetched_at = clock_.now();
  entry->crl = std::move(*parsed);
  entry->bytes = std::move(bytes);  // before finishCrlEntry: the ETag is the bytes' hash
  finishCrlEntry(*entry, rules_.no_next_update_ttl_s, rules_.refresh_fraction);
  return std::shared_ptr<const CrlEntry>(std::move(entry));
}

void logCrlFetched(const CrlEntry& entry, const char* source) {
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
