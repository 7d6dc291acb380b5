#include "dataplane/net/unreachable_ring.hpp"

#include <cstring>

namespace sigrelay::dataplane::net {

bool UnreachableRing::push(const rte_mbuf* m, std::uint32_t offset, std::uint32_t len,
                           const sockaddr_storage& destination) {
  if (count_ == slots_.size() || len == 0) return false;
  Slot& s = slots_[(head_ + count_) % slots_.size()];
  if (len > kBytes) len = kBytes;
  // Contiguous bytes come back as a pointer into the mbuf, bytes spread over
  // segments are gathered into the slot.
  const void* at = rte_pktmbuf_read(m, offset, len, s.bytes);
  if (at == nullptr) return false;
  if (at != s.bytes) std::memcpy(s.bytes, at, len);
  s.destination = destination;
  s.len = len;
  ++count_;
  return true;
}

std::size_t UnreachableRing::take(char* out, std::size_t capacity, sockaddr_storage& destination) {
  if (count_ == 0 || capacity == 0) return 0;
  const Slot& s = slots_[head_];
  const std::size_t len = s.len < capacity ? s.len : capacity;
  std::memcpy(out, s.bytes, len);
  destination = s.destination;
  head_ = (head_ + 1) % slots_.size();
  --count_;
  return len;
}

}  // namespace sigrelay::dataplane::net
