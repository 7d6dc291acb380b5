// Ethernet II with at most one 802.1Q tag. On receive the tag may be in the
// frame or stripped by the PMD (RTE_MBUF_F_RX_VLAN_STRIPPED, vlan_tci); both
// count. VLAN id 0 (priority tag, 802.1Q §9.6) means untagged. On transmit the
// tag is written in software, so no port offload has to be configured.
#pragma once

#include <rte_ether.h>
#include <rte_mbuf.h>

#include <cstdint>

namespace sigrelay::dataplane::net {

inline constexpr std::uint16_t kEtherMinFrame = 60;  // without FCS (IEEE 802.3 minimum 64 with it)

struct EtherView {
  std::uint16_t l2_len = 0;      // bytes up to the L3 header: 14, or 18 with a tag in the frame
  std::uint16_t ether_type = 0;  // host order, after the tag
  bool group = false;            // multicast or broadcast destination
  rte_ether_addr src{};
};

enum class EtherResult : std::uint8_t { ok, truncated, wrong_vlan, not_for_us };

// `vlan` is the configured VLAN id (0 = untagged).
EtherResult parse_ethernet(rte_mbuf* m, const rte_ether_addr& mac, std::uint16_t vlan, EtherView& out);

inline std::uint16_t ethernet_header_len(std::uint16_t vlan) { return vlan != 0 ? 18 : 14; }

// Writes the header at `p` (ethernet_header_len(vlan) bytes). `type` in host order.
void write_ethernet(std::uint8_t* p, const rte_ether_addr& dst, const rte_ether_addr& src, std::uint16_t vlan,
                    std::uint16_t type);

// RFC 2464 §7: the group MAC of an IPv6 multicast address.
rte_ether_addr multicast_mac_v6(const std::uint8_t ip[16]);

}  // namespace sigrelay::dataplane::net
