#include "dataplane/latency_histogram.hpp"

#include <cmath>

namespace sigrelay::dataplane {

using Snapshot = LatencyHistogram::Snapshot;

std::uint64_t LatencyHistogram::count() const {
  std::uint64_t n = 0;
  for (const Counter& b : buckets_) n += b.load(std::memory_order_relaxed);
  return n;
}

Snapshot LatencyHistogram::snapshot() const {
  Snapshot s;
  for (std::size_t i = 0; i < kBuckets; ++i) s.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::uint64_t Snapshot::count() const {
  std::uint64_t n = 0;
  for (std::uint64_t b : buckets) n += b;
  return n;
}

Snapshot& Snapshot::operator+=(const Snapshot& other) {
  for (std::size_t i = 0; i < kBuckets; ++i) buckets[i] += other.buckets[i];
  sum += other.sum;
  return *this;
}

Snapshot& Snapshot::operator-=(const Snapshot& earlier) {
  for (std::size_t i = 0; i < kBuckets; ++i) {
    buckets[i] = buckets[i] >= earlier.buckets[i] ? buckets[i] - earlier.buckets[i] : 0;
  }
  sum = sum >= earlier.sum ? sum - earlier.sum : 0;
  return *this;
}

std::uint64_t Snapshot::percentile(double p) const {
  const std::uint64_t n = count();
  if (n == 0) return 0;
  if (!(p > 0.0)) p = 0.0;  // also NaN
  if (p > 100.0) p = 100.0;
  // The small relative nudge keeps a product that should be a whole number
  // (99.9 % of 1000) from rounding up to the next rank.
  const double exact = p / 100.0 * static_cast<double>(n);
  const double ranked = std::ceil(exact - exact * 1e-12);
  std::uint64_t rank = ranked < 1.0 ? 1 : static_cast<std::uint64_t>(ranked);
  if (rank > n) rank = n;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += buckets[i];
    if (seen >= rank) return bucket_upper(i);
  }
  return kUnbounded;  // not reached: seen ends at n >= rank
}

std::uint64_t Snapshot::cumulative_at(std::uint64_t upper_micros) const {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < kFiniteBuckets && bucket_upper(i) <= upper_micros; ++i) n += buckets[i];
  if (upper_micros == kUnbounded) n += buckets[kOverflowBucket];  // the overflow bucket's edge
  return n;
}

LatencyHistogram::PrometheusBuckets Snapshot::prometheus_buckets() const {
  PrometheusBuckets out{};
  // One pass: the bounds ascend, so each continues where the last stopped.
  std::uint64_t n = 0;
  std::size_t i = 0;
  for (std::size_t k = 0; k < kPrometheusBounds; ++k) {
    for (; i < kFiniteBuckets && bucket_upper(i) <= kPrometheusBoundsMicros[k]; ++i) n += buckets[i];
    out[k] = n;
  }
  for (; i < kBuckets; ++i) n += buckets[i];
  out[kPrometheusBounds] = n;
  return out;
}

}  // namespace sigrelay::dataplane
