// Builds a Prometheus text exposition (format 0.0.4) for the stats socket.
//
// Each call adds one sample; samples are buffered by family (metric name),
// so a family's HELP and TYPE come once and its samples stay together even
// when the caller writes worker 0's counters, then worker 1's. Families come
// out in the order they were first written.
//
// Conventions the writer enforces (docs/metrics.md): names match the metric
// name grammar, counters end in _total and nothing else does, histograms are
// in seconds (name ends in _seconds), other names do not end in _bucket,
// _sum or _count, label names match the label grammar, are not reserved
// (__*, le, quantile) and do not repeat within a sample. (The suffix rules
// also keep a histogram's series from colliding with another family.) A name
// or label that breaks them is a programming error: assert in debug builds;
// in release builds the sample is skipped and listed in problems(). A repeated
// label set in one family can come from runtime data (two targets with the
// same address), so it is only skipped and listed, never asserted.
//
// Label values are escaped (backslash, double quote, newline) and bytes that
// are not UTF-8 become U+FFFD, so any value yields a parsable exposition.
// Control thread only; allocates.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/latency_histogram.hpp"

namespace sigrelay::control {

struct Label {
  std::string_view name;
  std::string_view value;
};

enum class MetricType : std::uint8_t { counter, gauge, histogram };

enum class MetricsError : std::uint8_t {
  ok = 0,
  bad_metric_name,   // not [a-zA-Z_:][a-zA-Z0-9_:]*
  counter_suffix,    // a counter whose name does not end in _total
  reserved_suffix,   // a non-counter ending in _total, a non-histogram ending in _bucket/_sum/_count
  histogram_unit,    // a histogram whose name does not end in _seconds
  bad_label_name,    // not [a-zA-Z_][a-zA-Z0-9_]*, or starts with "__"
  reserved_label,    // le or quantile
  duplicate_label,   // the same label name twice in one sample
  family_conflict,   // name written before with another type or help
  duplicate_series,  // the same label set twice in one family
};

std::string_view to_string(MetricType t);
std::string_view to_string(MetricsError e);

bool is_valid_metric_name(std::string_view name);
bool is_valid_label_name(std::string_view name);  // grammar only; reserved names are valid here
// The per-sample rules above (all but family_conflict and duplicate_series),
// without asserting: what the writer checks first.
MetricsError check_sample(std::string_view name, MetricType type, std::span<const Label> labels);

struct MetricsProblem {
  std::string name;  // the metric family
  MetricsError error;
};

class MetricsWriter {
 public:
  MetricsError counter(std::string_view name, std::string_view help, std::span<const Label> labels,
                       std::uint64_t value);
  MetricsError gauge(std::string_view name, std::string_view help, std::span<const Label> labels,
                     double value);
  // _bucket at LatencyHistogram::kPrometheusBoundsMicros and +Inf, _sum and
  // _count; microseconds become seconds exactly.
  MetricsError histogram(std::string_view name, std::string_view help, std::span<const Label> labels,
                         const dataplane::LatencyHistogram::Snapshot& snapshot);

  // For literal label sets: w.counter("x_total", "help", {{"worker", "0"}}, n).
  MetricsError counter(std::string_view name, std::string_view help, std::initializer_list<Label> labels,
                       std::uint64_t value) {
    return counter(name, help, std::span<const Label>(labels.begin(), labels.size()), value);
  }
  MetricsError gauge(std::string_view name, std::string_view help, std::initializer_list<Label> labels,
                     double value) {
    return gauge(name, help, std::span<const Label>(labels.begin(), labels.size()), value);
  }
  MetricsError histogram(std::string_view name, std::string_view help, std::initializer_list<Label> labels,
                         const dataplane::LatencyHistogram::Snapshot& snapshot) {
    return histogram(name, help, std::span<const Label>(labels.begin(), labels.size()), snapshot);
  }

  std::string str() const;
  const std::vector<MetricsProblem>& problems() const { return problems_; }

 private:
  struct Family {
    std::string name;
    MetricType type;
    std::string help;
    std::string samples;              // finished sample lines
    std::vector<std::string> series;  // formatted label sets already written
  };

  // The family to append to, or nullptr after recording why not.
  Family* admit(std::string_view name, MetricType type, std::string_view help, std::span<const Label> labels,
                std::string& label_text);
  MetricsError reject(std::string_view name, MetricsError e);

  std::vector<Family> families_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::vector<MetricsProblem> problems_;
};

// Microseconds as decimal seconds, exactly: 50 -> "0.00005", 2000000 -> "2".
std::string micros_to_seconds(std::uint64_t micros);

}  // namespace sigrelay::control
