#include "bench/blast/report.hpp"

#include <cstdio>

namespace sigrelay::blast {

namespace {

struct Percentile {
  const char* name;
  double percent;
};
constexpr Percentile kPercentiles[] = {{"p50", 50}, {"p90", 90}, {"p99", 99}, {"p99.9", 99.9}};

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string u(std::uint64_t v) { return std::to_string(v); }

// {"100": n, ...} for the codes in [lo, hi] that occurred.
std::string codes(const ThreadCounters& t, unsigned lo, unsigned hi) {
  std::string s = "{";
  for (unsigned code = lo; code <= hi; ++code) {
    const std::uint64_t n = t.by_status[code - 100];
    if (!n) continue;
    if (s.size() > 1) s += ", ";
    s += "\"" + std::to_string(code) + "\": " + u(n);
  }
  return s + "}";
}

std::uint64_t lost(const RunResult& r) { return r.totals.sent - r.totals.answered; }

}  // namespace

double achieved_send_rate(const RunResult& r) {
  const double span = r.send_seconds > r.schedule_seconds ? r.send_seconds : r.schedule_seconds;
  return span > 0 ? static_cast<double>(r.totals.sent) / span : 0;
}

bool fell_behind(const RunResult& r) {
  return r.totals.sent < r.calls_scheduled ||
         achieved_send_rate(r) < 0.99 * static_cast<double>(r.target_rate);
}

std::string to_json(const RunResult& r) {
  const ThreadCounters& t = r.totals;
  const double cpu = r.cpu_user_seconds + r.cpu_system_seconds;
  std::string s = "{";
  auto field = [&s](const char* name, const std::string& value) {
    if (s.size() > 1) s += ", ";
    s += "\"";
    s += name;
    s += "\": ";
    s += value;
  };
  field("target", "\"" + r.target + "\"");
  field("local", "\"" + r.local + "\"");
  field("threads", u(r.threads));
  field("invite_bytes", u(r.invite_bytes));
  field("target_rate", u(r.target_rate));
  field("achieved_send_rate", fixed(achieved_send_rate(r), 1));
  field("fell_behind", fell_behind(r) ? "true" : "false");
  field("schedule_seconds", fixed(r.schedule_seconds, 3));
  field("wall_seconds", fixed(r.wall_seconds, 3));
  field("calls_scheduled", u(r.calls_scheduled));
  field("calls_sent", u(t.sent));
  field("calls_unsent", u(r.calls_scheduled - t.sent));
  field("answered", u(t.answered));
  field("lost", u(lost(r)));
  field("late", u(t.late));
  field("late_ms", u(r.late_ms));
  field("finals", codes(t, 200, 699));
  field("provisionals", u(t.provisionals));
  field("provisionals_by_code", codes(t, 100, 199));
  field("retransmitted_finals", u(t.final_repeats));
  field("acks_sent", u(t.acks_sent));
  field("ack_failures", u(t.ack_failures));
  std::string lat = "{\"count\": " + u(t.latency_us.count()) + ", \"min\": " + u(t.latency_us.min());
  for (const Percentile& p : kPercentiles)
    lat += ", \"" + std::string(p.name) + "\": " + u(t.latency_us.percentile(p.percent));
  lat += ", \"max\": " + u(t.latency_us.max()) + "}";
  field("latency_us", lat);
  field("sending", "{\"max_lag_us\": " + u(static_cast<std::uint64_t>(t.max_lag_ns / 1000)) +
                       ", \"sent_late_1ms\": " + u(t.sent_late) + ", \"blocked\": " + u(t.send_blocked) +
                       ", \"refused\": " + u(t.send_refused) + ", \"errors\": " + u(t.send_errors) +
                       ", \"gso_fallbacks\": " + u(t.gso_fallbacks) + "}");
  field("received", "{\"datagrams\": " + u(t.datagrams) + ", \"truncated\": " + u(t.truncated) +
                        ", \"parse_errors\": " + u(t.parse_errors) + ", \"requests\": " + u(t.requests) +
                        ", \"not_invite\": " + u(t.not_invite) + ", \"foreign\": " + u(t.foreign) +
                        ", \"wrong_thread\": " + u(t.wrong_thread) +
                        ", \"unknown_call\": " + u(t.unknown_call) + "}");
  field("cpu", "{\"user_seconds\": " + fixed(r.cpu_user_seconds, 3) +
                   ", \"system_seconds\": " + fixed(r.cpu_system_seconds, 3) +
                   ", \"per_call_us\": " + fixed(t.sent ? cpu * 1e6 / static_cast<double>(t.sent) : 0, 3) +
                   ", \"busiest_thread_seconds\": " + fixed(t.cpu_seconds, 3) +
                   ", \"busiest_thread_share\": " +
                   fixed(r.wall_seconds > 0 ? t.cpu_seconds / r.wall_seconds : 0, 3) + "}");
  return s + "}\n";
}

std::string to_table(const RunResult& r) {
  const ThreadCounters& t = r.totals;
  std::string s;
  auto row = [&s](const char* name, const std::string& value) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "  %-26s %s\n", name, value.c_str());
    s += buf;
  };
  s += "sigrelay-blast  " + r.local + " -> " + r.target + ", " + u(r.threads) + " thread(s), " +
       u(r.invite_bytes) + "-byte INVITEs\n";
  row("target rate /s", u(r.target_rate));
  row("achieved send rate /s", fixed(achieved_send_rate(r), 1) + (fell_behind(r) ? "  FELL BEHIND" : ""));
  row("calls sent / scheduled", u(t.sent) + " / " + u(r.calls_scheduled));
  row("answered (got a final)", u(t.answered));
  row("lost (no final)", u(lost(r)));
  row("late (> late-ms)", u(t.late) + " (> " + u(r.late_ms) + " ms)");
  row("finals by code", codes(t, 200, 699));
  row("provisionals", u(t.provisionals) + " " + codes(t, 100, 199));
  row("retransmitted finals", u(t.final_repeats));
  row("ACKs sent / failed", u(t.acks_sent) + " / " + u(t.ack_failures));
  std::string lat;
  for (const Percentile& p : kPercentiles)
    lat += std::string(p.name) + " " + u(t.latency_us.percentile(p.percent)) + "  ";
  lat += "max " + u(t.latency_us.max());
  row("latency us", lat);
  row("send max lag / late>1ms", u(static_cast<std::uint64_t>(t.max_lag_ns / 1000)) + " us / " + u(t.sent_late));
  row("send blocked/refused/err", u(t.send_blocked) + " / " + u(t.send_refused) + " / " + u(t.send_errors));
  row("rx parse err/foreign/other", u(t.parse_errors) + " / " + u(t.foreign) + " / " +
                                        u(t.requests + t.not_invite + t.wrong_thread + t.unknown_call + t.truncated));
  row("cpu user+sys s", fixed(r.cpu_user_seconds, 3) + " + " + fixed(r.cpu_system_seconds, 3) +
                            " (busiest thread " + fixed(t.cpu_seconds, 3) + " s of " +
                            fixed(r.wall_seconds, 3) + " s wall)");
  return s;
}

}  // namespace sigrelay::blast
