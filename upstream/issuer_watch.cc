#include "upstream/issuer_watch.h"

#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <limits>

#include "core/log.h"

namespace ocsp {

namespace {

int64_t notAfterOf(X509* cert) {
  auto t = asn1ToEpoch(X509_get0_notAfter(cert));
  return t ? *t : 0;
}

// The http URLs of the certificate's AIA OCSP entries (RFC 5280 §4.2.2.1).
std::vector<std::string> ocspUrls(X509* cert) {
  std::vector<std::string> out;
  STACK_OF(OPENSSL_STRING)* urls = X509_get1_ocsp(cert);
  for (int i = 0; i < sk_OPENSSL_STRING_num(urls); ++i) out.emplace_back(sk_OPENSSL_STRING_value(urls, i));
  X509_email_free(urls);
  return out;
}

// The URIs of the certificate's CRL distribution points (RFC 5280 §4.2.1.13), full names only.
std::vector<std::string> crlUrls(X509* cert) {
  std::vector<std::string> out;
  auto* dps = static_cast<STACK_OF(DIST_POINT)*>(
      X509_get_ext_d2i(cert, NID_crl_distribution_points, nullptr, nullptr));
  for (int i = 0; i < sk_DIST_POINT_num(dps); ++i) {
    DIST_POINT* dp = sk_DIST_POINT_value(dps, i);
    if (dp->distpoint == nullptr || dp->distpoint->type != 0) continue;
    GENERAL_NAMES* names = dp->distpoint->name.fullname;
    for (int k = 0; k < sk_GENERAL_NAME_num(names); ++k) {
      GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, k);
      if (gn->type != GEN_URI) continue;
      const ASN1_IA5STRING* uri = gn->d.uniformResourceIdentifier;
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                       static_cast<size_t>(ASN1_STRING_length(uri)));
    }
  }
  CRL_DIST_POINTS_free(dps);
  return out;
}

}  // namespace

const char* watchStateName(WatchState s) {
  switch (s) {
    case WatchState::Unchecked: return "unchecked";
    case WatchState::Good: return "good";
    case WatchState::Revoked: return "revoked";
    case WatchState::Unknown: return "unknown";
  }
  return "?";
}

IssuerWatch::IssuerWatch(Options options) : options_(std::move(options)) {
  for (const conf::WatchedCa& ca : options_.intermediates) {
    View v;
    v.name = ca.name;
    v.subject = subjectLine(ca.cert.get());
    v.not_after = notAfterOf(ca.cert.get());
    v.detail = "not checked yet";
    views_.push_back(std::move(v));
  }
}

void IssuerWatch::adopt(const IssuerWatch& previous) {
  std::vector<View> seen = previous.snapshot();
  std::lock_guard<std::mutex> lock(mu_);
  for (View& v : views_) {
    for (const View& old : seen) {
      if (old.name != v.name || old.subject != v.subject) continue;
      if (old.state == WatchState::Revoked && v.state != WatchState::Revoked) {
        revoked_count_.fetch_add(1);
      }
      v = old;
    }
  }
}

void IssuerWatch::record(size_t index, WatchState state, std::optional<Revocation> revocation,
                         std::string via, std::string detail, int64_t now) {
  std::lock_guard<std::mutex> lock(mu_);
  View& v = views_.at(index);
  const WatchState before = v.state;
  if (before != WatchState::Revoked && state == WatchState::Revoked) revoked_count_.fetch_add(1);
  if (before == WatchState::Revoked && state != WatchState::Revoked) revoked_count_.fetch_sub(1);
  v.state = state;
  v.revocation = revocation;
  v.via = std::move(via);
  v.detail = std::move(detail);
  v.checked_at = now;
  if (before == state) return;
  if (state == WatchState::Revoked) {
    logEvent(LogLevel::Error, "intermediate_revoked",
             {{"name", v.name},
              {"subject", v.subject},
              {"revocation_time", revocation ? rfc3339(revocation->time) : "?"},
              {"reason", revocation ? std::to_string(revocation->reason) : "?"},
              {"via", v.via},
              {"policy", options_.on_revoked_issuer == conf::RevokedIssuerPolicy::Refuse
                             ? "refuse"
                             : "flag"}});
  } else {
    logEvent(LogLevel::Info, "intermediate_state",
             {{"name", v.name}, {"state", watchStateName(state)}, {"from", watchStateName(before)},
              {"via", v.via}, {"detail", v.detail}});
  }
}

std::string IssuerWatch::revokedName(X509* issuer) const {
  if (issuer == nullptr || revoked_count_.load(std::memory_order_relaxed) == 0) return "";
  std::lock_guard<std::mutex> lock(mu_);
  const auto& cas = options_.intermediates;
  for (size_t i = 0; i < cas.size(); ++i) {
    if (views_[i].state == WatchState::Revoked && X509_cmp(cas[i].cert.get(), issuer) == 0) {
      return cas[i].name;
    }
  }
  return "";
}

bool IssuerWatch::isRevoked(X509* issuer) const { return !revokedName(issuer).empty(); }

std::vector<IssuerWatch::View> IssuerWatch::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return views_;
}

std::vector<IssuerWatch::Expiry> IssuerWatch::expiries(int64_t now) const {
  std::vector<Expiry> out;
  const int64_t warn = options_.expiry_warning_s;
  auto add = [&](std::string name, const char* kind, X509* cert) {
    int64_t not_after = notAfterOf(cert);
    out.push_back(Expiry{std::move(name), kind, not_after, not_after - now <= warn});
  };
  for (const conf::WatchedCa& ca : options_.intermediates) add(ca.name, "intermediate", ca.cert.get());
  for (const conf::IssuerCert& issuer : options_.issuers) {
    add(subjectLine(issuer.cert.get()), "issuer", issuer.cert.get());
  }
  return out;
}

namespace {

std::vector<X509*> certsOf(const std::vector<conf::WatchedCa>& cas) {
  std::vector<X509*> out;
  for (const conf::WatchedCa& ca : cas) out.push_back(ca.cert.get());
  return out;
}

}  // namespace

WatchChecker::WatchChecker(IssuerWatch& watch, const AllowList& allow, Source& chain,
                           CrlService* crl, Mailbox& mailbox, event_base* base, const Clock& clock)
    : watch_(watch),
      allow_(allow),
      chain_(chain),
      crl_(crl),
      mailbox_(mailbox),
      clock_(clock),
      schedule_(certsOf(watch.options().intermediates), watch.options().interval_s) {
  if (watch_.size() == 0) return;
  timer_.reset(event_new(base, -1, 0, &WatchChecker::onTimer, this));
  // What a reload carried over (IssuerWatch::adopt) keeps its slot; the rest is a first round.
  const int64_t start = clock_.now();
  const std::vector<IssuerWatch::View> views = watch_.snapshot();
  for (size_t i = 0; i < views.size(); ++i) {
    due_.push_back(views[i].checked_at != 0
                       ? schedule_.nextCheck(i, views[i].checked_at, start)
                       : schedule_.firstCheck(i, start));
  }
  // The first checks once the loop runs.
  mailbox_.post([this, alive = std::weak_ptr<char>(alive_)] {
    if (!alive.expired()) runDue();
  });
}

WatchChecker::~WatchChecker() = default;

void WatchChecker::onTimer(evutil_socket_t, short, void* self) {
  static_cast<WatchChecker*>(self)->runDue();
}

void WatchChecker::runDue() {
  if (due_.empty()) return;
  const int64_t now = clock_.now();
  int64_t next = std::numeric_limits<int64_t>::max();
  for (size_t i = 0; i < due_.size(); ++i) {
    if (due_[i] <= now) {
      due_[i] = schedule_.nextCheck(i, now, now);
      check(i);
    }
    next = std::min(next, due_[i]);
  }
  // Whole seconds: the clock has no finer grain, and a slot is never earlier than its second.
  timeval in{static_cast<time_t>(next - now), 0};
  event_add(timer_.get(), &in);
}

void WatchChecker::check(size_t index) {
  const conf::WatchedCa& ca = watch_.options().intermediates[index];
  std::vector<std::string> urls = ca.ocsp_url.empty() ? ocspUrls(ca.cert.get())
                                                      : std::vector<std::string>{ca.ocsp_url};
  std::optional<HttpUrl> url;
  std::optional<ForwardTarget> target;
  std::string problem = "no AIA OCSP URL";
  for (const std::string& text : urls) {
    auto parsed = parseHttpUrl(text);
    if (!parsed) continue;
    auto t = allow_.classify(*parsed);
    if (t && t->kind == TargetKind::Ocsp) {
      url = *parsed;
      target = *t;
      break;
    }
    problem = "OCSP URL " + text + " is not an upstream FQDN";
  }
  if (!target) {
    checkCrl(index, problem);
    return;
  }
  OcspCertIdPtr id(OCSP_cert_to_id(EVP_sha1(), ca.cert.get(), ca.parent.get()));
  CertIdInfo info;
  if (!id || !certIdInfoFrom(id.get(), &info)) {
    watch_.record(index, WatchState::Unchecked, std::nullopt, "", "cannot build a CertID",
                  clock_.now());
    return;
  }
  auto query = std::make_shared<OcspQuery>();
  query->cert_ids = {info};
  query->request_der = encodeOcspRequest(query->cert_ids);
  query->key = cacheKeyFor(query->cert_ids);
  query->client = "watch";
  auto route = std::make_shared<Route>();
  route->upstream_index = target->upstream_index;
  route->upstream_name = watch_.options().upstream_names.at(target->upstream_index);
  route->issuer = ca.parent;
  route->issuer_name = subjectLine(ca.parent.get());
  route->first_fqdn = target->fqdn_index;
  std::string via = "ocsp " + url->text();
  chain_.lookup(Lookup{std::move(query), std::move(route)},
                [this, index, via, alive = std::weak_ptr<char>(alive_)](const Lookup&,
                                                                         Result<Answer> r) {
    if (alive.expired()) return;
    if (!r) {
      checkCrl(index, via + ": " + r.error().code);
      return;
    }
    const OcspEntry& e = *r->entry;
    WatchState state = e.status == CertStatus::Good      ? WatchState::Good
                       : e.status == CertStatus::Revoked ? WatchState::Revoked
                                                         : WatchState::Unknown;
    watch_.record(index, state, e.revocation, via, answerSourceName(r->source), clock_.now());
  });
}

// The CRL fallback: the intermediate's serial looked up in its issuer's CRL.
void WatchChecker::checkCrl(size_t index, const std::string& ocsp_problem) {
  const conf::WatchedCa& ca = watch_.options().intermediates[index];
  std::optional<HttpUrl> url;
  for (const std::string& text : crlUrls(ca.cert.get())) {
    auto parsed = parseHttpUrl(text);
    if (!parsed) continue;
    auto t = allow_.classify(*parsed);
    if (t && t->kind == TargetKind::Crl) {
      url = *parsed;
      break;
    }
  }
  if (!url || crl_ == nullptr) {
    watch_.record(index, WatchState::Unchecked, std::nullopt, "",
                  ocsp_problem + "; no CRL distribution point on a crl host", clock_.now());
    return;
  }
  std::string serial = toDer(X509_get0_serialNumber(ca.cert.get()), i2d_ASN1_INTEGER);
  // INTEGER contents: skip the tag and the (short-form) length of the DER.
  std::string contents = serial.size() > 2 ? serial.substr(2) : "";
  std::string via = "crl " + url->text();
  crl_->lookup(*url, "watch", mailbox_,
               [this, index, via, contents, ocsp_problem,
                alive = std::weak_ptr<char>(alive_)](Result<std::shared_ptr<const CrlEntry>> r) {
                 if (alive.expired()) return;
                 const int64_t now = clock_.now();
                 if (!r) {
                   watch_.record(index, WatchState::Unchecked, std::nullopt, via,
                                 ocsp_problem + "; CRL: " + r.error().code, now);
                   return;
                 }
                 if (!(*r)->crl.signature_checked) {
                   watch_.record(index, WatchState::Unchecked, std::nullopt, via,
                                 "CRL signature not checked (issuer unknown)", now);
                   return;
                 }
                 auto hit = (*r)->crl.revoked.find(contents);
                 if (hit) {
                   watch_.record(index, WatchState::Revoked, Revocation{hit->time, hit->reason},
                                 via, "on the CRL", now);
                 } else {
                   watch_.record(index, WatchState::Good, std::nullopt, via, "not on the CRL",
                                 now);
                 }
               });
}

}  // namespace ocsp
