#include "tools/report_impact.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "tools/log_record.h"
#include "tools/report_table.h"

namespace ocsp::report {
namespace {

constexpr size_t kBadLinesListed = 10;

bool isHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool containsIgnoringCase(std::string_view haystack, std::string_view needle) {
  const auto lower = [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  };
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                     [&](char x, char y) { return lower(x) == lower(y); }) != haystack.end();
}

}  // namespace

std::optional<std::string> normalizeSerial(std::string_view s) {
  s = trimmed(s);
  if (s.starts_with("0x") || s.starts_with("0X")) s.remove_prefix(2);
  std::string out;
  for (char c : s) {
    if (c == ':' || c == ' ' || c == '\t') continue;
    if (!isHex(c)) return std::nullopt;
    appendLower(out, std::string_view(&c, 1));
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::string serialKey(std::string_view normalized) {
  const size_t first = normalized.find_first_not_of('0');
  return first == std::string_view::npos ? "0" : std::string(normalized.substr(first));
}

Result<SerialList> parseSerialList(std::string_view text, std::string_view name) {
  SerialList list;
  std::vector<std::string> bad;
  size_t bad_count = 0;
  std::unordered_set<std::string> seen;  // serial keys
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    if (const size_t hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    line = trimmed(line);
    if (line.empty()) continue;
    const auto serial = normalizeSerial(line);
    if (!serial) {
      if (bad_count++ < kBadLinesListed) {
        bad.push_back(displayed(std::string(name) + ":" + std::to_string(line_no) +
                                ": not a serial: \"" + std::string(line) + "\""));
      }
      continue;
    }
    if (seen.insert(serialKey(*serial)).second) {
      list.serials.push_back(*serial);
    } else {
      ++list.duplicates;
    }
  }
  if (bad_count != 0) {
    std::string detail;
    for (const auto& b : bad) detail += (detail.empty() ? "" : "\n") + b;
    if (bad_count > bad.size())
      detail += "\n(+" + std::to_string(bad_count - bad.size()) + " more)";
    return makeError(ErrorCategory::Config, "serials",
                     detail + "\nfix or comment out (#) the line" + (bad_count == 1 ? "" : "s") +
                         ": no serial of the list is left out");
  }
  if (list.serials.empty()) {
    return makeError(ErrorCategory::Config, "serials", std::string(name) + " lists no serial");
  }
  return list;
}

Result<SerialList> loadSerialList(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (!in.is_open() || !(text << in.rdbuf()) || in.bad()) {
    return makeError(ErrorCategory::Config, "read", "cannot read the serial list " + path);
  }
  return parseSerialList(text.str(), path);
}

// ---------------------------------------------------------------------------------------------

class ImpactReport::Impl {
 public:
  explicit Impl(ImpactQuery q) : q_(std::move(q)) {
    const auto hex = normalizeSerial(q_.issuer);
    if (hex) issuer_hex_ = *hex;
    if (q_.serials) {
      for (uint32_t i = 0; i < q_.serials->serials.size(); ++i) {
        listed_.emplace(serialKey(q_.serials->serials[i]), i);
      }
      listed_requests_.assign(q_.serials->serials.size(), 0);
      listed_after_.assign(q_.serials->serials.size(), false);
    }
  }

  void add(const Answer& a);
  std::string text(uint64_t malformed) const;
  std::string json(uint64_t malformed) const;
  size_t seenAfterDeadline() const {
    return static_cast<size_t>(std::count(listed_after_.begin(), listed_after_.end(), true));
  }

 private:
  struct IssuerRow {
    std::string name, key_hash;
    bool matched = false;
    uint64_t requests = 0;
  };
  using ClientCounts = std::unordered_map<uint32_t, uint64_t>;  // client id -> requests
  struct SerialRow {
    uint32_t issuer = 0;
    std::string serial;
    uint64_t requests = 0, after = 0;  // after: at or after the deadline
    int64_t last = kNoTime, last_after = kNoTime;
    AnswerStatus last_status = kGood;
    ClientCounts clients{}, clients_after{};
  };
  struct ClientRow {
    std::string address;
    uint64_t requests = 0;
    int64_t first = INT64_MAX, last = kNoTime;
  };

  bool matches(const IssuerRow& r) const {
    if (q_.issuer.empty()) return true;
    return (!issuer_hex_.empty() && r.key_hash == issuer_hex_) ||
           containsIgnoringCase(r.name, q_.issuer);
  }
  Cell topClients(const ClientCounts& counts) const;
  std::vector<Section> sections() const;

  const ImpactQuery q_;
  std::string issuer_hex_;                            // q_.issuer as a key hash, if it can be one
  std::unordered_map<std::string, uint32_t> listed_;  // serialKey -> index in the list
  std::vector<uint64_t> listed_requests_;
  std::vector<bool> listed_after_;  // asked about at or after the deadline
  std::string key_;
  uint64_t answers_ = 0, matching_ = 0;
  Interned issuer_index_, serial_index_, client_index_;
  std::vector<IssuerRow> issuers_;
  std::vector<SerialRow> serials_;
  std::vector<ClientRow> clients_;
};

void ImpactReport::Impl::add(const Answer& a) {
  ++answers_;
  key_.clear();
  appendLower(key_, a.key_hash);
  const size_t hash_size = key_.size();
  key_ += '\0';
  key_ += a.issuer;
  const uint32_t issuer = intern(issuer_index_, issuers_, key_, [&] {
    IssuerRow r{.name = std::string(a.issuer), .key_hash = key_.substr(0, hash_size)};
    r.matched = matches(r);
    return r;
  });
  if (!issuers_[issuer].matched) return;
  key_.resize(hash_size + 1);
  appendLower(key_, a.serial);
  if (q_.serials) {
    const auto it = listed_.find(serialKey(std::string_view(key_).substr(hash_size + 1)));
    if (it == listed_.end()) return;
    ++listed_requests_[it->second];
    if (q_.deadline_ms && a.time_ms >= *q_.deadline_ms) listed_after_[it->second] = true;
  }
  ++matching_;
  ++issuers_[issuer].requests;
  const uint32_t s = intern(serial_index_, serials_, key_, [&] {
    return SerialRow{.issuer = issuer, .serial = key_.substr(hash_size + 1)};
  });
  const std::string_view address = clientAddress(a.client);
  const uint32_t c = intern(client_index_, clients_, address,
                            [&] { return ClientRow{.address = std::string(address)}; });
  SerialRow& sr = serials_[s];
  ++sr.requests;
  ++sr.clients[c];
  if (a.time_ms >= sr.last) {  // the latest answer's status
    sr.last = a.time_ms;
    sr.last_status = a.status;
  }
  if (q_.deadline_ms && a.time_ms >= *q_.deadline_ms) {
    ++sr.after;
    ++sr.clients_after[c];
    sr.last_after = std::max(sr.last_after, a.time_ms);
  }
  ClientRow& cr = clients_[c];
  ++cr.requests;
  cr.first = std::min(cr.first, a.time_ms);
  cr.last = std::max(cr.last, a.time_ms);
}

// Up to --top client addresses, most requests first, and how many there are.
Cell ImpactReport::Impl::topClients(const ClientCounts& counts) const {
  std::vector<std::pair<uint64_t, std::string_view>> all;
  for (const auto& [client, n] : counts) all.emplace_back(n, clients_[client].address);
  return topList(std::move(all), q_.top_clients);
}

// Each table sorted by its count, descending, ties broken by key; the never-seen serials in
// the list's order.
std::vector<Section> ImpactReport::Impl::sections() const {
  std::vector<uint64_t> serials_per_client(clients_.size(), 0);
  for (const auto& s : serials_) {
    for (const auto& [client, n] : s.clients) ++serials_per_client[client];
  }
  const auto by_serial = [&](uint64_t SerialRow::*count) {
    return [this, count](uint32_t x, uint32_t y) {
      const SerialRow& sx = serials_[x];
      const SerialRow& sy = serials_[y];
      return std::tie(sy.*count, issuers_[sx.issuer].key_hash, sx.serial) <
             std::tie(sx.*count, issuers_[sy.issuer].key_hash, sy.serial);
    };
  };
  std::vector<Section> out;
  out.push_back({"Issuers matched",
                 "issuers",
                 {{"REQUESTS", "requests"}, {"KEY HASH", "issuer_key_hash"}, {"ISSUER", "issuer"}},
                 ordered(
                     issuers_.size(), [&](uint32_t i) { return issuers_[i].requests > 0; },
                     [&](uint32_t x, uint32_t y) {
                       return std::tie(issuers_[y].requests, issuers_[x].key_hash) <
                              std::tie(issuers_[x].requests, issuers_[y].key_hash);
                     }),
                 [this](uint32_t i) -> std::vector<Cell> {
                   return {numberCell(issuers_[i].requests), textCell(issuers_[i].key_hash),
                           textCell(issuers_[i].name)};
                 }});
  out.push_back({"Clients",
                 "clients",
                 {{"CLIENT", "client"},
                  {"REQUESTS", "requests"},
                  {"SERIALS", "serials"},
                  {"FIRST SEEN", "first_seen"},
                  {"LAST SEEN", "last_seen"}},
                 ordered(
                     clients_.size(), [](uint32_t) { return true; },
                     [&](uint32_t x, uint32_t y) {
                       return std::tie(clients_[y].requests, clients_[x].address) <
                              std::tie(clients_[x].requests, clients_[y].address);
                     }),
                 [this, per_client = std::move(serials_per_client)](uint32_t i) {
                   const ClientRow& c = clients_[i];
                   return std::vector<Cell>{textCell(c.address), numberCell(c.requests),
                                            numberCell(per_client[i]), textCell(timeText(c.first)),
                                            textCell(timeText(c.last))};
                 }});
  out.push_back(
      {"Serials",
       "serials",
       {{"SERIAL", "serial"},
        {"REQUESTS", "requests"},
        {"LAST SEEN", "last_seen"},
        {"LAST STATUS", "last_status"},
        {"KEY HASH", "issuer_key_hash"},
        {"CLIENTS", "distinct_clients"},
        {"TOP CLIENTS", "clients"}},
       ordered(
           serials_.size(), [](uint32_t) { return true; }, by_serial(&SerialRow::requests)),
       [this](uint32_t i) -> std::vector<Cell> {
         const SerialRow& s = serials_[i];
         return {textCell(s.serial),
                 numberCell(s.requests),
                 textCell(timeText(s.last)),
                 textCell(std::string(kStatusNames[s.last_status])),
                 textCell(issuers_[s.issuer].key_hash),
                 numberCell(s.clients.size()),
                 topClients(s.clients)};
       }});
  if (!q_.serials) return out;
  out.push_back(
      {"Listed serials never seen",
       "never_seen",
       {{"SERIAL", "serial"}},
       ordered(
           listed_requests_.size(), [&](uint32_t i) { return listed_requests_[i] == 0; },
           std::less<uint32_t>()),
       [this](uint32_t i) -> std::vector<Cell> { return {textCell(q_.serials->serials[i])}; }});
  if (!q_.deadline_ms) return out;
  out.push_back({"Still seen on or after the deadline",
                 "seen_after_deadline",
                 {{"SERIAL", "serial"},
                  {"REQUESTS", "requests"},
                  {"LAST SEEN", "last_seen"},
                  {"KEY HASH", "issuer_key_hash"},
                  {"CLIENTS", "distinct_clients"},
                  {"TOP CLIENTS", "clients"}},
                 ordered(
                     serials_.size(), [&](uint32_t i) { return serials_[i].after > 0; },
                     by_serial(&SerialRow::after)),
                 [this](uint32_t i) -> std::vector<Cell> {
                   const SerialRow& s = serials_[i];
                   return {textCell(s.serial),
                           numberCell(s.after),
                           textCell(timeText(s.last_after)),
                           textCell(issuers_[s.issuer].key_hash),
                           numberCell(s.clients_after.size()),
                           topClients(s.clients_after)};
                 }});
  return out;
}

std::string ImpactReport::Impl::text(uint64_t malformed) const {
  std::string out = "Impact report\n";
  const auto total = [&](std::string_view label, const std::string& value) {
    out +=
        "  " + std::string(label) + std::string(20 - label.size(), ' ') + displayed(value) + "\n";
  };
  if (!q_.issuer.empty())
    total("issuer", "\"" + q_.issuer + "\" (subject contains it, or key hash)");
  if (q_.serials) {
    total("serial list",
          q_.serials_name + ": " + std::to_string(q_.serials->serials.size()) + " serials" +
              (q_.serials->duplicates == 0
                   ? ""
                   : " (+" + std::to_string(q_.serials->duplicates) + " listed twice)"));
  }
  if (q_.deadline_ms) total("deadline", timeText(*q_.deadline_ms));
  total("answers read", std::to_string(answers_));
  total("answers matching", std::to_string(matching_));
  total("malformed lines", std::to_string(malformed));
  if (answers_ == 0) {
    return out + "\nNo records: the log holds no answer" +
           (malformed != 0 ? " that could be read" : "") + ", so nothing to report.\n";
  }
  if (q_.serials) {
    const auto seen = static_cast<size_t>(std::count_if(
        listed_requests_.begin(), listed_requests_.end(), [](uint64_t n) { return n != 0; }));
    total("listed serials seen",
          std::to_string(seen) + " of " + std::to_string(listed_requests_.size()));
  }
  if (q_.deadline_ms) total("seen after deadline", std::to_string(seenAfterDeadline()));
  appendTables(out, sections());
  return out;
}

std::string ImpactReport::Impl::json(uint64_t malformed) const {
  JsonOut j;
  j.open('{');
  j.key("query");
  j.open('{');
  j.member("issuer", q_.issuer);
  j.member("serial_list", q_.serials_name);
  j.member("serials_listed", q_.serials ? q_.serials->serials.size() : 0);
  j.member("deadline", timeText(q_.deadline_ms.value_or(kNoTime)));
  j.close('}');
  j.key("totals");
  j.open('{');
  j.member("answers", answers_);
  j.member("matching", matching_);
  j.member("malformed", malformed);
  j.member("seen_after_deadline", seenAfterDeadline());
  j.close('}');
  j.sections(sections());
  j.close('}');
  return std::move(j.str()) + "\n";
}

ImpactReport::ImpactReport(ImpactQuery query) : impl_(std::make_unique<Impl>(std::move(query))) {}
ImpactReport::~ImpactReport() = default;
void ImpactReport::add(const Answer& a) { impl_->add(a); }
std::string ImpactReport::text(uint64_t malformed) const { return impl_->text(malformed); }
std::string ImpactReport::json(uint64_t malformed) const { return impl_->json(malformed); }
size_t ImpactReport::seenAfterDeadline() const { return impl_->seenAfterDeadline(); }

}  // namespace ocsp::report
