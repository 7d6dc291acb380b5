// The settings that a hot reload (SIGHUP, `sigrelayctl reload`) may change
// while calls are in flight (DESIGN.md §2: published RCU-style), and the
// board that publishes them to the worker threads.
//
// Readers (sip and tls workers) use the current policy through a plain
// pointer with no lock and no reference count. Each reader announces a
// quiescent state once per loop turn, a point where it holds no pointer to
// any policy. A replaced policy is freed only once every reader has passed
// such a point after the replacement (quiescent-state-based reclamation), so
// a reader never sees it freed under it and a reload never waits for a
// worker.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sip/transaction.hpp"

namespace sigrelay::dataplane {

// What the data path reads. The control plane derives its own policy from
// this (with the whitelists and the upstream list) and publishes that.
struct RuntimePolicy {
  virtual ~RuntimePolicy() = default;
  std::uint64_t generation = 0;  // set by PolicyBoard::publish
  std::vector<std::string> emergency_numbers;
  sip::Millis upstream_timeout{2000};
};

class PolicyBoard {
 public:
  PolicyBoard(unsigned readers, std::unique_ptr<RuntimePolicy> first);
  ~PolicyBoard();
  PolicyBoard(const PolicyBoard&) = delete;
  PolicyBoard& operator=(const PolicyBoard&) = delete;

  // Readers: the policy in force. Valid until this reader's next quiescent().
  const RuntimePolicy* current() const { return current_.load(std::memory_order_acquire); }
  // Reader `reader` holds no policy pointer now.
  void quiescent(unsigned reader) {
    seen_[reader].value.store(epoch_.load(std::memory_order_acquire), std::memory_order_release);
  }

  // Control thread only: makes `next` current (its generation is set here)
  // and retires the previous one.
  void publish(std::unique_ptr<RuntimePolicy> next);
  // Control thread only: frees the retired policies every reader has moved
  // past; returns how many are still waiting.
  std::size_t reclaim();
  unsigned readers() const { return readers_; }

 private:
  struct alignas(64) Seen {
    std::atomic<std::uint64_t> value{0};
  };
  unsigned readers_;
  std::unique_ptr<Seen[]> seen_;
  std::atomic<std::uint64_t> epoch_{1};
  std::atomic<const RuntimePolicy*> current_{nullptr};
  std::unique_ptr<RuntimePolicy> live_;
  std::vector<std::pair<std::uint64_t, std::unique_ptr<RuntimePolicy>>> retired_;
};

}  // namespace sigrelay::dataplane
