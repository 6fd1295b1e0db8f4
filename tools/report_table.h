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

// Log text is untrusted: control characters (C0, DEL, C1) are shown as \xNN, never sent to a
// terminal.
std::string displayed(std::string_view s);

// Appends the rows of `s` under a header line, or "  (none)". Columns two spaces apart,
// numbers right-aligned, the last column not padded.
void appendTable(std::string& out, const Section& s);

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

 private:
  void comma();
  std::string out_;
};

}  // namespace ocsp::report
