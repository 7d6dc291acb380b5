#include "dataplane/latency_histogram.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <thread>
#include <vector>

namespace sigrelay::dataplane {
namespace {

using H = LatencyHistogram;

// Deterministic values spread over every power of two up to ~2^28 µs (so
// some land in the overflow bucket).
std::vector<std::uint64_t> log_spread_values(std::size_t n) {
  std::vector<std::uint64_t> out;
  std::uint64_t state = 0x9E3779B97F4A7C15ULL;
  for (std::size_t i = 0; i < n; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const unsigned bits = static_cast<unsigned>(state >> 59);  // 0..31
    const std::uint64_t mantissa = (state >> 16) & ((std::uint64_t{1} << 28) - 1);
    out.push_back(bits >= 28 ? mantissa : mantissa >> (28 - bits));
  }
  return out;
}

TEST(LatencyHistogram, IsAFewCacheLinesAligned) {
  EXPECT_EQ(alignof(H), 64U);
  EXPECT_LE(sizeof(H), 4096U);
  EXPECT_EQ(sizeof(H) % 64, 0U);
  EXPECT_EQ(H::kBuckets, 385U);
}

TEST(LatencyHistogram, BucketsAreOneMicrosecondWideUpTo32) {
  EXPECT_EQ(H::bucket_index(0), 0U);  // 0 shares the first bucket with 1
  for (std::uint64_t v = 1; v <= 32; ++v) {
    EXPECT_EQ(H::bucket_index(v), v - 1) << v;
    EXPECT_EQ(H::bucket_upper(H::bucket_index(v)), v) << v;
  }
}

TEST(LatencyHistogram, BucketsAreClosedAtTheTop) {
  // (32, 64] is cut into 16 buckets of 2 µs: (32, 34], (34, 36], ...
  EXPECT_EQ(H::bucket_index(33), H::bucket_index(34));
  EXPECT_NE(H::bucket_index(34), H::bucket_index(35));
  EXPECT_EQ(H::bucket_upper(H::bucket_index(33)), 34U);
  // (64, 128] into buckets of 4 µs.
  EXPECT_EQ(H::bucket_index(65), H::bucket_index(68));
  EXPECT_NE(H::bucket_index(68), H::bucket_index(69));
  EXPECT_EQ(H::bucket_upper(H::bucket_index(69)), 72U);
  // (2^20, 2^21] into buckets of 2^16 µs.
  const std::uint64_t m = std::uint64_t{1} << 20;
  EXPECT_EQ(H::bucket_index(m + 1), H::bucket_index(m + 65536));
  EXPECT_NE(H::bucket_index(m + 65536), H::bucket_index(m + 65537));
}

TEST(LatencyHistogram, CoversAtLeastSixtySecondsThenOverflows) {
  EXPECT_LT(H::bucket_index(60'000'000), H::kFiniteBuckets);
  EXPECT_EQ(H::bucket_index(H::kMaxTrackedMicros), H::kFiniteBuckets - 1);
  EXPECT_EQ(H::bucket_upper(H::kFiniteBuckets - 1), H::kMaxTrackedMicros);
  EXPECT_EQ(H::bucket_index(H::kMaxTrackedMicros + 1), H::kOverflowBucket);
  EXPECT_EQ(H::bucket_index(std::numeric_limits<std::uint64_t>::max()), H::kOverflowBucket);
  EXPECT_EQ(H::bucket_upper(H::kOverflowBucket), H::kUnbounded);
}

TEST(LatencyHistogram, EdgesAreContiguousAndNarrow) {
  for (std::size_t i = 0; i < H::kFiniteBuckets; ++i) {
    const std::uint64_t hi = H::bucket_upper(i);
    const std::uint64_t lo = i == 0 ? 0 : H::bucket_upper(i - 1);
    ASSERT_LT(lo, hi) << i;
    EXPECT_EQ(H::bucket_index(hi), i) << i;
    EXPECT_EQ(H::bucket_index(hi + 1), i + 1) << i;
    EXPECT_TRUE(H::is_bucket_edge(hi)) << i;
    // Wider than one microsecond only past 32 µs, and then at most 1/16 of the lower edge.
    if (hi > 32) {
      EXPECT_LE((hi - lo) * 16, lo) << i;
    } else {
      EXPECT_EQ(hi - lo, 1U) << i;
    }
  }
}

TEST(LatencyHistogram, RelativeErrorStaysUnderOneSixteenth) {
  // The reported value (the bucket's upper edge) is never below the value
  // and less than 1/16 above it; exact up to 32 µs.
  auto check = [](std::uint64_t v) {
    const std::size_t i = H::bucket_index(v);
    const std::uint64_t up = H::bucket_upper(i);
    ASSERT_GE(up, v) << v;
    if (v <= 32) {
      ASSERT_EQ(up, v) << v;
    }
    ASSERT_LT((up - v) * 16, v) << v;
    if (i > 0) {
      ASSERT_GT(v, H::bucket_upper(i - 1)) << v;
    }
  };
  for (std::uint64_t v = 1; v <= (std::uint64_t{1} << 20); ++v) check(v);
  for (std::uint64_t v = std::uint64_t{1} << 20; v <= H::kMaxTrackedMicros; v += v / 1000 + 7) check(v);
  check(H::kMaxTrackedMicros);
}

TEST(LatencyHistogram, PrometheusBoundsAreEdgesAndDecimalsAreNot) {
  EXPECT_EQ(H::kPrometheusBoundsMicros.front(), 50U);
  EXPECT_EQ(H::kPrometheusBoundsMicros[1], 100U);
  EXPECT_EQ(H::kPrometheusBoundsMicros.back(), 52'428'800U);
  for (std::uint64_t b : H::kPrometheusBoundsMicros) EXPECT_TRUE(H::is_bucket_edge(b)) << b;
  // Why the bounds double from 50 µs rather than go 250 µs, 1 ms, 1 s: in
  // (128, 256] the edges are 8 µs apart (248, 256), in (512, 1024] 32 apart.
  EXPECT_FALSE(H::is_bucket_edge(250));
  EXPECT_FALSE(H::is_bucket_edge(1000));
  EXPECT_FALSE(H::is_bucket_edge(1'000'000));
  EXPECT_FALSE(H::is_bucket_edge(0));
  EXPECT_FALSE(H::is_bucket_edge(H::kMaxTrackedMicros + 1));
}

TEST(LatencyHistogram, RecordCountsAndSums) {
  H h;
  EXPECT_EQ(h.count(), 0U);
  h.record(0);
  h.record(1);
  h.record(5);
  h.record(1000);
  EXPECT_EQ(h.count(), 4U);
  EXPECT_EQ(h.sum(), 1006U);
  const H::Snapshot s = h.snapshot();
  EXPECT_EQ(s.count(), 4U);
  EXPECT_EQ(s.sum, 1006U);
  EXPECT_EQ(s.buckets[0], 2U);  // 0 and 1
  EXPECT_EQ(s.buckets[4], 1U);  // 5
  EXPECT_EQ(s.buckets[H::bucket_index(1000)], 1U);
}

TEST(LatencyHistogram, AHugeValueOverflowsWithoutWrappingTheSum) {
  H h;
  h.record(std::numeric_limits<std::uint64_t>::max());
  h.record(std::numeric_limits<std::uint64_t>::max());
  h.record(10);
  const H::Snapshot s = h.snapshot();
  EXPECT_EQ(s.buckets[H::kOverflowBucket], 2U);
  EXPECT_EQ(s.sum, 2 * H::kSumClampMicros + 10);
}

TEST(LatencyHistogram, PercentilesOfOneToAThousand) {
  H h;
  for (std::uint64_t v = 1; v <= 1000; ++v) h.record(v);
  const H::Snapshot s = h.snapshot();
  // The p-th value is ceil(p% of 1000); the answer is the top of its bucket:
  // 500 is in (496, 512], 250 in (248, 256], 100 is an edge, 990 in (960, 992].
  EXPECT_EQ(s.percentile(50), 512U);
  EXPECT_EQ(s.percentile(25), 256U);
  EXPECT_EQ(s.percentile(10), 100U);
  EXPECT_EQ(s.percentile(99), 992U);
  EXPECT_EQ(s.percentile(100), 1024U);
  EXPECT_EQ(s.percentile(0), 1U);  // rank 1 at least: the smallest value
  EXPECT_EQ(s.percentile(-5), 1U);
  EXPECT_EQ(s.percentile(250), 1024U);
  EXPECT_EQ(s.percentile(std::nan("")), 1U);
}

TEST(LatencyHistogram, PercentilesFindTheTail) {
  H h;
  for (int i = 0; i < 990; ++i) h.record(10);
  for (int i = 0; i < 10; ++i) h.record(5000);  // in (4864, 5120]
  const H::Snapshot s = h.snapshot();
  EXPECT_EQ(s.percentile(50), 10U);
  EXPECT_EQ(s.percentile(99), 10U);     // rank 990
  EXPECT_EQ(s.percentile(99.1), 5120U); // rank 991
  EXPECT_EQ(s.percentile(99.9), 5120U); // rank 999, not 1000 through rounding
}

TEST(LatencyHistogram, PercentileOfNothingOrOverflow) {
  EXPECT_EQ(H::Snapshot{}.percentile(50), 0U);
  H h;
  h.record(H::kMaxTrackedMicros * 2);
  EXPECT_EQ(h.snapshot().percentile(50), H::kUnbounded);
}

TEST(LatencyHistogram, SnapshotsMergeAcrossWorkers) {
  H a, b, both;
  for (std::uint64_t v : {3U, 70U, 70'000U}) {
    a.record(v);
    both.record(v);
  }
  for (std::uint64_t v : {3U, 9'000'000U}) {
    b.record(v);
    both.record(v);
  }
  H::Snapshot merged = a.snapshot();
  merged += b.snapshot();
  EXPECT_EQ(merged, both.snapshot());
  EXPECT_EQ(merged.count(), 5U);
  EXPECT_EQ(merged.sum, 3U + 70 + 70'000 + 3 + 9'000'000);
  EXPECT_EQ(merged.buckets[H::bucket_index(3)], 2U);
}

TEST(LatencyHistogram, DeltaIsWhatHappenedBetweenScrapes) {
  H h, later_only;
  for (std::uint64_t v : {1U, 40U, 4000U}) h.record(v);
  const H::Snapshot first = h.snapshot();
  const std::uint64_t later[] = {40, 123'456, H::kMaxTrackedMicros + 9};
  for (std::uint64_t v : later) {
    h.record(v);
    later_only.record(v);
  }
  H::Snapshot delta = h.snapshot();
  delta -= first;
  EXPECT_EQ(delta, later_only.snapshot());
  EXPECT_EQ(delta.count(), 3U);

  // Subtracting the wrong way round clamps at zero instead of wrapping.
  H::Snapshot backwards = first;
  backwards -= h.snapshot();
  EXPECT_EQ(backwards, H::Snapshot{});
}

TEST(LatencyHistogram, PrometheusBucketsCountValuesAtOrBelowEachBound) {
  H h;
  for (std::uint64_t v : {50U, 51U, 100U, 101U, 52'428'800U, 52'428'801U}) h.record(v);
  h.record(H::kMaxTrackedMicros + 1);
  const H::Snapshot s = h.snapshot();
  const H::PrometheusBuckets p = s.prometheus_buckets();
  EXPECT_EQ(p[0], 1U);   // le 50 µs: 50
  EXPECT_EQ(p[1], 3U);   // le 100 µs: 50, 51, 100
  EXPECT_EQ(p[2], 4U);   // le 200 µs: and 101
  EXPECT_EQ(p[19], 4U);  // le 26.2144 s
  EXPECT_EQ(p[20], 5U);  // le 52.4288 s: and 52428800 exactly
  EXPECT_EQ(p[21], 7U);  // +Inf
  EXPECT_EQ(p[21], s.count());
  EXPECT_EQ(s.cumulative_at(50), 1U);
  EXPECT_EQ(s.cumulative_at(100), 3U);
  EXPECT_EQ(s.cumulative_at(H::kMaxTrackedMicros), 6U);
  EXPECT_EQ(s.cumulative_at(H::kUnbounded), 7U);
}

TEST(LatencyHistogram, PrometheusBucketsAreExactOnAnySpread) {
  // Against a count taken straight from the raw values, not the buckets.
  const std::vector<std::uint64_t> values = log_spread_values(20'000);
  H h;
  for (std::uint64_t v : values) h.record(v);
  const H::PrometheusBuckets p = h.snapshot().prometheus_buckets();
  for (std::size_t k = 0; k < H::kPrometheusBounds; ++k) {
    std::uint64_t at_or_below = 0;
    for (std::uint64_t v : values) at_or_below += v <= H::kPrometheusBoundsMicros[k] ? 1 : 0;
    EXPECT_EQ(p[k], at_or_below) << "le " << H::kPrometheusBoundsMicros[k];
    if (k > 0) {
      EXPECT_LE(p[k - 1], p[k]);
    }
  }
  EXPECT_EQ(p[H::kPrometheusBounds], values.size());
}

TEST(LatencyHistogram, ReaderSnapshotsWhileTheWriterRecords) {
  constexpr std::uint64_t kValues = 200'000;
  auto value_of = [](std::uint64_t i) { return (i * 7919) % 100'000 + 1; };
  H h;
  bool monotone = true;
  bool bounded = true;
  std::size_t snapshots = 0;

  std::thread reader([&] {
    H::Snapshot prev;
    for (int n = 0; n < 300; ++n) {
      const H::Snapshot s = h.snapshot();
      ++snapshots;
      for (std::size_t i = 0; i < H::kBuckets; ++i) {
        if (s.buckets[i] < prev.buckets[i]) monotone = false;
      }
      if (s.sum < prev.sum) monotone = false;
      if (s.count() > kValues) bounded = false;
      prev = s;
    }
  });
  std::thread writer([&] {
    for (std::uint64_t i = 0; i < kValues; ++i) h.record(value_of(i));
  });
  writer.join();
  reader.join();

  EXPECT_EQ(snapshots, 300U);
  EXPECT_TRUE(monotone);
  EXPECT_TRUE(bounded);
  H expected;
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < kValues; ++i) {
    expected.record(value_of(i));
    sum += value_of(i);
  }
  const H::Snapshot last = h.snapshot();
  EXPECT_EQ(last, expected.snapshot());
  EXPECT_EQ(last.count(), kValues);
  EXPECT_EQ(last.sum, sum);
}

}  // namespace
}  // namespace sigrelay::dataplane
