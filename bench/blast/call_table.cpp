#include "bench/blast/call_table.hpp"

namespace sigrelay::blast {

FinalKind CallTable::on_final(std::uint64_t seq, std::uint16_t status, std::int64_t rx_ns,
                              std::uint64_t& latency_us) {
  if (seq >= slots_.size()) return FinalKind::not_sent;
  CallSlot& s = slots_[seq];
  if (s.sent_ns == 0) return FinalKind::not_sent;
  if (s.finals_seen != UINT16_MAX) ++s.finals_seen;
  if (s.final_status != 0) return FinalKind::repeat;
  s.final_status = status;
  const std::int64_t d = rx_ns - s.sent_ns;
  latency_us = d > 0 ? static_cast<std::uint64_t>(d) / 1000 : 0;
  s.latency_us = latency_us > UINT32_MAX ? UINT32_MAX : static_cast<std::uint32_t>(latency_us);
  return FinalKind::first;
}

}  // namespace sigrelay::blast
