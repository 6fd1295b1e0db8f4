#pragma once
// The tables of `ocsp-proxy report`. Each table section is built once as cells; the text and
// JSON renderers show the same cells, so the two outputs cannot drift apart.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ocsp::report {

using Counts = std::map<std::string, uint64_t, std::less<>>;

struct Cell {
  enum Type : uint8_t { kNumber, kText, kList, kCounts };
  Type type = kText;
  uint64_t number = 0;                    // kNumber; kList: how many there are in all
  std::string text{};                     // kText: "" shows as "-" and as null
  std::vector<std::string_view> items{};  // kList: those listed
  const Counts* counts = nullptr;         // kCounts: not owned, outlives the cell
};
Cell numberCell(uint64_t n);
Cell textCell(std::string s);

struct Column {
  std::string_view header;  // text
  std::string_view key;     // JSON
};
// Rows are made when shown, so a report with a million revoked serials never holds a million
// rows of cells at once.
struct Section {
  std::string_view title;
  std::string_view key;
  std::vector<Column> columns;
  std::vector<uint32_t> ids;                       // one per row, in order
  std::function<std::vector<Cell>(uint32_t)> row;  // the cells of a row
};

// Ids 0..n-1 that pass `keep`, in `less` order: the rows of a section.
template <class Keep, class Less>
std::vector<uint32_t> ordered(size_t n, Keep keep, Less less) {
  std::vector<uint32_t> ids;
  for (uint32_t i = 0; i < n; ++i) {
    if (keep(i)) ids.push_back(i);
  }
  std::sort(ids.begin(), ids.end(), less);
  return ids;
}

// Appends `s` lower-cased (ASCII): key hashes and serials compare case-insensitively.
inline void appendLower(std::string& out, std::string_view s) {
  const size_t from = out.size();
  out += s;
  for (size_t i = from; i < out.size(); ++i) {
    if (out[i] >= 'A' && out[i] <= 'Z') out[i] = static_cast<char>(out[i] - 'A' + 'a');
  }
}

// Distinct keys -> row ids, looked up by string_view without allocating.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using Interned = std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>>;

// Index of `key` in `rows`, appending the row `make` returns the first time.
template <class Row, class Make>
uint32_t intern(Interned& index, std::vector<Row>& rows, std::string_view key, Make make) {
  if (auto it = index.find(key); it != index.end()) return it->second;
  const auto id = static_cast<uint32_t>(rows.size());
  index.emplace(std::string(key), id);
  rows.push_back(make());
  return id;
}

// A list cell of the `top` names with the highest counts (ties by name), and how many there
// are in all: the clients listed per serial.
Cell topList(std::vector<std::pair<uint64_t, std::string_view>> all, size_t top);

// Log text is untrusted: control characters (C0, DEL, C1) are shown as \xNN, never sent to a
// terminal.
std::string displayed(std::string_view s);

// Appends the rows of `s` under a header line, or "  (none)". Columns two spaces apart,
// numbers right-aligned, the last column not padded.
void appendTable(std::string& out, const Section& s);
// Each section as "\nTITLE (ROWS)\n" and its table.
void appendTables(std::string& out, const std::vector<Section>& sections);

// Builds one JSON object member by member; commas come by themselves.
class JsonOut {
 public:
  std::string& str() { return out_; }
  void key(std::string_view k);
  void open(char bracket);
  void close(char bracket) { out_ += bracket; }
  void number(uint64_t n);
  void text(std::string_view s);  // "" is null
  void member(std::string_view k, uint64_t n);
  void member(std::string_view k, std::string_view s);
  void cell(const Cell& c);
  // Each section as a member: its key -> an array of row objects keyed by column.
  void sections(const std::vector<Section>& sections);

 private:
  void comma();
  std::string out_;
};

}  // namespace ocsp::report
