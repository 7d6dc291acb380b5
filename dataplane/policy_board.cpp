#include "dataplane/policy_board.hpp"

#include <algorithm>

namespace sigrelay::dataplane {

PolicyBoard::PolicyBoard(unsigned readers, std::unique_ptr<RuntimePolicy> first)
    : readers_(readers), seen_(new Seen[readers == 0 ? 1 : readers]) {
  first->generation = 1;
  live_ = std::move(first);
  current_.store(live_.get(), std::memory_order_release);
}

PolicyBoard::~PolicyBoard() = default;

void PolicyBoard::publish(std::unique_ptr<RuntimePolicy> next) {
  next->generation = live_->generation + 1;
  std::unique_ptr<RuntimePolicy> old = std::move(live_);
  live_ = std::move(next);
  current_.store(live_.get(), std::memory_order_release);
  // A reader whose quiescent() reads this epoch (or a later one) loaded
  // current_ after the store above, so it can no longer hold `old`.
  const std::uint64_t e = epoch_.fetch_add(1, std::memory_order_acq_rel) + 1;
  retired_.emplace_back(e, std::move(old));
  reclaim();
}

std::size_t PolicyBoard::reclaim() {
  std::uint64_t oldest = UINT64_MAX;
  for (unsigned r = 0; r < readers_; ++r) oldest = std::min(oldest, seen_[r].value.load(std::memory_order_acquire));
  std::erase_if(retired_, [&](const auto& entry) { return entry.first <= oldest; });
  return retired_.size();
}

}  // namespace sigrelay::dataplane
