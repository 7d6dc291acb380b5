// The policy board: readers always see a whole policy, a replaced policy is
// freed only after every reader passed a quiescent point, and a reader that
// races many publications never touches freed memory (ASan would say so).
#include "dataplane/policy_board.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace sigrelay::dataplane {
namespace {

// Counts live instances, so frees can be observed.
struct Counted final : RuntimePolicy {
  static inline std::atomic<int> alive{0};
  explicit Counted(int v) : value(v) { ++alive; }
  ~Counted() override { --alive; }
  int value;
};

TEST(PolicyBoard, GenerationsCountUpAndCurrentIsTheLastPublished) {
  PolicyBoard board(1, std::make_unique<Counted>(1));
  EXPECT_EQ(board.current()->generation, 1u);
  board.publish(std::make_unique<Counted>(2));
  EXPECT_EQ(board.current()->generation, 2u);
  EXPECT_EQ(static_cast<const Counted*>(board.current())->value, 2);
}

TEST(PolicyBoard, OldPolicyLivesUntilEveryReaderIsQuiescent) {
  const int base = Counted::alive.load();
  PolicyBoard board(2, std::make_unique<Counted>(1));
  board.quiescent(0);
  board.quiescent(1);
  const RuntimePolicy* held = board.current();  // reader 1 keeps using generation 1
  board.publish(std::make_unique<Counted>(2));
  EXPECT_EQ(Counted::alive.load() - base, 2) << "generation 1 still held";
  board.quiescent(0);
  EXPECT_EQ(board.reclaim(), 1u) << "reader 1 has not moved on";
  EXPECT_EQ(static_cast<const Counted*>(held)->value, 1);
  board.quiescent(1);
  EXPECT_EQ(board.reclaim(), 0u);
  EXPECT_EQ(Counted::alive.load() - base, 1);
}

TEST(PolicyBoard, ReadersRacingPublicationsAlwaysSeeAWholePolicy) {
  PolicyBoard board(2, std::make_unique<Counted>(0));
  std::atomic<bool> stop{false};
  std::atomic<long> reads{0};
  auto reader = [&](unsigned id) {
    while (!stop.load(std::memory_order_relaxed)) {
      board.quiescent(id);
      const auto* p = static_cast<const Counted*>(board.current());
      // value and generation were written together before publication.
      ASSERT_EQ(static_cast<std::uint64_t>(p->value) + 1, p->generation);
      reads.fetch_add(1, std::memory_order_relaxed);
    }
  };
  std::thread a(reader, 0), b(reader, 1);
  // Both readers running before the publications start (a bounded wait: a
  // busy machine may take a while to schedule them).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (reads.load() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  for (int i = 1; i <= 2000; ++i) {
    board.publish(std::make_unique<Counted>(i));
    board.reclaim();
  }
  stop = true;
  a.join();
  b.join();
  EXPECT_GT(reads.load(), 0) << "the readers never ran";
}

}  // namespace
}  // namespace sigrelay::dataplane
