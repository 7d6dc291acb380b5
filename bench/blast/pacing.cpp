#include "bench/blast/pacing.hpp"

namespace sigrelay::blast {

namespace {
constexpr std::uint64_t kNsPerSec = 1'000'000'000;
}

std::uint64_t events_to_ns(std::uint64_t k, std::uint64_t rate) {
  // Split k so that neither product exceeds 64 bits: (k % rate) * 1e9 stays
  // below rate * 1e9, fine for any rate under 1.8e10.
  return (k / rate) * kNsPerSec + ((k % rate) * kNsPerSec) / rate;
}

Schedule::Schedule(std::uint64_t rate, std::uint64_t calls_total, unsigned thread, unsigned threads)
    : rate_(rate), thread_(thread), threads_(threads) {
  calls_ = calls_total / threads + (thread < calls_total % threads ? 1 : 0);
  window_ns_ = events_to_ns(calls_total, rate);
}

std::uint64_t Schedule::due_ns(std::uint64_t j) const {
  return events_to_ns(j * threads_ + thread_, rate_);
}

std::uint64_t Schedule::due_count(std::uint64_t elapsed_ns) const {
  // Global calls 0..last are due, with last = floor(elapsed * rate / 1e9):
  // the largest k whose k * 1e9 / rate (rounded down, as in due_ns) is
  // still <= elapsed. Computed in two parts to stay within 64 bits.
  const std::uint64_t secs = elapsed_ns / kNsPerSec;
  const std::uint64_t frac = elapsed_ns % kNsPerSec;
  std::uint64_t last = secs * rate_ + (frac * rate_) / kNsPerSec;
  // Rounding down in due_ns can make call last+1 due a nanosecond early;
  // advance while that holds so due_count and due_ns agree exactly.
  while (events_to_ns(last + 1, rate_) <= elapsed_ns) ++last;
  if (last < thread_) return 0;
  const std::uint64_t n = (last - thread_) / threads_ + 1;
  return n < calls_ ? n : calls_;
}

}  // namespace sigrelay::blast
