// A log-linear latency histogram in the manner of HdrHistogram: values below
// 2*kSubBuckets are counted exactly, and each power-of-two range above that is
// split into kSubBuckets equal sub-buckets, so every recorded value is known
// to within 1/kSubBuckets (about 3 %). Fixed size, no allocation, one writer;
// per-thread histograms are merged after the threads have stopped.
#pragma once

#include <array>
#include <cstdint>

namespace sigrelay::blast {

class LatencyHistogram {
 public:
  static constexpr unsigned kSubBucketBits = 5;
  static constexpr std::uint64_t kSubBuckets = 1u << kSubBucketBits;  // 32
  // Exact range [0, 2*kSubBuckets), then 32 sub-buckets for each of the
  // 64 - (kSubBucketBits + 1) remaining powers of two.
  static constexpr std::size_t kBucketCount = 2 * kSubBuckets + (64 - kSubBucketBits - 1) * kSubBuckets;

  void record(std::uint64_t value);
  void merge(const LatencyHistogram& other);

  std::uint64_t count() const { return count_; }
  std::uint64_t min() const { return count_ ? min_ : 0; }
  std::uint64_t max() const { return max_; }

  // Nearest-rank percentile (0 < percent <= 100): the highest value that
  // falls in the same bucket as the ceil(percent/100 * count)-th smallest
  // sample, never above max(). 0 when empty.
  std::uint64_t percentile(double percent) const;

  // Bucket arithmetic, public for the tests.
  static std::size_t index_of(std::uint64_t value);
  static std::uint64_t lowest_in(std::size_t index);
  static std::uint64_t highest_in(std::size_t index);

 private:
  std::array<std::uint64_t, kBucketCount> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
};

}  // namespace sigrelay::blast
