#include "bench/blast/histogram.hpp"

#include <bit>
#include <cmath>

namespace sigrelay::blast {

std::size_t LatencyHistogram::index_of(std::uint64_t value) {
  if (value < 2 * kSubBuckets) return static_cast<std::size_t>(value);
  // value lies in [2^k, 2^(k+1)) with k >= kSubBucketBits + 1; its top
  // kSubBucketBits + 1 bits pick the sub-bucket.
  const unsigned k = 63u - static_cast<unsigned>(std::countl_zero(value));
  const unsigned shift = k - kSubBucketBits;
  const std::uint64_t sub = (value >> shift) - kSubBuckets;
  return static_cast<std::size_t>(2 * kSubBuckets + (k - kSubBucketBits - 1) * kSubBuckets + sub);
}

std::uint64_t LatencyHistogram::lowest_in(std::size_t index) {
  if (index < 2 * kSubBuckets) return index;
  const std::size_t rest = index - 2 * kSubBuckets;
  const unsigned shift = static_cast<unsigned>(rest / kSubBuckets) + 1;
  return (kSubBuckets + rest % kSubBuckets) << shift;
}

std::uint64_t LatencyHistogram::highest_in(std::size_t index) {
  if (index < 2 * kSubBuckets) return index;
  const std::size_t rest = index - 2 * kSubBuckets;
  const unsigned shift = static_cast<unsigned>(rest / kSubBuckets) + 1;
  return lowest_in(index) + ((std::uint64_t{1} << shift) - 1);
}

void LatencyHistogram::record(std::uint64_t value) {
  ++counts_[index_of(value)];
  ++count_;
  if (value < min_) min_ = value;
  if (value > max_) max_ = value;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (std::size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  if (other.count_ && other.min_ < min_) min_ = other.min_;
  if (other.max_ > max_) max_ = other.max_;
}

std::uint64_t LatencyHistogram::percentile(double percent) const {
  if (count_ == 0) return 0;
  if (!(percent > 0.0)) return min();
  // Rank in 1..count. The small epsilon keeps ranks that are exact in
  // decimal (99.9 % of 1000 = 999) from rounding up through binary error.
  double r = std::ceil(percent / 100.0 * static_cast<double>(count_) - 1e-9);
  std::uint64_t rank = r < 1.0 ? 1 : static_cast<std::uint64_t>(r);
  if (rank > count_) rank = count_;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBucketCount; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const std::uint64_t hi = highest_in(i);
      return hi < max_ ? hi : max_;
    }
  }
  return max_;
}

}  // namespace sigrelay::blast
