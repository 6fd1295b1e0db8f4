#include "tools/report_table.h"

#include <algorithm>
#include <cstdio>

#include "core/json.h"

namespace ocsp::report {
namespace {

std::string cellText(const Cell& c) {
  std::string out;
  switch (c.type) {
    case Cell::kNumber:
      return std::to_string(c.number);
    case Cell::kText:
      return c.text.empty() ? "-" : displayed(c.text);
    case Cell::kList:
      for (auto item : c.items) out += (out.empty() ? "" : ", ") + displayed(item);
      if (c.number > c.items.size() && !c.items.empty()) {
        out += " (+" + std::to_string(c.number - c.items.size()) + " more)";
      }
      break;
    case Cell::kCounts:
      for (const auto& [k, n] : *c.counts) {
        out += (out.empty() ? "" : " ") + displayed(k) + "=" + std::to_string(n);
      }
      break;
  }
  return out.empty() ? "-" : out;
}

size_t displayWidth(std::string_view s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

}  // namespace

Cell topList(std::vector<std::pair<uint64_t, std::string_view>> all, size_t top) {
  const size_t n = std::min(top, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<ptrdiff_t>(n), all.end(),
                    [](const auto& x, const auto& y) {
                      return x.first != y.first ? x.first > y.first : x.second < y.second;
                    });
  Cell out{.type = Cell::kList, .number = all.size()};
  for (size_t i = 0; i < n; ++i) out.items.push_back(all[i].second);
  return out;
}

Cell numberCell(uint64_t n) { return {.type = Cell::kNumber, .number = n}; }
Cell textCell(std::string s) { return {.type = Cell::kText, .text = std::move(s)}; }

std::string displayed(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const auto next = i + 1 < s.size() ? static_cast<unsigned char>(s[i + 1]) : 0;
    const bool c1 = c == 0xC2 && next >= 0x80 && next < 0xA0;
    if (c < 0x20 || c == 0x7F || c1) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c1 ? static_cast<unsigned>(s[++i] & 0xFF) : c);
      out += buf;
    } else {
      out += s[i];
    }
  }
  return out;
}

void appendTable(std::string& out, const Section& s) {
  if (s.ids.empty()) {
    out += "  (none)\n";
    return;
  }
  std::vector<size_t> width;
  for (const auto& c : s.columns) width.push_back(c.header.size());
  std::vector<bool> right(s.columns.size(), false);
  for (uint32_t id : s.ids) {
    const auto cells = s.row(id);
    for (size_t i = 0; i < cells.size(); ++i) {
      width[i] = std::max(width[i], displayWidth(cellText(cells[i])));
      right[i] = cells[i].type == Cell::kNumber;
    }
  }
  const auto line = [&](const std::vector<std::string>& shown) {
    out += ' ';
    for (size_t i = 0; i < shown.size(); ++i) {
      const std::string& v = shown[i];
      const std::string pad(width[i] - displayWidth(v), ' ');
      const bool last = i + 1 == shown.size();
      out += ' ' + (right[i] ? pad + v : last ? v : v + pad) + (last ? "" : " ");
    }
    out += '\n';
  };
  std::vector<std::string> shown;
  for (const auto& c : s.columns) shown.emplace_back(c.header);
  line(shown);
  for (uint32_t id : s.ids) {
    shown.clear();
    for (const Cell& c : s.row(id)) shown.push_back(cellText(c));
    line(shown);
  }
}

void appendTables(std::string& out, const std::vector<Section>& sections) {
  for (const Section& s : sections) {
    out += "\n" + std::string(s.title) + " (" + std::to_string(s.ids.size()) + ")\n";
    appendTable(out, s);
  }
}

void JsonOut::sections(const std::vector<Section>& sections) {
  for (const Section& s : sections) {
    key(s.key);
    open('[');
    for (uint32_t id : s.ids) {
      open('{');
      const auto cells = s.row(id);
      for (size_t i = 0; i < cells.size(); ++i) {
        key(s.columns[i].key);
        cell(cells[i]);
      }
      close('}');
    }
    close(']');
  }
}

void JsonOut::key(std::string_view k) {
  comma();
  appendJsonString(out_, k);
  out_ += ':';
}

void JsonOut::open(char bracket) {
  comma();
  out_ += bracket;
}

void JsonOut::number(uint64_t n) {
  comma();
  out_ += std::to_string(n);
}

void JsonOut::text(std::string_view s) {
  comma();
  if (s.empty()) {
    out_ += "null";
  } else {
    appendJsonString(out_, s);
  }
}

void JsonOut::member(std::string_view k, uint64_t n) {
  key(k);
  number(n);
}

void JsonOut::member(std::string_view k, std::string_view s) {
  key(k);
  text(s);
}

void JsonOut::cell(const Cell& c) {
  switch (c.type) {
    case Cell::kNumber:
      return number(c.number);
    case Cell::kText:
      return text(c.text);
    case Cell::kList:
      open('[');
      for (auto item : c.items) text(item);
      return close(']');
    case Cell::kCounts:
      open('{');
      for (const auto& [k, n] : *c.counts) member(k, n);
      return close('}');
  }
}

void JsonOut::comma() {
  if (!out_.empty() && out_.back() != '{' && out_.back() != '[' && out_.back() != ':') {
    out_ += ',';
  }
}

}  // namespace ocsp::report
