#include "core/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>

#ifndef OCSP_PROXY_VERSION
#define OCSP_PROXY_VERSION "unknown"
#endif

namespace ocsp {

namespace {

// --- The table is checked at compile time, so a bad row never reaches a scrape. ---

constexpr bool isAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Prometheus data model: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names
// [a-zA-Z_][a-zA-Z0-9_]* with the __ prefix reserved.
constexpr bool validName(std::string_view s, bool allow_colon) {
  if (s.empty() || isDigit(s[0])) return false;
  for (char c : s) {
    if (!isAsciiLetter(c) && !isDigit(c) && c != '_' && !(allow_colon && c == ':')) return false;
  }
  return true;
}

constexpr bool validLabelNames(const MetricDef& def) {
  for (size_t i = 0; i < def.labelCount(); ++i) {
    std::string_view label = def.labelName(i);
    if (!validName(label, false) || label.starts_with("__")) return false;
    if (def.type == MetricType::Histogram && label == "le") return false;
    for (size_t j = 0; j < i; ++j) {
      if (def.labelName(j) == label) return false;
    }
  }
  return true;
}

constexpr bool validBuckets(const MetricDef& def) {
  if (def.type != MetricType::Histogram) return def.buckets.empty();
  if (def.buckets.empty() || def.buckets.size() + 1 > kMaxHistogramBuckets) return false;
  for (size_t i = 0; i < def.buckets.size(); ++i) {
    double b = def.buckets[i];
    constexpr double inf = std::numeric_limits<double>::infinity();
    if (!(b < inf && b > -inf)) return false;  // also rejects NaN
    if (i > 0 && !(def.buckets[i - 1] < b)) return false;
  }
  return true;
}

constexpr bool tableIsValid() {
  for (size_t i = 0; i < kMetricCount; ++i) {
    const MetricDef& def = kMetrics[i];
    if (!validName(def.name, true) || def.help.empty()) return false;
    if (def.type == MetricType::Counter && !def.name.ends_with("_total")) return false;
    if (!validLabelNames(def) || !validBuckets(def)) return false;
    for (size_t j = 0; j < i; ++j) {
      if (kMetrics[j].name == def.name) return false;
    }
  }
  return true;
}
static_assert(tableIsValid(),
              "OCSP_PROXY_METRICS: a name, label, help text or bucket list breaks the rules "
              "checked in tableIsValid()");

// --- Rendering ---

void appendEscaped(std::string& out, std::string_view s, bool escape_quote) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

template <class Int>
void appendInt(std::string& out, Int v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

// Shortest text that reads back as the same double (Go's FormatFloat(v, 'g', -1, 64), as
// the Prometheus clients use), with the spellings the text format wants for the rest.
void appendDouble(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    auto res = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, res.ptr);
  }
}

using LabelKey = std::vector<std::string>;

// Orders label sets by their values, lexicographically; transparent so that a lookup with
// the caller's initializer_list<string_view> does not allocate.
struct LabelKeyLess {
  using is_transparent = void;
  template <class A, class B>
  bool operator()(const A& a, const B& b) const {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
  }
};

// {a="x",b="y"} plus an optional trailing le; nothing at all when there are no labels.
void appendLabels(std::string& out, const MetricDef& def, const LabelKey& values,
                  const std::string* le = nullptr) {
  if (values.empty() && le == nullptr) return;
  out += '{';
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += def.labelName(i);
    out += "=\"";
    appendEscaped(out, values[i], true);
    out += '"';
  }
  if (le != nullptr) {
    if (!values.empty()) out += ',';
    out += "le=\"";
    out += *le;
    out += '"';
  }
  out += '}';
}

void appendSampleStart(std::string& out, const MetricDef& def, std::string_view suffix,
                       const LabelKey& values, const std::string* le = nullptr) {
  out += def.name;
  out += suffix;
  appendLabels(out, def, values, le);
  out += ' ';
}

[[noreturn]] void misuse(const MetricDef& def, const std::string& what) {
  std::fprintf(stderr, "ocsp-proxy: metrics: %.*s: %s\n", static_cast<int>(def.name.size()),
               def.name.data(), what.c_str());
  std::abort();
}

template <class Map, class... Args>
auto& findOrCreate(Map& map, Metrics::LabelValues values, Args&&... args) {
  auto it = map.find(values);
  if (it == map.end()) {
    it = map.try_emplace(LabelKey(values.begin(), values.end()), std::forward<Args>(args)...).first;
  }
  return it->second;
}

}  // namespace

std::string_view metricTypeName(MetricType type) {
  switch (type) {
    case MetricType::Counter:
      return "counter";
    case MetricType::Gauge:
      return "gauge";
    case MetricType::Histogram:
      return "histogram";
  }
  return "untyped";
}

std::string escapeHelpText(std::string_view text) {
  std::string out;
  appendEscaped(out, text, false);
  return out;
}

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  appendEscaped(out, value, true);
  return out;
}

// Only the map that matches the row's type is ever filled.
struct Metrics::Family {
  std::map<LabelKey, Counter, LabelKeyLess> counters;
  std::map<LabelKey, Gauge, LabelKeyLess> gauges;
  std::map<LabelKey, Histogram, LabelKeyLess> histograms;
};

Metrics::Metrics() : families_(std::make_unique<Family[]>(kMetricCount)) {
  for (size_t i = 0; i < kMetricCount; ++i) {
    const MetricDef& def = kMetrics[i];
    if (def.labelCount() > 0) continue;
    Family& fam = families_[i];
    switch (def.type) {
      case MetricType::Counter:
        fam.counters.try_emplace(LabelKey{});
        break;
      case MetricType::Gauge:
        fam.gauges.try_emplace(LabelKey{});
        break;
      case MetricType::Histogram:
        fam.histograms.try_emplace(LabelKey{}, def.buckets);
        break;
    }
  }
  gauge(Metric::BuildInfo, {OCSP_PROXY_VERSION}).set(1);
}

Metrics::~Metrics() = default;

Metrics::Family& Metrics::family(Metric m, MetricType type, size_t label_value_count) {
  auto index = static_cast<size_t>(m);
  if (index >= kMetricCount) {
    std::fprintf(stderr, "ocsp-proxy: metrics: no metric #%zu in the table\n", index);
    std::abort();
  }
  const MetricDef& def = kMetrics[index];
  if (def.type != type) {
    misuse(def, "is a " + std::string(metricTypeName(def.type)) + ", not a " +
                    std::string(metricTypeName(type)));
  }
  if (label_value_count != def.labelCount()) {
    misuse(def, "takes " + std::to_string(def.labelCount()) + " label values, given " +
                    std::to_string(label_value_count));
  }
  return families_[index];
}

Counter& Metrics::counter(Metric m, LabelValues label_values) {
  Family& fam = family(m, MetricType::Counter, label_values.size());
  std::lock_guard lock(series_mutex_);
  return findOrCreate(fam.counters, label_values);
}

Gauge& Metrics::gauge(Metric m, LabelValues label_values) {
  Family& fam = family(m, MetricType::Gauge, label_values.size());
  std::lock_guard lock(series_mutex_);
  Gauge& g = findOrCreate(fam.gauges, label_values);
  g.resolved_in_scrape_ = scrape_number_;
  return g;
}

void Metrics::collectedEachScrape(Metric m) {
  family(m, MetricType::Gauge, metricDef(m).labelCount());  // checks the type
  std::lock_guard lock(series_mutex_);
  collected_[static_cast<size_t>(m)] = true;
}

Histogram& Metrics::histogram(Metric m, LabelValues label_values) {
  Family& fam = family(m, MetricType::Histogram, label_values.size());
  std::lock_guard lock(series_mutex_);
  return findOrCreate(fam.histograms, label_values, metricDef(m).buckets);
}

void Metrics::addCollector(Collector collector) {
  std::lock_guard lock(collectors_mutex_);
  collectors_.push_back(std::move(collector));
}

std::string Metrics::exposition() {
  std::lock_guard scrape(scrape_mutex_);
  std::vector<Collector> collectors;
  {
    std::lock_guard lock(collectors_mutex_);
    collectors = collectors_;
  }
  {
    std::lock_guard lock(series_mutex_);
    ++scrape_number_;
  }
  for (const Collector& collect : collectors) collect(*this);

  std::string out;
  std::lock_guard lock(series_mutex_);
  for (size_t i = 0; i < kMetricCount; ++i) {
    const MetricDef& def = kMetrics[i];
    const Family& fam = families_[i];
    out += "# HELP ";
    out += def.name;
    out += ' ';
    appendEscaped(out, def.help, false);
    out += "\n# TYPE ";
    out += def.name;
    out += ' ';
    out += metricTypeName(def.type);
    out += '\n';
    for (const auto& [values, c] : fam.counters) {
      appendSampleStart(out, def, "", values);
      appendInt(out, c.value());
      out += '\n';
    }
    for (const auto& [values, g] : fam.gauges) {
      if (collected_[i] && g.resolved_in_scrape_ != scrape_number_) continue;  // removed
      appendSampleStart(out, def, "", values);
      appendInt(out, g.value());
      out += '\n';
    }
    for (const auto& [values, h] : fam.histograms) {
      // One read per bucket, summed here, so the buckets are cumulative and _count equals
      // the +Inf bucket even while observe() runs concurrently.
      uint64_t cumulative = 0;
      std::string le;
      for (size_t b = 0; b <= def.buckets.size(); ++b) {
        le.clear();
        if (b < def.buckets.size()) {
          appendDouble(le, def.buckets[b]);
        } else {
          le = "+Inf";
        }
        cumulative += h.bucketCount(b);
        appendSampleStart(out, def, "_bucket", values, &le);
        appendInt(out, cumulative);
        out += '\n';
      }
      appendSampleStart(out, def, "_sum", values);
      appendDouble(out, h.sum());
      out += '\n';
      appendSampleStart(out, def, "_count", values);
      appendInt(out, cumulative);
      out += '\n';
    }
  }
  return out;
}

}  // namespace ocsp
