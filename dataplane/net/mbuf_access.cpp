#include "dataplane/net/mbuf_access.hpp"

#include <cstring>

namespace sigrelay::dataplane::net {

bool trim_to(rte_mbuf* m, std::uint32_t len) {
  if (m->pkt_len <= len) return true;
  return rte_pktmbuf_trim(m, static_cast<std::uint16_t>(m->pkt_len - len)) == 0;
}

ChainWriter::ChainWriter(rte_mbuf* head, rte_mempool* pool) : head_(head), tail_(rte_pktmbuf_lastseg(head)), pool_(pool) {}

// Room at the tail for up to `len` bytes (reduced to what fits); grows the
// chain when the tail is full. The bytes are accounted as written.
std::uint8_t* ChainWriter::room(std::size_t& len) {
  if (rte_pktmbuf_tailroom(tail_) == 0) {
    rte_mbuf* seg = rte_pktmbuf_alloc(pool_);
    if (seg == nullptr) return nullptr;
    if (head_->nb_segs == UINT16_MAX || rte_pktmbuf_tailroom(seg) == 0) {
      rte_pktmbuf_free(seg);
      return nullptr;
    }
    tail_->next = seg;
    tail_ = seg;
    ++head_->nb_segs;
  }
  const std::size_t avail = rte_pktmbuf_tailroom(tail_);
  if (len > avail) len = avail;
  std::uint8_t* at = rte_pktmbuf_mtod_offset(tail_, std::uint8_t*, tail_->data_len);
  tail_->data_len = static_cast<std::uint16_t>(tail_->data_len + len);
  head_->pkt_len += static_cast<std::uint32_t>(len);
  return at;
}

bool ChainWriter::write(const void* data, std::size_t len) {
  const auto* src = static_cast<const std::uint8_t*>(data);
  while (len > 0) {
    std::size_t n = len;
    std::uint8_t* at = room(n);
    if (at == nullptr) return false;
    std::memcpy(at, src, n);
    src += n;
    len -= n;
  }
  return true;
}

bool ChainWriter::zero_fill(std::size_t len) {
  while (len > 0) {
    std::size_t n = len;
    std::uint8_t* at = room(n);
    if (at == nullptr) return false;
    std::memset(at, 0, n);
    len -= n;
  }
  return true;
}

}  // namespace sigrelay::dataplane::net
