#include "sim/timer_queue.hpp"

namespace sigrelay::sim {

void TimerQueue::schedule(std::int64_t deadline_ms, TimerKind kind, std::uint64_t id) {
  heap_.push(TimerEntry{deadline_ms, next_seq_++, kind, id});
}

std::optional<TimerEntry> TimerQueue::pop_due(std::int64_t now_ms) {
  if (heap_.empty() || heap_.top().deadline_ms > now_ms) return std::nullopt;
  TimerEntry e = heap_.top();
  heap_.pop();
  return e;
}

std::optional<std::int64_t> TimerQueue::next_deadline() const {
  if (heap_.empty()) return std::nullopt;
  return heap_.top().deadline_ms;
}

}  // namespace sigrelay::sim
