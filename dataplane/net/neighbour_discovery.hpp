// IPv6 Neighbour Discovery messages (RFC 4861 §4.3, §4.4): validation of
// Neighbour Solicitations and Advertisements (§7.1.1, §7.1.2) and building
// them with our link-layer address option.
#pragma once

#include <rte_ether.h>
#include <rte_mbuf.h>

#include <cstdint>

#include "dataplane/net/frame_builder.hpp"
#include "dataplane/net/ip_address.hpp"
#include "dataplane/net/ipv6.hpp"

namespace sigrelay::dataplane::net {

inline constexpr std::uint8_t kNdNeighbourSolicitation = 135;
inline constexpr std::uint8_t kNdNeighbourAdvertisement = 136;
inline constexpr std::uint8_t kNdOptSourceLinkAddr = 1;
inline constexpr std::uint8_t kNdOptTargetLinkAddr = 2;
inline constexpr std::uint8_t kNdHopLimit = 255;
inline constexpr std::uint8_t kNaRouter = 0x80;
inline constexpr std::uint8_t kNaSolicited = 0x40;
inline constexpr std::uint8_t kNaOverride = 0x20;

struct NdView {
  std::uint8_t type = 0;   // kNdNeighbourSolicitation or kNdNeighbourAdvertisement
  std::uint8_t flags = 0;  // NA: kNaRouter | kNaSolicited | kNaOverride
  IpAddress target;
  bool has_link_addr = false;  // source (NS) or target (NA) link-layer address option present
  rte_ether_addr link_addr{};
};

// The ICMPv6 message starts at ip.l4_offset (ip.l4_proto is 58). False when
// any of the RFC's validity checks fails, checksum included.
bool parse_nd(rte_mbuf* m, const Ipv6View& ip, NdView& out);

// NS (`type` 135, option = source link-layer address) or NA (136, option =
// target link-layer address, `flags` as above); the option carries tpl.src.
// Hop limit 255. A whole frame, or nullptr when out of mbufs.
rte_mbuf* build_nd(rte_mempool* pool, const FrameTemplate& tpl, const rte_ether_addr& eth_dst, const IpAddress& src,
                   const IpAddress& dst, std::uint8_t type, std::uint8_t flags, const IpAddress& target);

}  // namespace sigrelay::dataplane::net
