#include "dataplane/net/checksum.hpp"

#include <rte_byteorder.h>
#include <rte_ip.h>

#include <cstring>

namespace sigrelay::dataplane::net {

void Checksum::add(const void* data, std::size_t len) {
  if (len == 0) return;
  std::uint16_t s = rte_raw_cksum(data, len);
  // A piece that starts at an odd position has its bytes in the other halves
  // of the 16-bit words; RFC 1071 §2(B): swapping the bytes of the sum fixes it.
  if (pos_ & 1) s = rte_bswap16(s);
  sum_ += s;
  pos_ += len;
}

bool Checksum::add_mbuf(const rte_mbuf* m, std::uint32_t offset, std::uint32_t len) {
  if (static_cast<std::uint64_t>(offset) + len > m->pkt_len) return false;
  const rte_mbuf* seg = m;
  while (seg != nullptr && offset >= seg->data_len) {
    offset -= seg->data_len;
    seg = seg->next;
  }
  while (len > 0 && seg != nullptr) {
    const std::uint32_t take = seg->data_len - offset < len ? seg->data_len - offset : len;
    add(rte_pktmbuf_mtod_offset(seg, const std::uint8_t*, offset), take);
    len -= take;
    offset = 0;
    seg = seg->next;
  }
  return len == 0;
}

void Checksum::add_pseudo_header(const IpAddress& src, const IpAddress& dst, std::uint8_t proto, std::uint32_t len) {
  std::uint8_t buf[40] = {};
  if (src.is_v4()) {
    std::memcpy(buf, src.data(), 4);
    std::memcpy(buf + 4, dst.data(), 4);
    buf[9] = proto;
    buf[10] = static_cast<std::uint8_t>(len >> 8);
    buf[11] = static_cast<std::uint8_t>(len);
    add(buf, 12);
  } else {
    std::memcpy(buf, src.data(), 16);
    std::memcpy(buf + 16, dst.data(), 16);
    buf[32] = static_cast<std::uint8_t>(len >> 24);
    buf[33] = static_cast<std::uint8_t>(len >> 16);
    buf[34] = static_cast<std::uint8_t>(len >> 8);
    buf[35] = static_cast<std::uint8_t>(len);
    buf[39] = proto;
    add(buf, 40);
  }
}

std::uint16_t Checksum::fold() const {
  std::uint64_t s = sum_;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(s);
}

}  // namespace sigrelay::dataplane::net
