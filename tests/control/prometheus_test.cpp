#include "control/prometheus.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

namespace sigrelay::control {

// Readable failures: the error's name, not a byte dump.
void PrintTo(MetricsError e, std::ostream* os) { *os << to_string(e); }

namespace {

using dataplane::LatencyHistogram;

TEST(Prometheus, FamiliesStayTogetherWithOneHelpAndType) {
  MetricsWriter w;
  EXPECT_EQ(w.counter("sigrelay_invites_total", "INVITEs received.", {{"worker", "0"}}, 5), MetricsError::ok);
  EXPECT_EQ(w.counter("sigrelay_drops_total", "Datagrams dropped.", {}, 2), MetricsError::ok);
  EXPECT_EQ(w.counter("sigrelay_invites_total", "INVITEs received.", {{"worker", "1"}}, 7), MetricsError::ok);
  EXPECT_EQ(w.str(),
            "# HELP sigrelay_invites_total INVITEs received.\n"
            "# TYPE sigrelay_invites_total counter\n"
            "sigrelay_invites_total{worker=\"0\"} 5\n"
            "sigrelay_invites_total{worker=\"1\"} 7\n"
            "# HELP sigrelay_drops_total Datagrams dropped.\n"
            "# TYPE sigrelay_drops_total counter\n"
            "sigrelay_drops_total 2\n");
  EXPECT_TRUE(w.problems().empty());
}

TEST(Prometheus, LabelsKeepTheirOrderAndTakeASpan) {
  MetricsWriter w;
  const std::vector<Label> labels = {{"worker", "3"}, {"code", "503"}, {"reason", "timeout"}};
  w.counter("sigrelay_local_responses_total", "Answered locally.", labels, 18446744073709551615ULL);
  EXPECT_EQ(w.str(),
            "# HELP sigrelay_local_responses_total Answered locally.\n"
            "# TYPE sigrelay_local_responses_total counter\n"
            "sigrelay_local_responses_total{worker=\"3\",code=\"503\",reason=\"timeout\"} 18446744073709551615\n");
}

TEST(Prometheus, GaugeValuesIncludingTheSpecialOnes) {
  MetricsWriter w;
  w.gauge("g", "h", {{"v", "a"}}, 1.5);
  w.gauge("g", "h", {{"v", "b"}}, -2);
  w.gauge("g", "h", {{"v", "c"}}, 0);
  w.gauge("g", "h", {{"v", "d"}}, 1e21);
  w.gauge("g", "h", {{"v", "e"}}, std::nan(""));
  w.gauge("g", "h", {{"v", "f"}}, std::numeric_limits<double>::infinity());
  w.gauge("g", "h", {{"v", "g"}}, -std::numeric_limits<double>::infinity());
  // The text format takes Go's float syntax plus NaN, +Inf and -Inf.
  EXPECT_EQ(w.str(),
            "# HELP g h\n"
            "# TYPE g gauge\n"
            "g{v=\"a\"} 1.5\n"
            "g{v=\"b\"} -2\n"
            "g{v=\"c\"} 0\n"
            "g{v=\"d\"} 1e+21\n"
            "g{v=\"e\"} NaN\n"
            "g{v=\"f\"} +Inf\n"
            "g{v=\"g\"} -Inf\n");
}

TEST(Prometheus, EscapesLabelValuesAndHelp) {
  MetricsWriter w;
  // Label values escape backslash, double quote and newline; HELP escapes
  // backslash and newline only (exposition format 0.0.4).
  w.gauge("sigrelay_upstream_up", "Per target.\nA back\\slash and \"quotes\".",
          {{"target", "a\\b\"c\nd"}}, 1);
  EXPECT_EQ(w.str(),
            "# HELP sigrelay_upstream_up Per target.\\nA back\\\\slash and \"quotes\".\n"
            "# TYPE sigrelay_upstream_up gauge\n"
            "sigrelay_upstream_up{target=\"a\\\\b\\\"c\\nd\"} 1\n");
}

TEST(Prometheus, BytesThatAreNotUtf8BecomeReplacementCharacters) {
  MetricsWriter w;
  const std::string fffd = "\xEF\xBF\xBD";
  w.gauge("g", "h", {{"v", "ok\xff"}}, 1);         // a stray byte
  w.gauge("g", "h", {{"v", "caf\xC3\xA9"}}, 2);     // é stays
  w.gauge("g", "h", {{"v", "\xC0\x80"}}, 3);        // overlong NUL: two bad bytes
  w.gauge("g", "h", {{"v", "\xED\xA0\x80"}}, 4);    // a UTF-16 surrogate: three
  w.gauge("g", "h", {{"v", "x\xF0\x9F\x93"}}, 5);   // truncated 4-byte sequence: three
  w.gauge("g", "h", {{"v", "\xF4\x90\x80\x80"}}, 6);  // past U+10FFFF
  EXPECT_EQ(w.str(),
            "# HELP g h\n"
            "# TYPE g gauge\n"
            "g{v=\"ok" + fffd + "\"} 1\n"
            "g{v=\"caf\xC3\xA9\"} 2\n"
            "g{v=\"" + fffd + fffd + "\"} 3\n"
            "g{v=\"" + fffd + fffd + fffd + "\"} 4\n"
            "g{v=\"x" + fffd + fffd + fffd + "\"} 5\n"
            "g{v=\"" + fffd + fffd + fffd + fffd + "\"} 6\n");
}

TEST(Prometheus, MicrosecondsBecomeExactDecimalSeconds) {
  EXPECT_EQ(micros_to_seconds(0), "0");
  EXPECT_EQ(micros_to_seconds(1), "0.000001");
  EXPECT_EQ(micros_to_seconds(50), "0.00005");
  EXPECT_EQ(micros_to_seconds(1'000'000), "1");
  EXPECT_EQ(micros_to_seconds(1'500'000), "1.5");
  EXPECT_EQ(micros_to_seconds(52'428'800), "52.4288");
  EXPECT_EQ(micros_to_seconds(18446744073709551615ULL), "18446744073709.551615");
}

TEST(Prometheus, HistogramInSecondsWithCumulativeBuckets) {
  LatencyHistogram h;
  h.record(50);
  h.record(150);
  h.record(3'000'000);
  MetricsWriter w;
  EXPECT_EQ(w.histogram("sigrelay_service_rtt_seconds", "Time to the service's final.", {{"service", "sim"}},
                        h.snapshot()),
            MetricsError::ok);
  // Bounds are 25 µs * 2^k; each counts the values <= it: 50 µs is in the
  // first, 150 µs from 200 µs on, 3 s from 3.2768 s on.
  const std::string b = "sigrelay_service_rtt_seconds_bucket{service=\"sim\",le=";
  EXPECT_EQ(w.str(),
            "# HELP sigrelay_service_rtt_seconds Time to the service's final.\n"
            "# TYPE sigrelay_service_rtt_seconds histogram\n" +
                b + "\"0.00005\"} 1\n" + b + "\"0.0001\"} 1\n" + b + "\"0.0002\"} 2\n" + b + "\"0.0004\"} 2\n" +
                b + "\"0.0008\"} 2\n" + b + "\"0.0016\"} 2\n" + b + "\"0.0032\"} 2\n" + b + "\"0.0064\"} 2\n" +
                b + "\"0.0128\"} 2\n" + b + "\"0.0256\"} 2\n" + b + "\"0.0512\"} 2\n" + b + "\"0.1024\"} 2\n" +
                b + "\"0.2048\"} 2\n" + b + "\"0.4096\"} 2\n" + b + "\"0.8192\"} 2\n" + b + "\"1.6384\"} 2\n" +
                b + "\"3.2768\"} 3\n" + b + "\"6.5536\"} 3\n" + b + "\"13.1072\"} 3\n" + b + "\"26.2144\"} 3\n" +
                b + "\"52.4288\"} 3\n" + b + "\"+Inf\"} 3\n" +
                "sigrelay_service_rtt_seconds_sum{service=\"sim\"} 3.0002\n"
                "sigrelay_service_rtt_seconds_count{service=\"sim\"} 3\n");
}

TEST(Prometheus, HistogramInfBucketEqualsCountIncludingOverflow) {
  LatencyHistogram h;
  h.record(LatencyHistogram::kMaxTrackedMicros + 1);  // past every finite bucket
  h.record(60'000'000);                               // past the last bound, 52.4288 s
  h.record(10);
  MetricsWriter w;
  w.histogram("x_seconds", "h", {}, h.snapshot());
  const std::string text = w.str();
  EXPECT_NE(text.find("x_seconds_bucket{le=\"52.4288\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_count 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_seconds_sum 194.217739\n"), std::string::npos) << text;  // 134217729 + 60000000 + 10 µs
}

TEST(Prometheus, EmptyHistogramStillHasEveryLine) {
  MetricsWriter w;
  w.histogram("x_seconds", "h", {}, LatencyHistogram::Snapshot{});
  const std::string text = w.str();
  std::size_t lines = 0;
  for (char c : text) lines += c == '\n' ? 1 : 0;
  EXPECT_EQ(lines, 2 + LatencyHistogram::kPrometheusBounds + 1 + 2);  // HELP, TYPE, buckets, +Inf, sum, count
  EXPECT_NE(text.find("x_seconds_bucket{le=\"+Inf\"} 0\nx_seconds_sum 0\nx_seconds_count 0\n"), std::string::npos);
}

TEST(Prometheus, NameGrammar) {
  for (const char* ok : {"a", "_a", "a:b", "sigrelay_invites_total", "A9"}) {
    EXPECT_TRUE(is_valid_metric_name(ok)) << ok;
  }
  for (const char* bad : {"", "1a", "a-b", "a b", "caf\xC3\xA9", "a.b"}) {
    EXPECT_FALSE(is_valid_metric_name(bad)) << bad;
  }
  for (const char* ok : {"worker", "_w", "le", "W0"}) EXPECT_TRUE(is_valid_label_name(ok)) << ok;
  for (const char* bad : {"", "a:b", "1a", "a-b"}) EXPECT_FALSE(is_valid_label_name(bad)) << bad;
}

TEST(Prometheus, SampleRules) {
  const std::vector<Label> none;
  const std::vector<Label> worker = {{"worker", "0"}};
  auto check = [](std::string_view name, MetricType t, const std::vector<Label>& l) {
    return check_sample(name, t, l);
  };
  EXPECT_EQ(check("sigrelay_x_total", MetricType::counter, worker), MetricsError::ok);
  EXPECT_EQ(check("sigrelay_x", MetricType::counter, none), MetricsError::counter_suffix);
  EXPECT_EQ(check("sigrelay-x_total", MetricType::counter, none), MetricsError::bad_metric_name);
  EXPECT_EQ(check("sigrelay_x_total", MetricType::gauge, none), MetricsError::reserved_suffix);
  EXPECT_EQ(check("sigrelay_x_count", MetricType::gauge, none), MetricsError::reserved_suffix);
  EXPECT_EQ(check("sigrelay_x_sum", MetricType::gauge, none), MetricsError::reserved_suffix);
  EXPECT_EQ(check("sigrelay_x_bucket", MetricType::gauge, none), MetricsError::reserved_suffix);
  EXPECT_EQ(check("sigrelay_x_seconds", MetricType::histogram, none), MetricsError::ok);
  EXPECT_EQ(check("sigrelay_x_milliseconds_total", MetricType::histogram, none), MetricsError::reserved_suffix);
  EXPECT_EQ(check("sigrelay_x_ms", MetricType::histogram, none), MetricsError::histogram_unit);
  EXPECT_EQ(check("g", MetricType::gauge, {{"1w", "0"}}), MetricsError::bad_label_name);
  EXPECT_EQ(check("g", MetricType::gauge, {{"__name__", "0"}}), MetricsError::bad_label_name);
  EXPECT_EQ(check("g", MetricType::gauge, {{"le", "1"}}), MetricsError::reserved_label);
  EXPECT_EQ(check("g", MetricType::gauge, {{"quantile", "1"}}), MetricsError::reserved_label);
  EXPECT_EQ(check("x_seconds", MetricType::histogram, {{"le", "1"}}), MetricsError::reserved_label);
  EXPECT_EQ(check("g", MetricType::gauge, {{"a", "1"}, {"b", "2"}, {"a", "3"}}), MetricsError::duplicate_label);
}

// A broken name is a bug in our code: it asserts in debug builds, and in
// release builds the sample is skipped and reported. Either way nothing of
// it reaches the exposition.
TEST(Prometheus, BrokenNamesAssertOrAreSkipped) {
  struct Case {
    const char* what;
    std::function<MetricsError(MetricsWriter&)> write;
    MetricsError expected;
  };
  const std::vector<Case> cases = {
      {"counter without _total", [](MetricsWriter& w) { return w.counter("x", "h", {}, 1); },
       MetricsError::counter_suffix},
      {"bad label", [](MetricsWriter& w) { return w.gauge("g", "h", {{"a-b", "1"}}, 1); },
       MetricsError::bad_label_name},
      {"histogram not in seconds", [](MetricsWriter& w) { return w.histogram("x_ms", "h", {}, {}); },
       MetricsError::histogram_unit},
      {"type changes", [](MetricsWriter& w) {
         w.gauge("x_seconds", "h", {{"w", "0"}}, 1);
         return w.histogram("x_seconds", "h", {{"w", "1"}}, {});
       },
       MetricsError::family_conflict},
      {"help changes", [](MetricsWriter& w) {
         w.gauge("g", "h", {{"w", "0"}}, 1);
         return w.gauge("g", "other", {{"w", "1"}}, 1);
       },
       MetricsError::family_conflict},
  };
  for (const Case& c : cases) {
    MetricsWriter w;
    EXPECT_DEBUG_DEATH(EXPECT_EQ(c.write(w), c.expected) << c.what, "exposition rules") << c.what;
#ifdef NDEBUG
    ASSERT_FALSE(w.problems().empty()) << c.what;
    EXPECT_EQ(w.problems().back().error, c.expected) << c.what;
    EXPECT_EQ(w.str().find("{w=\"1\"}"), std::string::npos) << c.what;
#endif
  }
}

TEST(Prometheus, RepeatedSeriesIsSkippedAndReported) {
  MetricsWriter w;
  // Two upstream targets written with the same address: runtime data, so no assert.
  EXPECT_EQ(w.gauge("sigrelay_upstream_up", "h", {{"target", "sip:a"}}, 1), MetricsError::ok);
  EXPECT_EQ(w.gauge("sigrelay_upstream_up", "h", {{"target", "sip:a"}}, 0), MetricsError::duplicate_series);
  EXPECT_EQ(w.str(),
            "# HELP sigrelay_upstream_up h\n"
            "# TYPE sigrelay_upstream_up gauge\n"
            "sigrelay_upstream_up{target=\"sip:a\"} 1\n");
  ASSERT_EQ(w.problems().size(), 1U);
  EXPECT_EQ(w.problems()[0].name, "sigrelay_upstream_up");
  EXPECT_EQ(w.problems()[0].error, MetricsError::duplicate_series);
  EXPECT_EQ(to_string(w.problems()[0].error), "duplicate_series");
}

// promtool (Debian package prometheus) is the reference parser and linter.
std::string find_on_path(const char* program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return {};
  std::string_view rest = path;
  while (true) {
    const std::size_t colon = rest.find(':');
    std::string candidate(rest.substr(0, colon));
    if (!candidate.empty()) {
      candidate += '/';
      candidate += program;
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    if (colon == std::string_view::npos) return {};
    rest.remove_prefix(colon + 1);
  }
}

struct CheckResult {
  int exit_code = -1;
  std::string output;
};

CheckResult promtool_check(const std::string& promtool, const std::string& text) {
  const char* tmp = std::getenv("TMPDIR");
  std::string file = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/sigrelay_metrics_XXXXXX";
  CheckResult r;
  const int fd = mkstemp(file.data());
  if (fd < 0) return r;
  const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  if (written) {
    const std::string cmd = "'" + promtool + "' check metrics < '" + file + "' 2>&1";
    if (FILE* p = popen(cmd.c_str(), "r")) {
      char buf[512];
      std::size_t n;
      while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
      const int status = pclose(p);
      r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
  }
  unlink(file.c_str());
  return r;
}

TEST(Prometheus, PromtoolAcceptsARealisticExposition) {
  const std::string promtool = find_on_path("promtool");
  if (promtool.empty()) {
    std::printf("promtool not on PATH (apt-get install prometheus): skipping\n");
    GTEST_SKIP() << "promtool not on PATH";
  }

  // Shaped like the stats socket's page: per-worker counter families written
  // worker by worker, gauges, a histogram per worker, awkward label values.
  MetricsWriter w;
  LatencyHistogram rtt[2];
  for (std::uint64_t v = 1; v < 400'000; v = v * 3 / 2 + 7) rtt[0].record(v);
  rtt[1].record(2'500);
  rtt[1].record(LatencyHistogram::kMaxTrackedMicros + 5);
  for (int worker = 0; worker < 2; ++worker) {
    const std::string id = std::to_string(worker);
    ASSERT_EQ(w.counter("sigrelay_datagrams_in_total", "UDP datagrams received from switches.",
                        {{"worker", id}}, 1000 + worker), MetricsError::ok);
    ASSERT_EQ(w.counter("sigrelay_invites_total", "New INVITE transactions.", {{"worker", id}}, 400),
              MetricsError::ok);
    ASSERT_EQ(w.counter("sigrelay_local_responses_total", "Responses the relay answered itself.",
                        {{"worker", id}, {"code", "503"}, {"reason", "timeout"}}, 3), MetricsError::ok);
    ASSERT_EQ(w.counter("sigrelay_local_responses_total", "Responses the relay answered itself.",
                        {{"worker", id}, {"code", "503"}, {"reason", "emergency"}}, 1), MetricsError::ok);
    ASSERT_EQ(w.histogram("sigrelay_service_rtt_seconds", "INVITE to the service's final response.",
                          {{"worker", id}}, rtt[worker].snapshot()), MetricsError::ok);
  }
  ASSERT_EQ(w.counter("sigrelay_tls_bytes_out_total", "Bytes written to upstream TLS connections.", {}, 123456789),
            MetricsError::ok);
  ASSERT_EQ(w.gauge("sigrelay_upstream_connections_up", "Upstream connections currently up.",
                    {{"target", "sip:sip.clearip.com:5061;transport=tls"}}, 2), MetricsError::ok);
  ASSERT_EQ(w.gauge("sigrelay_upstream_connections_up", "Upstream connections currently up.",
                    {{"target", "odd \"name\" \\ with\nnewline and \xff byte"}}, 0), MetricsError::ok);
  ASSERT_EQ(w.gauge("sigrelay_info", "Build information.\nAlways 1.", {{"version", "0.1.0"}}, 1), MetricsError::ok);
  ASSERT_TRUE(w.problems().empty());

  const CheckResult ok = promtool_check(promtool, w.str());
  EXPECT_EQ(ok.exit_code, 0) << ok.output << "\n" << w.str();
  EXPECT_EQ(ok.output, "") << w.str();

  // promtool really checks: the same tool fails text that breaks a rule.
  const CheckResult bad = promtool_check(promtool, "# HELP x h\n# TYPE x counter\nx 1\n");
  EXPECT_NE(bad.exit_code, 0) << bad.output;
  const CheckResult unparsable = promtool_check(promtool, "# TYPE x_total counter\nx_total{v=\"\xff\"} 1\n");
  EXPECT_NE(unparsable.exit_code, 0) << unparsable.output;
}

}  // namespace
}  // namespace sigrelay::control
