// One sender/receiver thread: its own UDP socket, its slice of the
// schedule, its call table and counters. Sends what is due in sendmmsg
// bursts, reads answers in recvmmsg batches, ACKs every final.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "bench/blast/counters.hpp"
#include "bench/blast/endpoint.hpp"
#include "bench/blast/options.hpp"

namespace sigrelay::blast {

// Fixed for the whole run, shared read-only by every worker.
struct RunPlan {
  const Options* options = nullptr;
  Endpoint target;
  Endpoint local;           // port 0 unless --local-port
  std::uint32_t run_id = 0;
  std::uint64_t calls_total = 0;
};

class Worker {
 public:
  Worker(const RunPlan& plan, unsigned index);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Opens and binds the socket, builds the templates and the call table.
  // Empty string on success.
  std::string prepare();

  // Runs the schedule that starts at t0 (CLOCK_MONOTONIC, ns) until every
  // call is answered or the hard deadline passes.
  void run(std::int64_t t0_ns, std::int64_t deadline_ns);

  const ThreadCounters& counters() const { return counters_; }
  std::size_t invite_size() const;

 private:
  struct State;
  std::unique_ptr<State> s_;  // socket, buffers and templates, kept out of this header
  ThreadCounters counters_;
};

}  // namespace sigrelay::blast
