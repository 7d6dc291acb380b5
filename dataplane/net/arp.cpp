#include "dataplane/net/arp.hpp"

#include <cstring>

#include "dataplane/net/mbuf_access.hpp"

namespace sigrelay::dataplane::net {

bool parse_arp(rte_mbuf* m, std::uint32_t offset, ArpView& out) {
  const std::uint8_t* p = bytes_at(m, offset, kArpLen);
  if (p == nullptr) return false;
  const std::uint16_t htype = static_cast<std::uint16_t>(p[0] << 8 | p[1]);
  const std::uint16_t ptype = static_cast<std::uint16_t>(p[2] << 8 | p[3]);
  out.op = static_cast<std::uint16_t>(p[6] << 8 | p[7]);
  if (htype != kArpHardwareEthernet || ptype != RTE_ETHER_TYPE_IPV4 || p[4] != 6 || p[5] != 4 ||
      (out.op != kArpRequest && out.op != kArpReply)) {
    return false;
  }
  std::memcpy(&out.sha, p + 8, 6);
  out.spa = IpAddress::from_v4(p + 14);
  std::memcpy(&out.tha, p + 18, 6);
  out.tpa = IpAddress::from_v4(p + 24);
  return rte_is_unicast_ether_addr(&out.sha) && !rte_is_zero_ether_addr(&out.sha);
}

rte_mbuf* build_arp(rte_mempool* pool, const FrameTemplate& tpl, const rte_ether_addr& eth_dst, std::uint16_t op,
                    const IpAddress& spa, const rte_ether_addr& tha, const IpAddress& tpa) {
  std::uint8_t* p = nullptr;
  rte_mbuf* m = new_frame(pool, tpl, eth_dst, RTE_ETHER_TYPE_ARP, kArpLen, p);
  if (m == nullptr) return nullptr;
  p[0] = 0;
  p[1] = kArpHardwareEthernet;
  p[2] = RTE_ETHER_TYPE_IPV4 >> 8;
  p[3] = RTE_ETHER_TYPE_IPV4 & 0xff;
  p[4] = 6;
  p[5] = 4;
  p[6] = static_cast<std::uint8_t>(op >> 8);
  p[7] = static_cast<std::uint8_t>(op);
  std::memcpy(p + 8, &tpl.src, 6);
  std::memcpy(p + 14, spa.data(), 4);
  std::memcpy(p + 18, &tha, 6);
  std::memcpy(p + 24, tpa.data(), 4);
  if (!pad_frame(m, pool)) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  return m;
}

}  // namespace sigrelay::dataplane::net
