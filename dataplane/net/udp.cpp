#include "dataplane/net/udp.hpp"

#include <cstring>

#include "dataplane/net/checksum.hpp"
#include "dataplane/net/mbuf_access.hpp"

namespace sigrelay::dataplane::net {

bool parse_udp(rte_mbuf* m, std::uint32_t offset, std::uint32_t available, UdpView& out) {
  const std::uint8_t* p = bytes_at(m, offset, kUdpHeaderLen);
  if (p == nullptr || available < kUdpHeaderLen) return false;
  out.offset = offset;
  out.src_port = static_cast<std::uint16_t>(p[0] << 8 | p[1]);
  out.dst_port = static_cast<std::uint16_t>(p[2] << 8 | p[3]);
  out.length = static_cast<std::uint16_t>(p[4] << 8 | p[5]);
  std::memcpy(&out.checksum, p + 6, 2);
  return out.length >= kUdpHeaderLen && out.length <= available;
}

UdpChecksum check_udp(const rte_mbuf* m, const UdpView& udp, const IpAddress& src, const IpAddress& dst,
                      bool trust_rx_flags) {
  if (trust_rx_flags) {
    const auto flags = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
    if (flags == RTE_MBUF_F_RX_L4_CKSUM_GOOD) return UdpChecksum::good;
    if (flags == RTE_MBUF_F_RX_L4_CKSUM_BAD) return UdpChecksum::bad;
  }
  if (udp.checksum == 0) return src.is_v4() ? UdpChecksum::good : UdpChecksum::bad;
  Checksum c;
  c.add_pseudo_header(src, dst, kProtoUdp, udp.length);
  if (!c.add_mbuf(m, udp.offset, udp.length)) return UdpChecksum::bad;
  return c.verifies() ? UdpChecksum::good : UdpChecksum::bad;
}

void write_udp(std::uint8_t* p, std::uint16_t src_port, std::uint16_t dst_port, std::uint16_t length,
               std::uint16_t checksum) {
  p[0] = static_cast<std::uint8_t>(src_port >> 8);
  p[1] = static_cast<std::uint8_t>(src_port);
  p[2] = static_cast<std::uint8_t>(dst_port >> 8);
  p[3] = static_cast<std::uint8_t>(dst_port);
  p[4] = static_cast<std::uint8_t>(length >> 8);
  p[5] = static_cast<std::uint8_t>(length);
  std::memcpy(p + 6, &checksum, 2);
}

}  // namespace sigrelay::dataplane::net
