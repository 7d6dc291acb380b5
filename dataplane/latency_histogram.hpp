// A latency histogram a sip worker fills and the control thread reads.
//
// Layout (log-linear, HDR-style; docs/metrics.md): latencies are whole
// microseconds. Bucket i holds the values in (bucket_upper(i-1),
// bucket_upper(i)]; buckets are closed at the top so that "<= le", what a
// Prometheus bucket means, is exact at every bucket edge. Up to 32 µs each
// bucket is one microsecond wide; above, every power of two is cut into 16
// equal buckets, so a bucket is at most 1/16 of its lower edge wide. Hence
// the upper edge a reader reports for a value v is v itself up to 32 µs and
// otherwise less than v * (1 + 1/16): relative error under 6.25 %.
// 384 finite buckets reach 2^27 µs (134 s); larger values land in one
// overflow bucket whose upper edge is kUnbounded.
//
// Ownership: one writer (the worker) calls record(); any thread may call
// count(), sum() and snapshot(). Like bump() in relay_counters.hpp, record()
// is a relaxed load and a relaxed store per touched counter, no
// read-modify-write: right for one writer, and a reader only ever sees whole
// values. A snapshot taken while the writer runs may hold a bucket increment
// without the matching sum increment (or the reverse); its count is the sum
// of its buckets, so the Prometheus +Inf bucket always equals _count.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "dataplane/relay_counters.hpp"

namespace sigrelay::dataplane {

class alignas(64) LatencyHistogram {
 public:
  static constexpr unsigned kSubBucketBits = 4;
  static constexpr std::size_t kSubBuckets = std::size_t{1} << kSubBucketBits;  // per power of two
  static constexpr unsigned kTrackedBits = 27;
  static constexpr std::uint64_t kMaxTrackedMicros = std::uint64_t{1} << kTrackedBits;  // 134.2 s
  // Two groups one microsecond wide (0..32 µs), then one group per power of two up to 2^27.
  static constexpr std::size_t kFiniteBuckets = (kTrackedBits - kSubBucketBits + 1) * kSubBuckets;  // 384
  static constexpr std::size_t kOverflowBucket = kFiniteBuckets;
  static constexpr std::size_t kBuckets = kFiniteBuckets + 1;
  static constexpr std::uint64_t kUnbounded = std::numeric_limits<std::uint64_t>::max();
  // One value adds at most this to the sum (71.6 minutes): a clock fault
  // that yields a huge duration lands in the overflow bucket and cannot wrap
  // the sum. Every real latency is far below it.
  static constexpr std::uint64_t kSumClampMicros = std::uint64_t{1} << 32;

  // Prometheus bucket bounds: 25 µs * 2^k for k = 1..21, i.e. 50 µs, 100 µs,
  // 200 µs ... 26.2144 s, 52.4288 s. Every one is a bucket edge (25 fits in
  // the 5 significant bits a bucket edge may have), so the cumulative counts
  // are exact; decimal bounds such as 250 µs or 1 s are not edges of any
  // binary layout and would have to be rounded. Followed by +Inf.
  static constexpr std::size_t kPrometheusBounds = 21;
  static constexpr std::array<std::uint64_t, kPrometheusBounds> kPrometheusBoundsMicros = [] {
    std::array<std::uint64_t, kPrometheusBounds> b{};
    for (std::size_t k = 0; k < kPrometheusBounds; ++k) b[k] = std::uint64_t{25} << (k + 1);
    return b;
  }();
  // Cumulative counts at each bound, then the +Inf bucket (== count).
  using PrometheusBuckets = std::array<std::uint64_t, kPrometheusBounds + 1>;

  // Plain copy of the counters, owned by the reader.
  struct Snapshot {
    std::array<std::uint64_t, kBuckets> buckets{};
    std::uint64_t sum = 0;  // microseconds

    std::uint64_t count() const;
    // Merge: the sum of two workers' histograms.
    Snapshot& operator+=(const Snapshot& other);
    // Delta: what was recorded between an earlier snapshot and this one. A
    // bucket that would go negative (not a later snapshot of the same
    // histograms) is clamped to 0.
    Snapshot& operator-=(const Snapshot& earlier);
    friend bool operator==(const Snapshot&, const Snapshot&) = default;

    // Upper edge of the bucket holding the value of rank ceil(p/100 * count)
    // (at least 1), p in percent and clamped to [0, 100]. 0 when empty;
    // kUnbounded when that value is in the overflow bucket.
    std::uint64_t percentile(double p) const;
    // Number of values <= upper_micros. Exact when upper_micros is a bucket
    // edge or kUnbounded; otherwise it counts only the buckets that end at or
    // below it.
    std::uint64_t cumulative_at(std::uint64_t upper_micros) const;
    PrometheusBuckets prometheus_buckets() const;
  };

  LatencyHistogram() = default;
  LatencyHistogram(const LatencyHistogram&) = delete;
  LatencyHistogram& operator=(const LatencyHistogram&) = delete;

  static constexpr std::size_t bucket_index(std::uint64_t micros) {
    // Buckets are closed at the top: v sits where v - 1 would in a layout
    // closed at the bottom (0 joins 1 in bucket 0).
    const std::uint64_t v = micros == 0 ? 0 : micros - 1;
    if (v >= kMaxTrackedMicros) return kOverflowBucket;
    const unsigned width = static_cast<unsigned>(std::bit_width(v));
    const unsigned shift = std::max(width, kSubBucketBits + 1) - (kSubBucketBits + 1);
    return static_cast<std::size_t>(shift) * kSubBuckets + static_cast<std::size_t>(v >> shift);
  }

  // Largest value bucket i holds; kUnbounded for the overflow bucket.
  static constexpr std::uint64_t bucket_upper(std::size_t i) {
    if (i >= kOverflowBucket) return kUnbounded;
    const std::size_t next = i + 1;
    if (next < 2 * kSubBuckets) return next;
    const std::size_t shift = next / kSubBuckets - 1;
    return static_cast<std::uint64_t>(next % kSubBuckets + kSubBuckets) << shift;
  }

  static constexpr bool is_bucket_edge(std::uint64_t micros) {
    return micros >= 1 && micros <= kMaxTrackedMicros && bucket_upper(bucket_index(micros)) == micros;
  }

  // Writer only.
  void record(std::uint64_t micros) {
    bump(buckets_[bucket_index(micros)]);
    bump(sum_, std::min(micros, kSumClampMicros));
  }

  // Any thread.
  std::uint64_t count() const;
  std::uint64_t sum() const { return sum_.load(std::memory_order_relaxed); }
  Snapshot snapshot() const;

 private:
  std::array<Counter, kBuckets> buckets_{};
  Counter sum_{0};
};

static_assert(LatencyHistogram::bucket_upper(LatencyHistogram::kFiniteBuckets - 1) ==
              LatencyHistogram::kMaxTrackedMicros);
static_assert(LatencyHistogram::bucket_index(60'000'000) < LatencyHistogram::kFiniteBuckets,
              "60 s must have a finite bucket");
static_assert(sizeof(LatencyHistogram) <= 4096, "a few KB per worker");
static_assert([] {
  for (std::uint64_t b : LatencyHistogram::kPrometheusBoundsMicros) {
    if (!LatencyHistogram::is_bucket_edge(b)) return false;
  }
  return true;
}(), "every Prometheus bound must be a bucket edge, or its count would be approximate");

}  // namespace sigrelay::dataplane
