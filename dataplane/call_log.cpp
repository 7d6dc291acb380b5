#include "dataplane/call_log.hpp"

#include <cstring>
#include <type_traits>

namespace sigrelay::dataplane {

static_assert(std::is_trivially_copyable_v<CallRecord>);

std::string_view to_string(Decision d) {
  switch (d) {
    case Decision::relayed: return "relayed";
    case Decision::blocked: return "blocked";
    case Decision::not_whitelisted: return "not_whitelisted";
    case Decision::local_emergency: return "local_emergency";
    case Decision::local_no_upstream: return "local_no_upstream";
    case Decision::local_timeout: return "local_timeout";
    case Decision::local_overload: return "local_overload";
    case Decision::local_other: return "local_other";
    case Decision::cancelled: return "cancelled";
    case Decision::inline_answered: return "inline_answered";
    case Decision::inline_failed: return "inline_failed";
    case Decision::inline_declined: return "inline_declined";
    case Decision::shutdown: return "shutdown";
  }
  return "unknown";
}

CallLog::CallLog(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity), slots_(new Slot[capacity_]) {
  for (std::size_t i = 0; i < capacity_; ++i) {
    for (auto& w : slots_[i].words) w.store(0, std::memory_order_relaxed);
  }
}

void CallLog::add(const CallRecord& r) {
  const std::uint64_t n = next_.load(std::memory_order_relaxed);
  Slot& slot = slots_[n % capacity_];
  std::uint64_t words[kWords] = {};
  std::memcpy(words, &r, sizeof r);
  const std::uint64_t seq = slot.seq.load(std::memory_order_relaxed);
  slot.seq.store(seq + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  for (std::size_t i = 0; i < kWords; ++i) slot.words[i].store(words[i], std::memory_order_relaxed);
  slot.seq.store(seq + 2, std::memory_order_release);
  next_.store(n + 1, std::memory_order_release);
}

std::string normalize_number(std::string_view s) {
  std::string d;
  for (const char c : s) {
    if (c >= '0' && c <= '9') d.push_back(c);
  }
  if (d.size() == 11 && d[0] == '1') d.erase(0, 1);
  return d;
}

std::vector<CallRecord> CallLog::find(std::string_view key) const {
  std::vector<CallRecord> out;
  const std::string number = normalize_number(key);
  const std::uint64_t end = next_.load(std::memory_order_acquire);
  const std::uint64_t begin = end > capacity_ ? end - capacity_ : 0;
  for (std::uint64_t n = begin; n < end; ++n) {
    const Slot& slot = slots_[n % capacity_];
    CallRecord r;
    bool stable = false;
    for (int attempt = 0; attempt < 4 && !stable; ++attempt) {
      const std::uint64_t before = slot.seq.load(std::memory_order_acquire);
      if (before & 1U) continue;
      std::uint64_t words[kWords];
      for (std::size_t i = 0; i < kWords; ++i) words[i] = slot.words[i].load(std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_acquire);
      if (slot.seq.load(std::memory_order_relaxed) != before) continue;
      std::memcpy(&r, words, sizeof r);
      stable = true;
    }
    if (!stable || r.time_us == 0) continue;  // being rewritten right now: the next one is newer anyway
    const bool by_id = key == std::string_view(r.call_id);
    const bool by_number = !number.empty() && number.size() >= 3 &&
                           (normalize_number(r.calling) == number || normalize_number(r.called) == number);
    if (by_id || by_number) out.push_back(r);
  }
  return out;
}

}  // namespace sigrelay::dataplane
