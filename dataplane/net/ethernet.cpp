#include "dataplane/net/ethernet.hpp"

#include <cstring>

#include "dataplane/net/mbuf_access.hpp"

namespace sigrelay::dataplane::net {

EtherResult parse_ethernet(rte_mbuf* m, const rte_ether_addr& mac, std::uint16_t vlan, EtherView& out) {
  const std::uint8_t* p = bytes_at(m, 0, RTE_ETHER_HDR_LEN);
  if (p == nullptr) return EtherResult::truncated;
  rte_ether_addr dst;
  std::memcpy(&dst, p, 6);
  std::memcpy(&out.src, p + 6, 6);
  std::uint16_t type = static_cast<std::uint16_t>(p[12] << 8 | p[13]);
  std::uint16_t l2_len = RTE_ETHER_HDR_LEN;
  std::uint16_t vid = 0;
  if (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) vid = m->vlan_tci & 0x0fff;
  if (type == RTE_ETHER_TYPE_VLAN) {
    const std::uint8_t* tag = bytes_at(m, RTE_ETHER_HDR_LEN, 4);
    if (tag == nullptr) return EtherResult::truncated;
    if (vid != 0) return EtherResult::wrong_vlan;  // a tag left after one was stripped: QinQ
    vid = static_cast<std::uint16_t>((tag[0] << 8 | tag[1]) & 0x0fff);
    type = static_cast<std::uint16_t>(tag[2] << 8 | tag[3]);
    l2_len += 4;
  }
  if (vid != vlan || type == RTE_ETHER_TYPE_VLAN || type == RTE_ETHER_TYPE_QINQ) return EtherResult::wrong_vlan;
  out.group = rte_is_multicast_ether_addr(&dst);
  if (!out.group && !rte_is_same_ether_addr(&dst, &mac)) return EtherResult::not_for_us;
  out.l2_len = l2_len;
  out.ether_type = type;
  return EtherResult::ok;
}

void write_ethernet(std::uint8_t* p, const rte_ether_addr& dst, const rte_ether_addr& src, std::uint16_t vlan,
                    std::uint16_t type) {
  std::memcpy(p, &dst, 6);
  std::memcpy(p + 6, &src, 6);
  p += 12;
  if (vlan != 0) {
    *p++ = RTE_ETHER_TYPE_VLAN >> 8;
    *p++ = RTE_ETHER_TYPE_VLAN & 0xff;
    *p++ = static_cast<std::uint8_t>(vlan >> 8);
    *p++ = static_cast<std::uint8_t>(vlan);
  }
  p[0] = static_cast<std::uint8_t>(type >> 8);
  p[1] = static_cast<std::uint8_t>(type);
}

rte_ether_addr multicast_mac_v6(const std::uint8_t ip[16]) {
  rte_ether_addr a;
  a.addr_bytes[0] = 0x33;
  a.addr_bytes[1] = 0x33;
  std::memcpy(&a.addr_bytes[2], ip + 12, 4);
  return a;
}

}  // namespace sigrelay::dataplane::net
