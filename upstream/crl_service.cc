#include "upstream/crl_service.h"

#include "cache/crl_redis_source.h"
#include "cache/redis_connection.h"
#include "pki/crl_status.h"
#include "upstream/curl_fetcher.h"
#include "upstream/known_serials_feed.h"

namespace ocsp {

struct CrlService::Bottom {
  std::unique_ptr<Fetcher> fetcher;
  std::unique_ptr<RedisConnection> redis;
  std::unique_ptr<CrlParser> parser;
  std::unique_ptr<CrlFetchSource> fetch;
  std::unique_ptr<CrlRedisSource> shared;
  EventPtr tick;
};

void CrlService::ToBottom::lookup(CrlQuery query, CrlReply done) {
  if (target != nullptr) target->lookup(std::move(query), std::move(done));
}

CrlService::CrlService(Options options, const IssuerIndex& issuers, X509_STORE* trust_store,
                       CrlStore& store, const Clock& clock, RedisStatus* redis_status,
                       int redis_slot, Metrics* metrics)
    : options_(std::move(options)),
      issuers_(issuers),
      trust_store_(trust_store),
      store_(store),
      clock_(clock),
      redis_status_(redis_status),
      redis_slot_(redis_slot),
      metrics_(metrics),
      base_(newEventBase()),
      mailbox_(base_.get()),
      queue_(options_.bounds, to_bottom_),
      backoff_(store_, clock_, queue_, options_.kind),
      fill_(store_, clock_, backoff_),
      follow_(options_.delta_allowed, mailbox_, refresher_, fill_),
      coalescer_(mailbox_, follow_),
      refresher_(options_.warm_urls, store_, backoff_, coalescer_, clock_),
      memory_(
          store_, clock_, [this](const HttpUrl& url) { refresher_.noteAsked(url); }, coalescer_) {}

CrlService::~CrlService() { stop(); }

void CrlService::start() {
  thread_ = std::thread([this] { run(); });
}

CrlParseRules CrlService::parseRules() const {
  CrlParseRules rules;
  rules.kind = options_.kind;
  rules.candidates = [this] {
    std::vector<SharedX509> candidates = issuers_.allIssuers();
    candidates.insert(candidates.end(), options_.extra_issuers.begin(),
                      options_.extra_issuers.end());
    return candidates;
  };
  rules.trust_store = trust_store_;
  rules.clock_skew_s = options_.clock_skew_s;
  rules.unknown_issuer = options_.unknown_issuer;
  rules.ttl_s =
      options_.kind == DocKind::Crl ? options_.no_next_update_ttl_s : options_.ca_issuers_ttl_s;
  rules.refresh_fraction = options_.refresh_fraction;
  if (options_.kind == DocKind::CaIssuers && options_.known_serials != nullptr) {
    rules.on_certificates = [this, candidates = rules.candidates](
                                const std::vector<SharedX509>& certificates) {
      const std::vector<SharedX509> cas = candidates();
      for (const SharedX509& cert : certificates) {
        addUnderIssuer(*options_.known_serials, cert.get(), cas, trust_store_);
      }
    };
  }
  return rules;
}

void CrlService::run() {
  Bottom b;
  b.fetcher = options_.make_fetcher ? options_.make_fetcher(base_.get())
                                    : std::make_unique<CurlFetcher>(base_.get());
  b.parser = std::make_unique<CrlParser>(parseRules(), clock_, mailbox_);
  b.fetch = std::make_unique<CrlFetchSource>(options_.fetch, *b.fetcher, *b.parser, metrics_);
  to_bottom_.target = b.fetch.get();
  if (options_.redis && redis_status_ != nullptr) {
    b.redis = std::make_unique<RedisConnection>(base_.get(), *options_.redis, *redis_status_,
                                                redis_slot_);
    b.shared =
        std::make_unique<CrlRedisSource>(*b.redis, *options_.redis, *b.parser, clock_, *b.fetch);
    to_bottom_.target = b.shared.get();
  }
  b.tick.reset(event_new(
      base_.get(), -1, EV_PERSIST,
      [](evutil_socket_t, short, void* self) { static_cast<CrlRefresher*>(self)->tick(); },
      &refresher_));
  const timeval period{static_cast<time_t>(options_.tick_ms / 1000),
                       static_cast<suseconds_t>(options_.tick_ms % 1000 * 1000)};
  event_add(b.tick.get(), &period);
  mailbox_.post([this] { refresher_.warmUp(); });
  event_base_dispatch(base_.get());
  to_bottom_.target = nullptr;
  // `b` goes in reverse order: the timer, the stages, the parser (after the parse in
  // progress), the Redis connection and the fetcher (their callbacks dropped uncalled).
}

void CrlService::stop() {
  if (!thread_.joinable()) return;
  event_base_loopexit(base_.get(), nullptr);
  thread_.join();
}

void CrlService::lookup(const HttpUrl& url, const std::string& client, Mailbox& reply_to,
                        CrlReply done) {
  CrlQuery query;
  query.url = url;
  query.key = url.text();
  query.client = client;
  query.reply_to = &reply_to;
  memory_.lookup(std::move(query), std::move(done));
}

void CrlService::lookupWithDelta(const HttpUrl& url, const std::string& client,
                                 Mailbox& reply_to,
                                 std::function<void(Result<WithDelta>)> done) {
  lookup(url, client, reply_to,
         [this, client, &reply_to, done = std::move(done)](
             Result<std::shared_ptr<const CrlEntry>> base) mutable {
           if (!base) {
             done(base.error());
             return;
           }
           auto delta_url = deltaUrlFor(**base);
           if (!delta_url) {
             done(WithDelta{std::move(*base), nullptr, std::nullopt});
             return;
           }
           lookup(*delta_url, client, reply_to,
                  [base = std::move(*base),
                   done = std::move(done)](Result<std::shared_ptr<const CrlEntry>> delta) {
                    WithDelta out{base, nullptr, std::nullopt};
                    if (!delta) {
                      out.delta_error = delta.error();
                    } else if (Status fits = checkDeltaFor(base->crl, (*delta)->crl); !fits) {
                      out.delta_error = fits.error();
                    } else {
                      out.delta = std::move(*delta);
                    }
                    done(std::move(out));
                  });
         });
}

}  // namespace ocsp
