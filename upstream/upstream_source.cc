#include "upstream/upstream_source.h"

#include "core/log.h"
#include "pki/validator.h"
#include "upstream/answer_entry.h"

namespace ocsp {

namespace {

// Validation failures that depend on what the client asked rather than on the CA: an answer
// that carries another nonce than the client's, or that does not cover exactly the CertIDs
// asked (responders that answer one CertID per request, or only SHA-1 CertIDs). They are checked after the signature.
bool failsBecauseOfRequest(const Error& err) {
  return err.reason == Reason::NonceMismatch || err.reason == Reason::CertIdMismatch;
}

}  // namespace

struct UpstreamSource::Attempt {
  Lookup lookup;
  Reply done;
  const conf::Upstream* upstream = nullptr;
  std::string body;
  size_t fqdn_index = 0;   // FQDN being asked
  size_t next_index = 0;   // next FQDN to consider
  size_t skipped = 0;      // FQDNs skipped because their circuit was open
  bool any_answered = false;  // some FQDN answered 200 but its answer did not validate
  std::string last_reason;
  std::string fqdn() const { return upstream->fqdns[fqdn_index]; }
  const OcspQuery& query() const { return *lookup.query; }
  void answer(Result<Answer> result) { done(lookup, std::move(result)); }
};

UpstreamSource::UpstreamSource(Options options, Fetcher& fetcher, FqdnHealth& health,
                               const Clock& clock, AiaCompleter* completer, Metrics* metrics,
                               NonceEcho* nonce_echo)
    : options_(std::move(options)),
      fetcher_(fetcher),
      completer_(completer),
      metrics_(metrics),
      nonce_echo_(nonce_echo),
      health_(health),
      clock_(clock) {}

void UpstreamSource::lookup(Lookup lookup, Reply done) {
  auto attempt = std::make_shared<Attempt>();
  const OcspQuery& query = *lookup.query;
  attempt->upstream = &options_.upstreams.at(lookup.route->upstream_index);
  attempt->body = lookup.passthrough ? query.request_der : encodeOcspRequest(query.cert_ids);
  attempt->lookup = std::move(lookup);
  attempt->done = std::move(done);
  if (attempt->body.empty()) {
    attempt->answer(
        makeError(ErrorCategory::Internal, "encode_failed", "cannot encode upstream request"));
    return;
  }
  tryNext(std::move(attempt));
}

// Sends to the next FQDN whose circuit allows it, or reports the failure once none is left.
void UpstreamSource::tryNext(std::shared_ptr<Attempt> attempt) {
  const auto& fqdns = attempt->upstream->fqdns;
  while (attempt->next_index < fqdns.size()) {
    // Forward mode starts at the FQDN the client named, then fails over in config order.
    size_t i = (attempt->lookup.route->first_fqdn + attempt->next_index++) % fqdns.size();
    if (health_.allow(fqdns[i], monotonicMs())) {
      attempt->fqdn_index = i;
      send(std::move(attempt));
      return;
    }
    ++attempt->skipped;
    if (attempt->last_reason.empty()) attempt->last_reason = "circuit open for " + fqdns[i];
  }
  logEvent(LogLevel::Warn, "upstream_failed",
           {{"upstream", attempt->upstream->name},
            {"client", attempt->query().client},
            {"reason", attempt->last_reason},
            {"skipped_open_circuits", std::to_string(attempt->skipped)}});
  attempt->answer(makeError(attempt->any_answered ? ErrorCategory::ValidationFailed
                                                  : ErrorCategory::UpstreamUnavailable,
                            "upstream_failed",
                            "every FQDN of upstream " + attempt->upstream->name +
                                " failed; last: " + attempt->last_reason));
}

void UpstreamSource::send(std::shared_ptr<Attempt> attempt) {
  const conf::Upstream& up = *attempt->upstream;
  const std::string& fqdn = up.fqdns[attempt->fqdn_index];
  FetchRequest req;
  req.url = up.scheme + "://" + fqdn + ":" + std::to_string(up.port) + up.path;
  req.post_body = attempt->body;
  req.content_type = "application/ocsp-request";
  req.timeout_ms = options_.timeout_ms;
  req.max_response_bytes = options_.max_response_bytes;
  pinAddress(req, options_.resolve, fqdn, up.port);
  if (metrics_ != nullptr) metrics_->counter(Metric::UpstreamRequests, {up.name, fqdn}).inc();
  fetcher_.fetch(std::move(req), [this, attempt](FetchResult result) mutable {
    onFetched(std::move(attempt), std::move(result));
  });
}

void UpstreamSource::onFetched(std::shared_ptr<Attempt> attempt, FetchResult result) {
  const std::string fqdn = attempt->fqdn();
  std::string transport_problem;
  if (result.too_large) {
    transport_problem = "response larger than " +
                        std::to_string(options_.max_response_bytes) + " bytes";
  } else if (!result.ok()) {
    transport_problem = result.error;
  } else if (result.http_status != 200) {
    transport_problem = "HTTP status " + std::to_string(result.http_status);
  }
  if (metrics_ != nullptr) {
    metrics_->histogram(Metric::UpstreamLatency, {fqdn})
        .observe(static_cast<double>(result.elapsed_ms) / 1000.0);
    if (!transport_problem.empty()) {
      const char* kind = result.too_large ? "too_large" : !result.ok() ? "transport" : "http_status";
      metrics_->counter(Metric::UpstreamErrors, {attempt->upstream->name, fqdn, kind}).inc();
      if (result.too_large) {
        metrics_->counter(Metric::LimitRejections, {"upstream_response_bytes"}).inc();
      }
    }
  }
  if (!transport_problem.empty()) {
    logEvent(LogLevel::Warn, "upstream_attempt_failed",
             {{"upstream", attempt->upstream->name},
              {"fqdn", fqdn},
              {"reason", transport_problem},
              {"elapsed_ms", std::to_string(result.elapsed_ms)}});
    attempt->last_reason = transport_problem;
    health_.failure(fqdn, monotonicMs());
    tryNext(std::move(attempt));
    return;
  }

  const Lookup& l = attempt->lookup;
  if (l.route->issuer) {
    validateAndAnswer(std::move(attempt), std::move(result), l.route->issuer.get(), false);
    return;
  }
  // Issuer unknown (docs/ARCHITECTURE.md §9): an answer that fails even the checks that need no
  // issuer (an error status such as unauthorized, garbage, expired) is handled as such at
  // once: there is nothing to complete, and a failed completion would be remembered against
  // the issuer.
  if (!passesWithoutIssuer(*attempt, result.body)) {
    validateAndAnswer(std::move(attempt), std::move(result), nullptr, true);
    return;
  }
  // Complete the issuer through AIA, else apply forward.unknown_issuer (discovery: refuse).
  const bool discovering = l.route->discover;
  auto completed = [this, attempt, result,
                    discovering](Result<std::shared_ptr<const Route>> route) mutable {
    // The FQDN answered over HTTP. The answers refused below say nothing about its health,
    // but they may be the circuit's probe, which must end either way (else the circuit
    // stays half open and the FQDN is skipped until a restart).
    auto responderAnswered = [this, &attempt] { health_.success(attempt->fqdn()); };
    if (route && !(*route)->distrusted_as.empty() &&
        distrustStage(attempt->query(), **route) == conf::DistrustStage::Enforce) {
      responderAnswered();
      logEvent(LogLevel::Warn, "distrusted_issuer",
               {{"client", attempt->query().client}, {"issuer", (*route)->issuer_name},
                {"distrust", (*route)->distrusted_as}});
      attempt->answer(makeError(ErrorCategory::Unauthorized, "distrusted_issuer",
                                (*route)->issuer_name + " is distrusted"));
      return;
    }
    if (route) {
      validateAndAnswer(std::move(attempt), std::move(result), (*route)->issuer.get(), false);
      return;
    }
    if (options_.unknown_issuer == conf::UnknownIssuerPolicy::Refuse || discovering) {
      responderAnswered();
      // A discovery sums up its upstreams' refusals in one line of its own.
      if (!discovering) {
        logEvent(LogLevel::Warn, "unknown_issuer_refused",
                 {{"client", attempt->query().client},
                  {"upstream", attempt->upstream->name},
                  {"reason", route.error().code}});
      }
      attempt->answer(makeError(ErrorCategory::Unauthorized, "unknown_issuer",
                                "issuer unknown and not completed: " + route.error().detail));
      return;
    }
    validateAndAnswer(std::move(attempt), std::move(result), nullptr, true);
  };
  if (completer_ == nullptr) {
    completed(makeError(ErrorCategory::Unauthorized, "no_completer", "AIA completion is off"));
    return;
  }
  completer_->complete(result.body, l.query->cert_ids.front(), l.route->upstream_index,
                       discovering ? LearnedFrom::Discovery : LearnedFrom::Aia,
                       std::move(completed));
}

conf::DistrustStage UpstreamSource::distrustStage(const OcspQuery& query,
                                                  const Route& route) const {
  const conf::DistrustStage stage =
      conf::decideDistrust(options_.distrust, route.distrusted_as, query.client_address,
                           clock_.now())
          .stage;
  if (metrics_ != nullptr) {
    metrics_->counter(Metric::DistrustRequests,
                      {route.distrusted_as, conf::distrustStageName(stage)}).inc();
  }
  if (stage != conf::DistrustStage::Enforce) {
    logEvent(stage == conf::DistrustStage::Warn ? LogLevel::Error : LogLevel::Warn,
             "distrust_pending",
             {{"client", query.client}, {"issuer", route.issuer_name},
              {"distrust", route.distrusted_as}, {"stage", conf::distrustStageName(stage)}});
  }
  return stage;
}

bool UpstreamSource::passesWithoutIssuer(const Attempt& attempt, const std::string& der) const {
  ValidationInput in;
  in.der = der;
  in.cert_ids = &attempt.query().cert_ids;
  in.without_issuer = true;
  in.now = clock_.now();
  in.clock_skew_s = options_.clock_skew_s;
  if (attempt.lookup.passthrough) in.expected_nonce = attempt.query().nonce;
  return validateResponse(in).ok();
}

// `issuer` validates the answer; with `unvalidated` (forward.unknown_issuer: pass) there is
// none and every check but the signature applies, and the answer is marked not cacheable.
void UpstreamSource::validateAndAnswer(std::shared_ptr<Attempt> attempt, FetchResult result,
                                       X509* issuer, bool unvalidated) {
  const std::string fqdn = attempt->fqdn();
  const OcspQuery& q = attempt->query();
  ValidationInput in;
  in.der = result.body;
  in.cert_ids = &q.cert_ids;
  in.issuer = issuer;
  in.without_issuer = unvalidated;
  in.now = clock_.now();
  in.clock_skew_s = options_.clock_skew_s;
  if (attempt->lookup.passthrough) in.expected_nonce = q.nonce;
  auto validated = validateResponse(in);
  if (!validated) {
    const Error& err = validated.error();
    if (err.reason == Reason::UpstreamStatus &&
        err.category != ErrorCategory::UpstreamUnavailable) {
      // The CA's responder refused this request; another FQDN of the same CA would too.
      health_.success(fqdn);
      logEvent(LogLevel::Info, "upstream_refused",
               {{"upstream", attempt->upstream->name}, {"fqdn", fqdn}, {"detail", err.detail}});
      attempt->answer(err);
      return;
    }
    if (metrics_ != nullptr) {
      metrics_->counter(Metric::ValidationFailures, {err.code}).inc();
      metrics_->counter(Metric::UpstreamErrors, {attempt->upstream->name, fqdn, "validation"}).inc();
    }
    if (failsBecauseOfRequest(err)) {
      // The CA answered (and signed, where an issuer is known: these checks come after the
      // signature's); what it answered does not fit what this client asked. That says
      // nothing about the FQDN's health, or any client could open its circuit; another FQDN
      // of the same CA would answer the same way.
      health_.success(fqdn);
      logEvent(LogLevel::Info, "upstream_validation_failed",
               {{"upstream", attempt->upstream->name},
                {"fqdn", fqdn},
                {"reason", err.code},
                {"blame", "request"},
                {"client", q.client},
                {"detail", err.detail}});
      attempt->answer(err);
      return;
    }
    logEvent(LogLevel::Warn, "upstream_validation_failed",
             {{"upstream", attempt->upstream->name},
              {"fqdn", fqdn},
              {"reason", err.code},
              {"detail", err.detail}});
    attempt->any_answered =
        attempt->any_answered ||
        (err.reason != Reason::Unparsable && err.reason != Reason::UpstreamStatus);
    attempt->last_reason = err.code;
    health_.failure(fqdn, monotonicMs());
    tryNext(std::move(attempt));
    return;
  }

  health_.success(fqdn);
  if (attempt->lookup.passthrough && nonce_echo_ != nullptr && !unvalidated) {
    nonce_echo_->answered(attempt->upstream->name, validated->nonce_echoed);
  }
  AnswerOrigin origin;
  origin.fetched_at = in.now;
  origin.fqdn = fqdn;
  // An answer that echoes this client's nonce is its own; one without (the CA ignored the
  // nonce) is the same answer any client gets, and is shared.
  origin.cacheable = !validated->nonce_echoed && !unvalidated;
  origin.validated = !unvalidated;
  std::shared_ptr<const OcspEntry> entry =
      sealValidatedAnswer(result.body, *validated, origin, options_.freshness);
  if (unvalidated) {
    logEvent(LogLevel::Warn, "unvalidated_answer",
             {{"client", q.client},
              {"upstream", attempt->upstream->name},
              {"fqdn", fqdn},
              {"issuer_key_hash", toHex(q.cert_ids.front().issuer_key_hash)},
              {"serial", toHex(q.cert_ids.front().serial)},
              {"status", certStatusName(entry->status)},
              {"why", "issuer unknown (forward.unknown_issuer: pass); forwarded uncached"}});
  }
  logEvent(LogLevel::Debug, "upstream_answer",
           {{"upstream", attempt->upstream->name},
            {"fqdn", fqdn},
            {"status", certStatusName(entry->status)},
            {"elapsed_ms", std::to_string(result.elapsed_ms)}});
  attempt->answer(Answer{std::move(entry), AnswerSource::Upstream});
}

}  // namespace ocsp
