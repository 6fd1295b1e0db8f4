#include "upstream/learned_issuer_store.h"

#include <openssl/pem.h>

#include <algorithm>
#include <charconv>
#include <sstream>

#include "core/log.h"
#include "pki/issuer_completion.h"

namespace ocsp {

namespace {

constexpr std::string_view kHeader = "ocsp-proxy learned-issuers v1";
constexpr std::string_view kEndCert = "-----END CERTIFICATE-----";

std::string pemOf(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return {};
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Error invalid(size_t line, const std::string& what) {
  return makeError(ErrorCategory::Internal, "state_invalid",
                   "line " + std::to_string(line) + ": " + what);
}

// "key=value" out of a space-separated field list; "" when absent.
std::string fieldOf(const std::string& line, std::string_view key) {
  std::istringstream in(line);
  std::string word;
  while (in >> word) {
    if (word.size() > key.size() && word.compare(0, key.size(), key) == 0 &&
        word[key.size()] == '=') {
      return word.substr(key.size() + 1);
    }
  }
  return {};
}

std::optional<LearnedFrom> learnedFromText(const std::string& s) {
  for (LearnedFrom f : {LearnedFrom::Aia, LearnedFrom::Discovery, LearnedFrom::State,
                        LearnedFrom::Redis}) {
    if (s == learnedFromName(f)) return f;
  }
  return std::nullopt;
}

// Why `cert` may not be restored, or "" if it may.
std::string refusal(const IssuerIndex& index, X509* cert, X509_STORE* trust_store, int64_t now,
                    bool upstream_known) {
  if (!upstream_known) return "upstream_gone";
  if (index.isConfigured(cert)) return "configured_now";
  if (std::string name = index.distrustName(cert); !name.empty()) {
    return "distrusted (" + name + ")";
  }
  if (trust_store == nullptr) return "no_trust_store";
  Status chain = verifyIssuerChain(cert, trust_store, nullptr, now);
  if (!chain) return chain.error().code + ": " + chain.error().detail;
  return {};
}

}  // namespace

std::string encodeLearnedIssuers(const std::vector<LearnedIssuer>& issuers) {
  std::string out(kHeader);
  out += '\n';
  size_t count = 0;
  for (const LearnedIssuer& l : issuers) {
    if (count == kMaxLearnedIssuers) break;
    std::string pem = pemOf(l.route->issuer.get());
    if (pem.empty()) continue;
    out += "issuer upstream=" + l.route->upstream_name + " learned_at=" +
           std::to_string(l.learned_at) + " from=" + learnedFromName(l.from) + "\n";
    out += pem;
    ++count;
  }
  out += "end count=" + std::to_string(count) + " sha256=" + toHex(sha256(out)) + "\n";
  return out;
}

Result<std::vector<StoredIssuer>> decodeLearnedIssuers(const std::string& text) {
  ErrorQueueGuard guard;
  std::vector<StoredIssuer> out;
  const size_t end_at = text.rfind("\nend ");
  if (text.compare(0, kHeader.size() + 1, std::string(kHeader) + "\n") != 0) {
    return invalid(1, "not an ocsp-proxy learned-issuers v1 file");
  }
  if (end_at == std::string::npos || text.back() != '\n') {
    return invalid(0, "no end line (a torn file?)");
  }
  const std::string body = text.substr(0, end_at + 1);
  const std::string end_line = text.substr(end_at + 1, text.size() - end_at - 2);
  if (fieldOf(end_line, "sha256") != toHex(sha256(body))) {
    return invalid(0, "checksum mismatch (a torn or edited file?)");
  }
  std::istringstream in(body);
  std::string line;
  size_t number = 0;
  std::getline(in, line);
  ++number;
  while (std::getline(in, line)) {
    ++number;
    if (line.rfind("issuer ", 0) != 0) return invalid(number, "expected an issuer line");
    StoredIssuer s;
    s.upstream = fieldOf(line, "upstream");
    const std::string at = fieldOf(line, "learned_at");
    auto [ptr, ec] = std::from_chars(at.data(), at.data() + at.size(), s.learned_at);
    auto from = learnedFromText(fieldOf(line, "from"));
    if (s.upstream.empty() || ec != std::errc() || ptr != at.data() + at.size() || !from) {
      return invalid(number, "malformed issuer line");
    }
    s.from = *from;
    const size_t cert_line = number + 1;
    std::string pem;
    while (std::getline(in, line)) {
      ++number;
      pem += line + "\n";
      if (line == kEndCert) break;
    }
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!cert) return invalid(cert_line, "not a PEM certificate");
    s.cert = shareX509(std::move(cert));
    out.push_back(std::move(s));
    if (out.size() > kMaxLearnedIssuers) return invalid(number, "too many issuers");
  }
  if (fieldOf(end_line, "count") != std::to_string(out.size())) {
    return invalid(number + 1, "count does not match the issuers listed");
  }
  return out;
}

std::vector<StoredIssuer> storedFrom(const std::vector<LearnedIssuer>& learned) {
  std::vector<StoredIssuer> out;
  for (const LearnedIssuer& l : learned) {
    out.push_back(StoredIssuer{l.route->issuer, l.route->upstream_name, l.learned_at, l.from});
  }
  return out;
}

size_t restoreLearned(IssuerIndex& index, const std::vector<StoredIssuer>& stored,
                      const std::vector<std::string>& upstream_names, X509_STORE* trust_store,
                      int64_t now, std::optional<LearnedFrom> as) {
  size_t added = 0;
  for (const StoredIssuer& s : stored) {
    if (index.isLearned(s.cert.get())) continue;  // e.g. read from Redis and the state file
    auto upstream = std::find(upstream_names.begin(), upstream_names.end(), s.upstream);
    const std::string subject = subjectLine(s.cert.get());
    std::string why =
        refusal(index, s.cert.get(), trust_store, now, upstream != upstream_names.end());
    if (!why.empty()) {
      logEvent(LogLevel::Warn, "learned_issuer_dropped",
               {{"issuer", subject}, {"upstream", s.upstream}, {"reason", why}});
      continue;
    }
    auto route = std::make_shared<Route>();
    route->upstream_name = s.upstream;
    route->issuer = s.cert;
    route->issuer_name = subject;
    const size_t u = static_cast<size_t>(upstream - upstream_names.begin());
    index.restore(LearnedIssuer{route, s.learned_at, as.value_or(s.from)}, u);
    ++added;
    if (as) {
      logEvent(LogLevel::Info, "issuer_loaded",
               {{"issuer", subject},
                {"upstream", s.upstream},
                {"source", learnedFromName(*as)},
                {"learned_at", rfc3339(s.learned_at)}});
    }
  }
  return added;
}

std::vector<StoredIssuer> LearnedIssuerStore::load() const {
  if (!dir_) return {};
  auto text = dir_->read(kLearnedIssuersFile, kMaxLearnedIssuersFileBytes);
  if (!text) {
    if (text.error().code != "state_missing") {
      logEvent(LogLevel::Warn, "learned_issuers_unreadable",
               {{"detail", text.error().detail}, {"action", "ignored"}});
    }
    return {};
  }
  auto decoded = decodeLearnedIssuers(*text);
  if (!decoded) {
    logEvent(LogLevel::Warn, "learned_issuers_invalid",
             {{"path", dir_->path() + "/" + kLearnedIssuersFile},
              {"detail", decoded.error().detail},
              {"action", "ignored"}});
    return {};
  }
  return std::move(*decoded);
}

void LearnedIssuerStore::save(const IssuerIndex& index) {
  if (!dir_) return;
  std::string snapshot = encodeLearnedIssuers(index.learned());
  {
    std::lock_guard lock(mu_);
    const bool queued = pending_.has_value();
    pending_ = std::move(snapshot);
    if (queued) return;  // the writer has not taken the previous one: it takes this one
  }
  writer_.post([this] { writeLatest(); });
}

LearnedIssuerStore::~LearnedIssuerStore() {
  if (dir_) writeLatest();
}

void LearnedIssuerStore::writeLatest() {
  std::lock_guard write_lock(write_mu_);
  std::string snapshot;
  {
    std::lock_guard lock(mu_);
    if (!pending_) return;
    snapshot = std::move(*pending_);
    pending_.reset();
  }
  Status written = dir_->writeAtomically(kLearnedIssuersFile, snapshot);
  if (!written && !failing_) {
    logEvent(LogLevel::Warn, "state_write_failed",
             {{"file", kLearnedIssuersFile}, {"detail", written.error().detail}});
  } else if (written && failing_) {
    logEvent(LogLevel::Info, "state_write_recovered", {{"file", kLearnedIssuersFile}});
  }
  failing_ = !written;
}

}  // namespace ocsp
