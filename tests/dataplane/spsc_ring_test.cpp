#include "dataplane/spsc_ring.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace sigrelay::dataplane {
namespace {

struct Item {
  std::uint32_t seq = 0;
};

std::vector<Item> make_items(std::size_t n) {
  std::vector<Item> items(n);
  for (std::size_t i = 0; i < n; ++i) items[i].seq = static_cast<std::uint32_t>(i);
  return items;
}

TEST(SpscRing, RejectsUnusableCapacities) {
  SpscRing<Item> ring;
  EXPECT_EQ(SpscRing<Item>::create(0, ring), RingError::bad_capacity);
  EXPECT_EQ(SpscRing<Item>::create(kMaxRingCapacity + 1, ring), RingError::bad_capacity);
  EXPECT_EQ(SpscRing<Item>::create(0xffffffffU, ring), RingError::bad_capacity);
  EXPECT_FALSE(ring.valid());
}

TEST(SpscRing, RejectsOverlongName) {
  SpscRing<Item> ring;
  const std::string name(RTE_RING_NAMESIZE + 4, 'n');
  EXPECT_EQ(SpscRing<Item>::create(8, ring, name.c_str()), RingError::init_failed);
  EXPECT_FALSE(ring.valid());
}

TEST(SpscRing, CapacityIsExactlyWhatWasAsked) {
  // RING_F_EXACT_SZ: a capacity that is not a power of two, nor one less.
  SpscRing<Item> ring;
  ASSERT_EQ(SpscRing<Item>::create(1000, ring), RingError::ok);
  EXPECT_EQ(ring.capacity(), 1000U);
  auto items = make_items(1001);
  std::vector<Item*> ptrs;
  for (auto& it : items) ptrs.push_back(&it);
  EXPECT_EQ(ring.enqueue_burst(ptrs), 1000U);
  EXPECT_EQ(ring.size(), 1000U);
}

TEST(SpscRing, EmptyRingDequeuesNothing) {
  SpscRing<Item> ring;
  ASSERT_EQ(SpscRing<Item>::create(4, ring), RingError::ok);
  std::array<Item*, 4> out{};
  EXPECT_EQ(ring.size(), 0U);
  EXPECT_EQ(ring.dequeue_burst(out), 0U);
  for (Item* p : out) EXPECT_EQ(p, nullptr);
}

TEST(SpscRing, FullRingEnqueuesNothing) {
  SpscRing<Item> ring;
  ASSERT_EQ(SpscRing<Item>::create(4, ring), RingError::ok);
  auto items = make_items(5);
  std::array<Item*, 4> first{&items[0], &items[1], &items[2], &items[3]};
  ASSERT_EQ(ring.enqueue_burst(first), 4U);
  std::array<Item*, 1> extra{&items[4]};
  EXPECT_EQ(ring.enqueue_burst(extra), 0U);
  EXPECT_EQ(ring.size(), 4U);
}

TEST(SpscRing, BurstIsCutShortWhenNearlyFull) {
  SpscRing<Item> ring;
  ASSERT_EQ(SpscRing<Item>::create(8, ring), RingError::ok);
  auto items = make_items(11);
  std::vector<Item*> ptrs;
  for (auto& it : items) ptrs.push_back(&it);
  ASSERT_EQ(ring.enqueue_burst(std::span<Item* const>(ptrs).first(6)), 6U);
  // Five offered, two fit: the first two, and the caller keeps items 8..10.
  EXPECT_EQ(ring.enqueue_burst(std::span<Item* const>(ptrs).subspan(6, 5)), 2U);
  EXPECT_EQ(ring.size(), 8U);
  std::array<Item*, 16> out{};
  ASSERT_EQ(ring.dequeue_burst(out), 8U);
  for (std::uint32_t i = 0; i < 8; ++i) EXPECT_EQ(out[i], &items[i]);
}

TEST(SpscRing, KeepsFifoOrderAcrossWrapAround) {
  SpscRing<Item> ring;
  ASSERT_EQ(SpscRing<Item>::create(5, ring), RingError::ok);
  auto items = make_items(1000);
  std::size_t next_in = 0;
  std::size_t next_out = 0;
  // Bursts of 3 in and 2 out, then drain: indexes wrap many times.
  while (next_out < items.size()) {
    std::array<Item*, 3> in{};
    std::size_t n = 0;
    while (n < in.size() && next_in + n < items.size()) {
      in[n] = &items[next_in + n];
      ++n;
    }
    next_in += ring.enqueue_burst(std::span<Item* const>(in).first(n));
    std::array<Item*, 2> out{};
    const unsigned got = ring.dequeue_burst(out);
    for (unsigned i = 0; i < got; ++i) {
      ASSERT_EQ(out[i]->seq, next_out);
      ++next_out;
    }
    ASSERT_EQ(ring.size(), next_in - next_out);
  }
}

TEST(SpscRing, MoveTransfersTheRing) {
  SpscRing<Item> a;
  ASSERT_EQ(SpscRing<Item>::create(4, a), RingError::ok);
  Item item;
  std::array<Item*, 1> in{&item};
  ASSERT_EQ(a.enqueue_burst(in), 1U);
  SpscRing<Item> b = std::move(a);
  EXPECT_TRUE(b.valid());
  std::array<Item*, 1> out{};
  ASSERT_EQ(b.dequeue_burst(out), 1U);
  EXPECT_EQ(out[0], &item);
}

TEST(SpscRing, TwoThreadsLoseAndDuplicateNothing) {
  constexpr std::size_t kItems = 3'000'000;
  SpscRing<Item> ring;
  // Small, so the producer keeps running into a full ring and the consumer
  // into an empty one.
  ASSERT_EQ(SpscRing<Item>::create(256, ring), RingError::ok);
  auto items = make_items(kItems);

  std::thread producer([&] {
    std::size_t next = 0;
    std::size_t burst = 1;
    std::array<Item*, 32> buf{};
    while (next < kItems) {
      std::size_t n = 0;
      while (n < burst && next + n < kItems) {
        buf[n] = &items[next + n];
        ++n;
      }
      const unsigned sent = ring.enqueue_burst(std::span<Item* const>(buf).first(n));
      next += sent;
      if (sent == 0) std::this_thread::yield();
      burst = burst % buf.size() + 1;  // vary burst sizes 1..32
    }
  });

  // The consumer runs here and checks every item in order: a lost item
  // shows as a gap, a duplicate as a repeat, and the count must end exact.
  std::size_t expected = 0;
  std::size_t mismatches = 0;
  std::array<Item*, 32> buf{};
  while (expected < kItems) {
    const unsigned got = ring.dequeue_burst(buf);
    if (got == 0) {
      std::this_thread::yield();
      continue;
    }
    for (unsigned i = 0; i < got; ++i) {
      if (buf[i] != &items[expected] || buf[i]->seq != expected) ++mismatches;
      ++expected;
    }
  }
  producer.join();
  EXPECT_EQ(mismatches, 0U);
  EXPECT_EQ(expected, kItems);
  EXPECT_EQ(ring.size(), 0U);
}

}  // namespace
}  // namespace sigrelay::dataplane
