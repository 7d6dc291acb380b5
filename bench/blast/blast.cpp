#include "bench/blast/blast.hpp"

#include <sys/resource.h>
#include <time.h>

#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "bench/blast/endpoint.hpp"
#include "bench/blast/pacing.hpp"
#include "bench/blast/worker.hpp"

namespace sigrelay::blast {

namespace {

std::int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

double seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

// Lets the threads finish preparing before the clock starts.
constexpr std::int64_t kStartDelayNs = 2'000'000;

}  // namespace

bool run_blast(const Options& o, RunResult& result, std::string& error) {
  RunPlan plan;
  plan.options = &o;
  plan.calls_total = o.total_calls();
  if (!parse_ip_port(o.target, plan.target)) {
    error = "--target: expected IP:PORT or [IPv6]:PORT, got '" + o.target + "'";
    return false;
  }
  if (o.local.empty()) {
    if (!route_source(plan.target, plan.local)) {
      error = "no route to " + o.target + " (give --local)";
      return false;
    }
  } else if (!parse_ip(o.local, 0, plan.local)) {
    error = "--local: expected an IP address, got '" + o.local + "'";
    return false;
  }
  if (plan.local.ipv6 != plan.target.ipv6) {
    error = "--local and --target must be the same address family";
    return false;
  }
  // Marks this run's Call-IDs so answers to an earlier run are not counted.
  plan.run_id = static_cast<std::uint32_t>(std::random_device{}());

  rusage before{};
  getrusage(RUSAGE_SELF, &before);

  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned i = 0; i < o.threads; ++i) workers.push_back(std::make_unique<Worker>(plan, i));
  for (auto& w : workers) {
    if (std::string e = w->prepare(); !e.empty()) {
      error = e;
      return false;
    }
  }

  const Schedule whole(o.rate, plan.calls_total, 0, 1);
  const std::int64_t t0 = monotonic_ns() + kStartDelayNs;
  const std::int64_t deadline =
      t0 + static_cast<std::int64_t>(whole.window_ns()) + static_cast<std::int64_t>(o.drain_ms) * 1'000'000;
  std::vector<std::thread> threads;
  for (auto& w : workers) {
    Worker* wp = w.get();
    threads.emplace_back([wp, t0, deadline] { wp->run(t0, deadline); });
  }
  for (auto& t : threads) t.join();
  const std::int64_t end = monotonic_ns();

  rusage after{};
  getrusage(RUSAGE_SELF, &after);

  result = RunResult{};
  result.target_rate = o.rate;
  result.calls_scheduled = plan.calls_total;
  result.threads = o.threads;
  result.late_ms = o.late_ms;
  result.target = plan.target.host + ":" + std::to_string(plan.target.port);
  result.local = plan.local.host;
  result.schedule_seconds = static_cast<double>(whole.window_ns()) / 1e9;
  result.wall_seconds = static_cast<double>(end - t0) / 1e9;
  for (auto& w : workers) result.totals.merge(w->counters());
  result.send_seconds = static_cast<double>(result.totals.last_send_ns) / 1e9;
  result.cpu_user_seconds = seconds(after.ru_utime) - seconds(before.ru_utime);
  result.cpu_system_seconds = seconds(after.ru_stime) - seconds(before.ru_stime);
  result.invite_bytes = workers.empty() ? 0 : workers.front()->invite_size();
  return true;
}

}  // namespace sigrelay::blast
