// The open-loop send schedule. Call k of the run (counting across all
// threads) is due at t0 + k/rate; thread i of T sends calls i, i+T, i+2T, ...
// so the threads together reproduce one evenly spaced stream. Due times are
// computed from t0 each time, never by adding intervals, so a loop that wakes
// late sends everything that fell due meanwhile and the rate holds.
// Pure integer arithmetic, no clock: the caller passes elapsed nanoseconds.
#pragma once

#include <cstdint>

namespace sigrelay::blast {

class Schedule {
 public:
  // rate: calls per second across all threads (> 0); calls_total: across all
  // threads; thread/threads: this thread's place (thread < threads).
  Schedule(std::uint64_t rate, std::uint64_t calls_total, unsigned thread, unsigned threads);

  // Calls this thread sends in the whole run.
  std::uint64_t calls() const { return calls_; }

  // Nanoseconds after t0 when this thread's call j (0-based) is due.
  std::uint64_t due_ns(std::uint64_t j) const;

  // How many of this thread's calls are due at `elapsed_ns` after t0
  // (those with due_ns(j) <= elapsed_ns), at most calls().
  std::uint64_t due_count(std::uint64_t elapsed_ns) const;

  // Length of the whole schedule: calls_total / rate, in nanoseconds.
  std::uint64_t window_ns() const { return window_ns_; }

 private:
  std::uint64_t rate_;
  unsigned thread_;
  unsigned threads_;
  std::uint64_t calls_;
  std::uint64_t window_ns_;
};

// Nanoseconds for `k` events at `rate` per second, k * 1e9 / rate rounded
// down, without overflowing 64 bits for any k < 2^64 / 1e9 * rate.
std::uint64_t events_to_ns(std::uint64_t k, std::uint64_t rate);

}  // namespace sigrelay::blast
