// ARP for IPv4 over Ethernet (RFC 826): packet validation and building.
// What to do with a valid packet (answer, learn) is NetStack's business.
#pragma once

#include <rte_ether.h>
#include <rte_mbuf.h>

#include <cstdint>

#include "dataplane/net/frame_builder.hpp"
#include "dataplane/net/ip_address.hpp"

namespace sigrelay::dataplane::net {

inline constexpr std::uint16_t kArpRequest = 1;
inline constexpr std::uint16_t kArpReply = 2;
inline constexpr std::uint32_t kArpLen = 28;
inline constexpr std::uint16_t kArpHardwareEthernet = 1;

struct ArpView {
  std::uint16_t op = 0;
  rte_ether_addr sha{}, tha{};
  IpAddress spa, tpa;
};

// Ethernet/IPv4 only (hardware type 1, protocol 0x0800, lengths 6 and 4),
// opcode request or reply, and a unicast sender hardware address.
bool parse_arp(rte_mbuf* m, std::uint32_t offset, ArpView& out);

// A whole frame, padded to the Ethernet minimum; nullptr when out of mbufs.
rte_mbuf* build_arp(rte_mempool* pool, const FrameTemplate& tpl, const rte_ether_addr& eth_dst, std::uint16_t op,
                    const IpAddress& spa, const rte_ether_addr& tha, const IpAddress& tpa);

}  // namespace sigrelay::dataplane::net
