#include "tools/report_summary.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <iostream>

#include "core/log.h"
#include "tools/log_record.h"
#include "tools/report_table.h"

namespace ocsp::report {
namespace {

constexpr size_t kReadChunkBytes = 1 << 20;
static_assert(kMaxLineBytes == 1 << 20, "the too-long message says 1 MiB");

}  // namespace

// ---------------------------------------------------------------------------------------------
// Aggregation.

class Report::Impl {
 public:
  explicit Impl(const Options& o) : options_(o) {}

  void beginInput(std::string name) {
    input_ = std::move(name);
    line_no_ = 0;
    carry_.clear();
    carry_too_long_ = false;
  }

  void feed(std::string_view bytes) {
    while (!bytes.empty()) {
      const void* nl = std::memchr(bytes.data(), '\n', bytes.size());
      if (nl == nullptr) return carry(bytes);
      const auto n = static_cast<size_t>(static_cast<const char*>(nl) - bytes.data());
      if (carry_.empty() && !carry_too_long_) {
        line(bytes.substr(0, n));  // the common case: parsed in place in the read buffer
      } else {
        carry(bytes.substr(0, n));
        endCarried();
      }
      bytes.remove_prefix(n + 1);
    }
  }

  void endInput() {
    if (!carry_.empty() || carry_too_long_) endCarried();
  }

  std::string text() const;
  std::string json() const;
  uint64_t malformed() const { return malformed_count_; }
  void divert(std::function<void(const Answer&)> sink) { sink_ = std::move(sink); }

 private:
  struct IssuerRow {
    std::string name, key_hash;
    std::array<uint64_t, kStatusCount> by_status{};
    uint64_t total = 0;
    uint64_t flagged = 0;  // answers with issuer_revoked
    int64_t flagged_last = kNoTime;
  };
  struct SerialRow {
    uint32_t issuer = 0;
    std::string serial;
    int64_t revocation_ms = kNoTime;
    int reason = -1;  // index into reasons_
    int64_t first = INT64_MAX, last = kNoTime;
    uint64_t answers = 0;
    std::unordered_map<uint32_t, uint64_t> clients{};  // client id -> answers
  };
  struct ClientRow {
    std::string address;
    uint64_t answers = 0;  // revoked answers
    int64_t last = kNoTime;
  };
  struct UpstreamRow {
    std::string upstream, fqdn;
    uint64_t errors = 0, stale = 0;
    Counts errors_by_code{};
  };

  void carry(std::string_view part) {
    if (carry_too_long_) return;
    if (carry_.size() + part.size() > kMaxLineBytes) {
      carry_too_long_ = true;
      carry_.clear();
      return;
    }
    carry_.append(part);
  }
  void endCarried() {
    if (carry_too_long_) {
      ++lines_, ++line_no_;
      malformed({kTooLong});
    } else {
      line(carry_);
    }
    carry_.clear();
    carry_too_long_ = false;
  }

  void line(std::string_view text) {
    ++lines_, ++line_no_;
    if (text.ends_with('\r')) text.remove_suffix(1);
    if (text.size() > kMaxLineBytes) return malformed({kTooLong});
    Answer a;
    if (const Problem p = parser_.parse(text, a); p.fault) return malformed(p);
    if (a.invalid_utf8) ++invalid_utf8_;
    if ((options_.since_ms && a.time_ms < *options_.since_ms) ||
        (options_.until_ms && a.time_ms >= *options_.until_ms)) {
      ++outside_;
      return;
    }
    if (sink_) {
      ++answers_;
      return sink_(a);
    }
    add(a);
  }

  void malformed(const Problem& p) {
    if (malformed_.size() < kMalformedListed) {
      malformed_.emplace_back(input_ + ":" + std::to_string(line_no_), describe(p));
    }
    ++malformed_count_;
  }

  void add(const Answer& a) {
    ++answers_;
    ++by_status_[a.status];
    first_ = std::min(first_, a.time_ms);
    last_ = std::max(last_, a.time_ms);

    key_.clear();
    appendLower(key_, a.key_hash);
    key_ += '\0';
    key_ += a.issuer;
    const uint32_t issuer = intern(issuer_index_, issuers_, key_, [&] {
      return IssuerRow{.name = std::string(a.issuer),
                       .key_hash = key_.substr(0, a.key_hash.size())};
    });
    IssuerRow& ir = issuers_[issuer];
    ++ir.by_status[a.status];
    ++ir.total;
    if (a.issuer_revoked) {
      ++ir.flagged;
      ir.flagged_last = std::max(ir.flagged_last, a.time_ms);
    }
    if (a.status == kRevoked) addRevoked(a, issuer);
    if (a.status == kError || a.stale) addUpstreamProblem(a);
  }

  void addRevoked(const Answer& a, uint32_t issuer) {
    key_.clear();
    appendLower(key_, a.key_hash);
    key_ += '\0';
    appendLower(key_, a.serial);
    const uint32_t s = intern(serial_index_, serials_, key_, [&] {
      return SerialRow{.issuer = issuer, .serial = key_.substr(a.key_hash.size() + 1)};
    });
    SerialRow& sr = serials_[s];
    ++sr.answers;
    sr.first = std::min(sr.first, a.time_ms);
    if (a.time_ms >= sr.last) {  // the latest answer says when and why
      sr.last = a.time_ms;
      sr.revocation_ms = a.revocation_ms;
      sr.reason = -1;
      if (a.reason) {
        sr.reason = static_cast<int>(
            intern(reason_index_, reasons_, *a.reason, [&] { return std::string(*a.reason); }));
      }
    }
    const std::string_view address = clientAddress(a.client);
    const uint32_t c = intern(client_index_, clients_, address,
                              [&] { return ClientRow{.address = std::string(address)}; });
    ++sr.clients[c];
    ++clients_[c].answers;
    clients_[c].last = std::max(clients_[c].last, a.time_ms);
  }

  void addUpstreamProblem(const Answer& a) {
    key_.assign(a.upstream) += '\0';
    key_ += a.fqdn;
    const uint32_t u = intern(upstream_index_, upstreams_, key_, [&] {
      return UpstreamRow{.upstream = std::string(a.upstream), .fqdn = std::string(a.fqdn)};
    });
    UpstreamRow& ur = upstreams_[u];
    if (a.stale) ++ur.stale;
    if (a.status == kError) {
      ++ur.errors;
      const std::string_view code =
          a.validation.starts_with("error:") ? a.validation.substr(6) : a.validation;
      auto it = ur.errors_by_code.find(code);
      if (it == ur.errors_by_code.end()) it = ur.errors_by_code.emplace(code, 0).first;
      ++it->second;
    }
  }

  std::vector<Section> sections() const;
  Cell topClients(const SerialRow& s) const;

  const Options options_;
  std::function<void(const Answer&)> sink_;
  LogRecordParser parser_;
  std::string key_;  // reused lookup key: a known issuer or serial costs no allocation
  std::string input_;
  uint64_t line_no_ = 0;
  std::string carry_;  // a line split across feed() calls
  bool carry_too_long_ = false;

  uint64_t lines_ = 0, answers_ = 0, outside_ = 0, malformed_count_ = 0;
  uint64_t invalid_utf8_ = 0;  // lines counted although they held raw non-UTF-8 bytes
  std::vector<std::pair<std::string, std::string>> malformed_;  // where, why
  int64_t first_ = INT64_MAX, last_ = kNoTime;
  std::array<uint64_t, kStatusCount> by_status_{};
  Interned issuer_index_, serial_index_, client_index_, upstream_index_, reason_index_;
  std::vector<IssuerRow> issuers_;
  std::vector<SerialRow> serials_;
  std::vector<ClientRow> clients_;
  std::vector<UpstreamRow> upstreams_;
  std::vector<std::string> reasons_;
};

// Up to --top client addresses, most answers first, and how many there are.
Cell Report::Impl::topClients(const SerialRow& s) const {
  std::vector<std::pair<uint64_t, std::string_view>> all;
  for (const auto& [client, n] : s.clients) all.emplace_back(n, clients_[client].address);
  return topList(std::move(all), options_.top_clients);
}

// Sections 3 to 7, each sorted by its count, descending, ties broken by key.
std::vector<Section> Report::Impl::sections() const {
  const auto all = [](uint32_t) { return true; };
  std::vector<uint64_t> serials_per_client(clients_.size(), 0);
  for (const auto& s : serials_) {
    for (const auto& [client, n] : s.clients) ++serials_per_client[client];
  }
  std::vector<Section> out;
  out.push_back(
      {"By issuer",
       "by_issuer",
       {{"TOTAL", "total"},
        {"GOOD", "good"},
        {"REVOKED", "revoked"},
        {"UNKNOWN", "unknown"},
        {"ERROR", "error"},
        {"KEY HASH", "issuer_key_hash"},
        {"ISSUER", "issuer"}},
       ordered(issuers_.size(), all,
               [&](uint32_t x, uint32_t y) {
                 return std::tie(issuers_[y].total, issuers_[x].key_hash, issuers_[x].name) <
                        std::tie(issuers_[x].total, issuers_[y].key_hash, issuers_[y].name);
               }),
       [this](uint32_t i) -> std::vector<Cell> {
         const IssuerRow& r = issuers_[i];
         return {numberCell(r.total),
                 numberCell(r.by_status[kGood]),
                 numberCell(r.by_status[kRevoked]),
                 numberCell(r.by_status[kUnknown]),
                 numberCell(r.by_status[kError]),
                 textCell(r.key_hash),
                 textCell(r.name)};
       }});
  out.push_back(
      {"Revoked serials seen",
       "revoked_serials",
       {{"SERIAL", "serial"},
        {"ANSWERS", "answers"},
        {"REVOKED AT", "revocation_time"},
        {"REASON", "revocation_reason"},
        {"FIRST SEEN", "first_seen"},
        {"LAST SEEN", "last_seen"},
        {"KEY HASH", "issuer_key_hash"},
        {"ISSUER", "issuer"},
        {"CLIENTS", "distinct_clients"},
        {"TOP CLIENTS", "clients"}},
       ordered(serials_.size(), all,
               [&](uint32_t x, uint32_t y) {
                 return std::tie(serials_[y].answers, issuers_[serials_[x].issuer].key_hash,
                                 serials_[x].serial) <
                        std::tie(serials_[x].answers, issuers_[serials_[y].issuer].key_hash,
                                 serials_[y].serial);
               }),
       [this](uint32_t i) -> std::vector<Cell> {
         const SerialRow& s = serials_[i];
         return {textCell(s.serial),
                 numberCell(s.answers),
                 textCell(revocationTimeText(s.revocation_ms)),
                 textCell(s.reason < 0 ? "" : reasons_[s.reason]),
                 textCell(timeText(s.first)),
                 textCell(timeText(s.last)),
                 textCell(issuers_[s.issuer].key_hash),
                 textCell(issuers_[s.issuer].name),
                 numberCell(s.clients.size()),
                 topClients(s)};
       }});
  out.push_back({"Clients still asking about revoked certificates",
                 "clients_with_revoked",
                 {{"CLIENT", "client"},
                  {"REVOKED ANSWERS", "revoked_answers"},
                  {"REVOKED SERIALS", "revoked_serials"},
                  {"LAST SEEN", "last_seen"}},
                 ordered(clients_.size(), all,
                         [&](uint32_t x, uint32_t y) {
                           return std::tie(clients_[y].answers, clients_[x].address) <
                                  std::tie(clients_[x].answers, clients_[y].address);
                         }),
                 [this, per_client = std::move(serials_per_client)](uint32_t i) {
                   return std::vector<Cell>{
                       textCell(clients_[i].address), numberCell(clients_[i].answers),
                       numberCell(per_client[i]), textCell(timeText(clients_[i].last))};
                 }});
  out.push_back({"Errors and stale answers by upstream",
                 "upstream_problems",
                 {{"UPSTREAM", "upstream"},
                  {"FQDN", "upstream_fqdn"},
                  {"ERRORS", "errors"},
                  {"STALE", "stale"},
                  {"ERRORS BY VALIDATION", "errors_by_validation"}},
                 ordered(upstreams_.size(), all,
                         [&](uint32_t x, uint32_t y) {
                           const uint64_t nx = upstreams_[x].errors + upstreams_[x].stale;
                           const uint64_t ny = upstreams_[y].errors + upstreams_[y].stale;
                           return std::tie(ny, upstreams_[x].upstream, upstreams_[x].fqdn) <
                                  std::tie(nx, upstreams_[y].upstream, upstreams_[y].fqdn);
                         }),
                 [this](uint32_t i) -> std::vector<Cell> {
                   const UpstreamRow& u = upstreams_[i];
                   return {textCell(u.upstream), textCell(u.fqdn), numberCell(u.errors),
                           numberCell(u.stale),
                           Cell{.type = Cell::kCounts, .counts = &u.errors_by_code}};
                 }});
  out.push_back(
      {"Answers under revoked issuers",
       "issuer_revoked",
       {{"ANSWERS", "answers"},
        {"LAST SEEN", "last_seen"},
        {"KEY HASH", "issuer_key_hash"},
        {"ISSUER", "issuer"}},
       ordered(
           issuers_.size(), [&](uint32_t i) { return issuers_[i].flagged > 0; },
           [&](uint32_t x, uint32_t y) {
             return std::tie(issuers_[y].flagged, issuers_[x].key_hash, issuers_[x].name) <
                    std::tie(issuers_[x].flagged, issuers_[y].key_hash, issuers_[y].name);
           }),
       [this](uint32_t i) -> std::vector<Cell> {
         return {numberCell(issuers_[i].flagged), textCell(timeText(issuers_[i].flagged_last)),
                 textCell(issuers_[i].key_hash), textCell(issuers_[i].name)};
       }});
  return out;
}

std::string Report::Impl::text() const {
  std::string out = "Revocation log report\n";
  const auto total = [&](std::string_view label, const std::string& value) {
    out += "  " + std::string(label) + std::string(20 - label.size(), ' ') + value + "\n";
  };
  const auto time = [](int64_t ms) { return ms == kNoTime ? "-" : rfc3339Ms(ms); };
  total("lines read", std::to_string(lines_));
  total("answers counted", std::to_string(answers_));
  if (options_.since_ms || options_.until_ms) {
    total("outside time range", std::to_string(outside_));
    total("time range", time(options_.since_ms.value_or(kNoTime)) + " .. " +
                            time(options_.until_ms.value_or(kNoTime)));
  }
  total("malformed lines", std::to_string(malformed_count_));
  for (const auto& [where, why] : malformed_) out += "    " + displayed(where + ": " + why) + "\n";
  if (malformed_count_ > malformed_.size()) {
    out += "    (+" + std::to_string(malformed_count_ - malformed_.size()) + " more)\n";
  }
  if (invalid_utf8_ != 0) total("non-UTF-8 lines", std::to_string(invalid_utf8_) + " (counted; bytes shown as \\xNN)");
  total("first answer", time(answers_ ? first_ : kNoTime));
  total("last answer", time(last_));

  out += "\nBy status\n";
  appendTable(out, {"",
                    "",
                    {{"STATUS", ""}, {"ANSWERS", ""}},
                    {kGood, kRevoked, kUnknown, kError},
                    [&](uint32_t i) -> std::vector<Cell> {
                      return {textCell(std::string(kStatusNames[i])), numberCell(by_status_[i])};
                    }});
  appendTables(out, sections());
  return out;
}

std::string Report::Impl::json() const {
  JsonOut j;
  j.open('{');
  j.key("totals");
  j.open('{');
  j.member("lines", lines_);
  j.member("answers", answers_);
  j.member("outside_time_range", outside_);
  j.member("since", timeText(options_.since_ms.value_or(kNoTime)));
  j.member("until", timeText(options_.until_ms.value_or(kNoTime)));
  j.member("malformed", malformed_count_);
  j.key("malformed_lines");
  j.open('[');
  for (const auto& [where, why] : malformed_) {
    j.open('{');
    j.member("at", where);
    j.member("error", why);
    j.close('}');
  }
  j.close(']');
  j.member("first_time", timeText(answers_ ? first_ : kNoTime));
  j.member("last_time", timeText(last_));
  j.member("invalid_utf8", invalid_utf8_);
  j.close('}');

  j.key("by_status");
  j.open('{');
  for (size_t i = 0; i < kStatusCount; ++i) j.member(kStatusNames[i], by_status_[i]);
  j.close('}');

  j.sections(sections());
  j.close('}');
  return std::move(j.str()) + "\n";
}

// ---------------------------------------------------------------------------------------------
// Public surface.

Report::Report(const Options& options) : impl_(std::make_unique<Impl>(options)) {}
Report::~Report() = default;
Report::Report(Report&&) noexcept = default;
Report& Report::operator=(Report&&) noexcept = default;
void Report::divertAnswers(std::function<void(const Answer&)> sink) {
  impl_->divert(std::move(sink));
}
void Report::beginInput(std::string name) { impl_->beginInput(std::move(name)); }
void Report::feed(std::string_view bytes) { impl_->feed(bytes); }
void Report::endInput() { impl_->endInput(); }
std::string Report::text() const { return impl_->text(); }
std::string Report::json() const { return impl_->json(); }
uint64_t Report::malformed() const { return impl_->malformed(); }

bool Report::read(std::istream& in, std::string name) {
  beginInput(std::move(name));
  std::vector<char> buf(kReadChunkBytes);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    feed({buf.data(), static_cast<size_t>(in.gcount())});
  }
  endInput();
  return !in.bad();
}

}  // namespace ocsp::report
