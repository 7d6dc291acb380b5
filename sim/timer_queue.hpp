// Deadlines for the simulator's event loop: delayed answers, transaction
// expiry, listener re-arming. A binary heap; cancelling is left to the owner,
// which ignores a due entry whose target is gone or has moved on. Time is
// passed in (milliseconds of a monotonic clock), so tests need no clock.
#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <vector>

namespace sigrelay::sim {

enum class TimerKind : std::uint8_t { answer, expire, rearm_listener };

struct TimerEntry {
  std::int64_t deadline_ms = 0;
  std::uint64_t seq = 0;  // ties fire in the order they were scheduled
  TimerKind kind = TimerKind::answer;
  std::uint64_t id = 0;   // what the owner looks up when the entry fires
};

class TimerQueue {
 public:
  void schedule(std::int64_t deadline_ms, TimerKind kind, std::uint64_t id);
  // The earliest entry due at `now_ms`, removed from the queue.
  std::optional<TimerEntry> pop_due(std::int64_t now_ms);
  std::optional<std::int64_t> next_deadline() const;
  std::size_t size() const { return heap_.size(); }

 private:
  struct Later {
    bool operator()(const TimerEntry& a, const TimerEntry& b) const {
      return a.deadline_ms != b.deadline_ms ? a.deadline_ms > b.deadline_ms : a.seq > b.seq;
    }
  };
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, Later> heap_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace sigrelay::sim
