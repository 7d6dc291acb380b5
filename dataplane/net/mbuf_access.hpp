// Bounds-checked access to headers in an mbuf, and appending bytes to an
// mbuf chain. Headers are only ever read from the first segment: every PMD
// delivers the L2-L4 headers of a frame there, and so does rte_ip_frag for a
// reassembled datagram. A header that would cross the end of the first
// segment is treated as a truncated frame.
#pragma once

#include <rte_mbuf.h>

#include <cstddef>
#include <cstdint>

namespace sigrelay::dataplane::net {

// The first segment's bytes [offset, offset + len), or nullptr when they are
// not all there.
inline std::uint8_t* bytes_at(rte_mbuf* m, std::uint32_t offset, std::uint32_t len) {
  if (static_cast<std::uint64_t>(offset) + len > m->data_len) return nullptr;
  return rte_pktmbuf_mtod_offset(m, std::uint8_t*, offset);
}

template <typename Header>
Header* header_at(rte_mbuf* m, std::uint32_t offset) {
  return reinterpret_cast<Header*>(bytes_at(m, offset, sizeof(Header)));
}

// Cuts the chain to `len` bytes (Ethernet padding after the IP packet). False
// when the cut would go past the last segment, which a padded frame never
// needs; the frame is then left as it was.
bool trim_to(rte_mbuf* m, std::uint32_t len);

// Appends bytes at the end of a chain, adding segments from `pool` when the
// last one is full. Not copyable: it tracks the current tail.
class ChainWriter {
 public:
  ChainWriter(rte_mbuf* head, rte_mempool* pool);
  ChainWriter(const ChainWriter&) = delete;
  ChainWriter& operator=(const ChainWriter&) = delete;

  // False when the pool ran dry; bytes written so far stay in the chain.
  bool write(const void* data, std::size_t len);
  bool zero_fill(std::size_t len);

 private:
  std::uint8_t* room(std::size_t& len);

  rte_mbuf* head_;
  rte_mbuf* tail_;
  rte_mempool* pool_;
};

}  // namespace sigrelay::dataplane::net
