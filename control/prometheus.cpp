#include "control/prometheus.hpp"

#include <cassert>
#include <charconv>
#include <cmath>

namespace sigrelay::control {
namespace {

using dataplane::LatencyHistogram;

bool is_name_start(char c, bool colon_ok) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':');
}

bool is_name_char(char c, bool colon_ok) { return is_name_start(c, colon_ok) || (c >= '0' && c <= '9'); }

bool matches_name_grammar(std::string_view s, bool colon_ok) {
  if (s.empty() || !is_name_start(s.front(), colon_ok)) return false;
  for (char c : s.substr(1)) {
    if (!is_name_char(c, colon_ok)) return false;
  }
  return true;
}

MetricsError check_metric_name(std::string_view name, MetricType type) {
  if (!is_valid_metric_name(name)) return MetricsError::bad_metric_name;
  const bool total = name.ends_with("_total");
  if (type == MetricType::counter) return total ? MetricsError::ok : MetricsError::counter_suffix;
  if (total) return MetricsError::reserved_suffix;
  if (type == MetricType::histogram) {
    return name.ends_with("_seconds") ? MetricsError::ok : MetricsError::histogram_unit;
  }
  if (name.ends_with("_bucket") || name.ends_with("_sum") || name.ends_with("_count")) {
    return MetricsError::reserved_suffix;
  }
  return MetricsError::ok;
}

MetricsError check_labels_of(std::span<const Label> labels) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const std::string_view n = labels[i].name;
    if (!is_valid_label_name(n) || n.starts_with("__")) return MetricsError::bad_label_name;
    if (n == "le" || n == "quantile") return MetricsError::reserved_label;
    for (std::size_t j = 0; j < i; ++j) {
      if (labels[j].name == n) return MetricsError::duplicate_label;
    }
  }
  return MetricsError::ok;
}

// Length of the well-formed UTF-8 sequence at the start of s, 0 if there is
// none (RFC 3629 §4: no overlongs, no surrogates, nothing past U+10FFFF).
std::size_t utf8_sequence(std::string_view s) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto cont = [&](std::size_t i, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return i < s.size() && byte(i) >= lo && byte(i) <= hi;
  };
  const unsigned b = byte(0);
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return cont(1) ? 2 : 0;
  if (b == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (b == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (b == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b >= 0xF1 && b <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

// HELP text escapes backslash and newline; label values also the double quote.
void append_escaped(std::string& out, std::string_view in, bool label_value) {
  while (!in.empty()) {
    const std::size_t n = utf8_sequence(in);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD for one stray byte
      in.remove_prefix(1);
      continue;
    }
    const char c = in.front();
    if (n == 1 && c == '\\') {
      out += "\\\\";
    } else if (n == 1 && c == '\n') {
      out += "\\n";
    } else if (n == 1 && c == '"' && label_value) {
      out += "\\\"";
    } else {
      out.append(in.substr(0, n));
    }
    in.remove_prefix(n);
  }
}

void append_label(std::string& out, std::string_view name, std::string_view value) {
  if (!out.empty()) out += ',';
  out.append(name);
  out += "=\"";
  append_escaped(out, value, true);
  out += '"';
}

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];  // shortest round-trip form is at most 24 characters
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  }
}

void append_sample(std::string& out, std::string_view name, std::string_view suffix, std::string_view labels) {
  out.append(name);
  out.append(suffix);
  if (!labels.empty()) {
    out += '{';
    out.append(labels);
    out += '}';
  }
  out += ' ';
}

}  // namespace

std::string_view to_string(MetricType t) {
  switch (t) {
    case MetricType::counter: return "counter";
    case MetricType::gauge: return "gauge";
    case MetricType::histogram: return "histogram";
  }
  return "?";
}

std::string_view to_string(MetricsError e) {
  switch (e) {
    case MetricsError::ok: return "ok";
    case MetricsError::bad_metric_name: return "bad_metric_name";
    case MetricsError::counter_suffix: return "counter_suffix";
    case MetricsError::reserved_suffix: return "reserved_suffix";
    case MetricsError::histogram_unit: return "histogram_unit";
    case MetricsError::bad_label_name: return "bad_label_name";
    case MetricsError::reserved_label: return "reserved_label";
    case MetricsError::duplicate_label: return "duplicate_label";
    case MetricsError::family_conflict: return "family_conflict";
    case MetricsError::duplicate_series: return "duplicate_series";
  }
  return "?";
}

bool is_valid_metric_name(std::string_view name) { return matches_name_grammar(name, true); }

bool is_valid_label_name(std::string_view name) { return matches_name_grammar(name, false); }

MetricsError check_sample(std::string_view name, MetricType type, std::span<const Label> labels) {
  const MetricsError e = check_metric_name(name, type);
  return e != MetricsError::ok ? e : check_labels_of(labels);
}

std::string micros_to_seconds(std::uint64_t micros) {
  std::string out;
  append_uint(out, micros / 1'000'000);
  std::uint64_t frac = micros % 1'000'000;
  if (frac == 0) return out;
  char digits[6];
  for (int i = 5; i >= 0; --i) {
    digits[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  std::size_t len = 6;
  while (digits[len - 1] == '0') --len;
  out += '.';
  out.append(digits, len);
  return out;
}

MetricsError MetricsWriter::reject(std::string_view name, MetricsError e) {
  problems_.push_back({std::string(name), e});
  // Names and label names are constants in our code: breaking the rules is
  // a bug to catch in tests. A repeated label set can come from runtime data.
  assert(e == MetricsError::duplicate_series || !"metric name or labels break the exposition rules");
  return e;
}

MetricsWriter::Family* MetricsWriter::admit(std::string_view name, MetricType type, std::string_view help,
                                            std::span<const Label> labels, std::string& label_text) {
  const MetricsError e = check_sample(name, type, labels);
  if (e != MetricsError::ok) {
    reject(name, e);
    return nullptr;
  }
  for (const Label& l : labels) append_label(label_text, l.name, l.value);

  const auto it = index_.find(name);
  if (it == index_.end()) {
    index_.emplace(std::string(name), families_.size());
    families_.push_back({std::string(name), type, std::string(help), {}, {label_text}});
    return &families_.back();
  }
  Family& f = families_[it->second];
  if (f.type != type || f.help != help) {
    reject(name, MetricsError::family_conflict);
    return nullptr;
  }
  for (const std::string& s : f.series) {
    if (s == label_text) {
      reject(name, MetricsError::duplicate_series);
      return nullptr;
    }
  }
  f.series.push_back(label_text);
  return &f;
}

MetricsError MetricsWriter::counter(std::string_view name, std::string_view help, std::span<const Label> labels,
                                    std::uint64_t value) {
  std::string label_text;
  Family* f = admit(name, MetricType::counter, help, labels, label_text);
  if (f == nullptr) return problems_.back().error;
  append_sample(f->samples, name, "", label_text);
  append_uint(f->samples, value);
  f->samples += '\n';
  return MetricsError::ok;
}

MetricsError MetricsWriter::gauge(std::string_view name, std::string_view help, std::span<const Label> labels,
                                  double value) {
  std::string label_text;
  Family* f = admit(name, MetricType::gauge, help, labels, label_text);
  if (f == nullptr) return problems_.back().error;
  append_sample(f->samples, name, "", label_text);
  append_double(f->samples, value);
  f->samples += '\n';
  return MetricsError::ok;
}

MetricsError MetricsWriter::histogram(std::string_view name, std::string_view help, std::span<const Label> labels,
                                      const LatencyHistogram::Snapshot& snapshot) {
  std::string label_text;
  Family* f = admit(name, MetricType::histogram, help, labels, label_text);
  if (f == nullptr) return problems_.back().error;
  const LatencyHistogram::PrometheusBuckets cumulative = snapshot.prometheus_buckets();
  std::string bucket_labels;
  for (std::size_t k = 0; k < cumulative.size(); ++k) {
    bucket_labels = label_text;
    const bool inf = k == LatencyHistogram::kPrometheusBounds;
    append_label(bucket_labels, "le",
                 inf ? std::string("+Inf") : micros_to_seconds(LatencyHistogram::kPrometheusBoundsMicros[k]));
    append_sample(f->samples, name, "_bucket", bucket_labels);
    append_uint(f->samples, cumulative[k]);
    f->samples += '\n';
  }
  append_sample(f->samples, name, "_sum", label_text);
  f->samples += micros_to_seconds(snapshot.sum);
  f->samples += '\n';
  append_sample(f->samples, name, "_count", label_text);
  append_uint(f->samples, cumulative.back());
  f->samples += '\n';
  return MetricsError::ok;
}

std::string MetricsWriter::str() const {
  std::string out;
  for (const Family& f : families_) {
    out += "# HELP ";
    out += f.name;
    out += ' ';
    append_escaped(out, f.help, false);
    out += "\n# TYPE ";
    out += f.name;
    out += ' ';
    out += to_string(f.type);
    out += '\n';
    out += f.samples;
  }
  return out;
}

}  // namespace sigrelay::control
