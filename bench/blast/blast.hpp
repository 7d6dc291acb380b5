// One run of sigrelay-blast: resolve addresses, start one worker per
// thread, release them together at t0, join them and add up what they counted.
#pragma once

#include <cstdint>
#include <string>

#include "bench/blast/counters.hpp"
#include "bench/blast/options.hpp"

namespace sigrelay::blast {

struct RunResult {
  std::uint64_t target_rate = 0;
  std::uint64_t calls_scheduled = 0;
  unsigned threads = 0;
  std::uint64_t late_ms = 0;
  std::string target;
  std::string local;
  std::size_t invite_bytes = 0;
  double schedule_seconds = 0;  // calls_scheduled / rate
  double wall_seconds = 0;      // t0 to the last worker's end
  double send_seconds = 0;      // t0 to the start of the last burst of INVITEs
  double cpu_user_seconds = 0;  // whole process (getrusage RUSAGE_SELF)
  double cpu_system_seconds = 0;
  ThreadCounters totals;        // cpu_seconds there is the busiest thread's
};

// Runs the test described by `o`. False, with `error` set, when it cannot
// start (bad address, bind failure, ...).
bool run_blast(const Options& o, RunResult& result, std::string& error);

}  // namespace sigrelay::blast
