#include "sim/timer_queue.hpp"

#include <gtest/gtest.h>

namespace sigrelay::sim {
namespace {

TEST(TimerQueue, FiresInDeadlineOrderOnlyWhenDue) {
  TimerQueue q;
  EXPECT_FALSE(q.next_deadline().has_value());
  q.schedule(300, TimerKind::answer, 3);
  q.schedule(100, TimerKind::answer, 1);
  q.schedule(200, TimerKind::expire, 2);
  EXPECT_EQ(q.next_deadline(), 100);
  EXPECT_FALSE(q.pop_due(99).has_value());
  auto e = q.pop_due(250);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->id, 1u);
  e = q.pop_due(250);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->id, 2u);
  EXPECT_EQ(e->kind, TimerKind::expire);
  EXPECT_FALSE(q.pop_due(250).has_value());
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.pop_due(1000)->id, 3u);
  EXPECT_EQ(q.size(), 0u);
}

TEST(TimerQueue, EqualDeadlinesKeepSchedulingOrder) {
  TimerQueue q;
  for (std::uint64_t id = 0; id < 50; ++id) q.schedule(10, TimerKind::answer, id);
  for (std::uint64_t id = 0; id < 50; ++id) {
    const auto e = q.pop_due(10);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->id, id);
  }
}

}  // namespace
}  // namespace sigrelay::sim
