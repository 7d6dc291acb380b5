#include "dataplane/net/neighbour_discovery.hpp"

#include <cstring>

#include "dataplane/net/checksum.hpp"
#include "dataplane/net/mbuf_access.hpp"

namespace sigrelay::dataplane::net {

namespace {

constexpr std::uint32_t kNdFixedLen = 24;  // type, code, checksum, flags/reserved, target
constexpr std::uint32_t kLinkAddrOptLen = 8;

bool is_solicited_node(const IpAddress& ip) {
  static constexpr std::uint8_t kPrefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
  return ip.is_v6() && std::memcmp(ip.data(), kPrefix, sizeof(kPrefix)) == 0;
}

}  // namespace

bool parse_nd(rte_mbuf* m, const Ipv6View& ip, NdView& out) {
  const std::uint32_t len = ip.l4_len();
  if (ip.hop_limit != kNdHopLimit || len < kNdFixedLen) return false;
  const std::uint8_t* p = bytes_at(m, ip.l4_offset, len);  // options are read too: all in the first segment
  if (p == nullptr || p[1] != 0) return false;
  Checksum c;
  c.add_pseudo_header(ip.src, ip.dst, kProtoIcmp6, len);
  c.add(p, len);
  if (!c.verifies()) return false;
  out.type = p[0];
  out.flags = p[4];
  out.target = IpAddress::from_v6(p + 8);
  out.has_link_addr = false;
  if (out.target.is_multicast()) return false;
  const std::uint8_t wanted = out.type == kNdNeighbourSolicitation ? kNdOptSourceLinkAddr : kNdOptTargetLinkAddr;
  for (std::uint32_t at = kNdFixedLen; at < len;) {
    if (len - at < 2) return false;
    const std::uint32_t opt_len = static_cast<std::uint32_t>(p[at + 1]) * 8;
    if (opt_len == 0 || opt_len > len - at) return false;
    if (p[at] == wanted && opt_len == kLinkAddrOptLen) {
      out.has_link_addr = true;
      std::memcpy(&out.link_addr, p + at + 2, 6);
    }
    at += opt_len;
  }
  if (out.type == kNdNeighbourSolicitation) {
    if (ip.src.is_unspecified() && (!is_solicited_node(ip.dst) || out.has_link_addr)) return false;
  } else if (ip.dst.is_multicast() && (out.flags & kNaSolicited)) {
    return false;
  }
  return !out.has_link_addr || (rte_is_unicast_ether_addr(&out.link_addr) && !rte_is_zero_ether_addr(&out.link_addr));
}

rte_mbuf* build_nd(rte_mempool* pool, const FrameTemplate& tpl, const rte_ether_addr& eth_dst, const IpAddress& src,
                   const IpAddress& dst, std::uint8_t type, std::uint8_t flags, const IpAddress& target) {
  constexpr std::uint32_t icmp_len = kNdFixedLen + kLinkAddrOptLen;
  std::uint8_t* p = nullptr;
  rte_mbuf* m = new_frame(pool, tpl, eth_dst, RTE_ETHER_TYPE_IPV6, sizeof(rte_ipv6_hdr) + icmp_len, p);
  if (m == nullptr) return nullptr;
  write_ipv6(p, src, dst, kProtoIcmp6, icmp_len, kNdHopLimit);
  std::uint8_t* icmp = p + sizeof(rte_ipv6_hdr);
  std::memset(icmp, 0, icmp_len);
  icmp[0] = type;
  icmp[4] = type == kNdNeighbourAdvertisement ? flags : 0;
  std::memcpy(icmp + 8, target.data(), 16);
  icmp[24] = type == kNdNeighbourSolicitation ? kNdOptSourceLinkAddr : kNdOptTargetLinkAddr;
  icmp[25] = 1;
  std::memcpy(icmp + 26, &tpl.src, 6);
  Checksum c;
  c.add_pseudo_header(src, dst, kProtoIcmp6, icmp_len);
  c.add(icmp, icmp_len);
  const std::uint16_t v = c.value();
  std::memcpy(icmp + 2, &v, 2);
  m->l3_len = sizeof(rte_ipv6_hdr);
  return m;
}

}  // namespace sigrelay::dataplane::net
