// One thread's calls, indexed by the sequence number carried in the Call-ID.
// Allocated once before the run; the hot path only indexes into it. A slot
// remembers when its INVITE left and which final answered it first, so a
// retransmitted final is told apart from the first one without any lookup.
#pragma once

#include <cstdint>
#include <vector>

namespace sigrelay::blast {

struct CallSlot {
  std::int64_t sent_ns = 0;        // CLOCK_REALTIME, 0 = not sent
  std::uint16_t final_status = 0;  // first final (>= 200), 0 = none yet
  std::uint16_t finals_seen = 0;   // saturating
  std::uint32_t latency_us = 0;    // first final, saturating
};

enum class FinalKind : std::uint8_t {
  first,       // the call's first final response
  repeat,      // a retransmission (or a second, different final) of an answered call
  not_sent,    // sequence number beyond the table or for a call never sent
};

class CallTable {
 public:
  explicit CallTable(std::uint64_t calls) : slots_(calls) {}

  std::uint64_t size() const { return slots_.size(); }
  const CallSlot& slot(std::uint64_t seq) const { return slots_[seq]; }

  void mark_sent(std::uint64_t seq, std::int64_t now_ns) { slots_[seq].sent_ns = now_ns; }

  // Records a final response that arrived at `rx_ns`. For FinalKind::first,
  // `latency_us` receives rx - sent in microseconds (0 if the clock went
  // backwards).
  FinalKind on_final(std::uint64_t seq, std::uint16_t status, std::int64_t rx_ns,
                     std::uint64_t& latency_us);

 private:
  std::vector<CallSlot> slots_;
};

}  // namespace sigrelay::blast
