#include "dataplane/net/icmp_echo.hpp"

#include <cstring>

#include "dataplane/net/checksum.hpp"
#include "dataplane/net/frame_builder.hpp"
#include "dataplane/net/mbuf_access.hpp"

namespace sigrelay::dataplane::net {

namespace {

constexpr std::uint32_t kEchoHeaderLen = 8;

// Ethernet last: restoring a stripped VLAN tag moves the header.
bool turn_around_ethernet(rte_mbuf* m, const EtherView& eth, const rte_ether_addr& mac, std::uint16_t vlan) {
  auto* p = rte_pktmbuf_mtod(m, std::uint8_t*);
  std::memcpy(p, &eth.src, 6);
  std::memcpy(p + 6, &mac, 6);
  std::uint16_t l2_len = eth.l2_len;
  if (!restore_vlan_tag(m, l2_len, vlan)) return false;
  // Receive results must not read as transmit requests; the buffer-kind bits
  // (external or indirect buffer) describe the memory and have to stay.
  m->ol_flags &= RTE_MBUF_F_EXTERNAL | RTE_MBUF_F_INDIRECT;
  m->l2_len = l2_len;
  return true;
}

void store_checksum(std::uint8_t* field, const Checksum& c) {
  const std::uint16_t v = c.value();
  std::memcpy(field, &v, 2);
}

}  // namespace

EchoResult echo_reply_v4(rte_mbuf* m, const EtherView& eth, const Ipv4View& ip, const rte_ether_addr& mac,
                         std::uint16_t vlan) {
  const std::uint32_t len = ip.payload_len();
  std::uint8_t* icmp = bytes_at(m, ip.payload_offset(), kEchoHeaderLen);
  if (icmp == nullptr || len < kEchoHeaderLen || icmp[1] != 0) return EchoResult::malformed;
  Checksum check;
  if (!check.add_mbuf(m, ip.payload_offset(), len) || !check.verifies()) return EchoResult::malformed;
  if (!trim_to(m, ip.l3_offset + ip.total_len)) return EchoResult::malformed;

  auto* hdr = reinterpret_cast<std::uint8_t*>(ip.hdr);
  std::memcpy(hdr + 12, ip.dst.data(), 4);
  std::memcpy(hdr + 16, ip.src.data(), 4);
  hdr[8] = kDefaultTtl;
  fix_ipv4_checksum(hdr, ip.header_len);

  icmp[0] = kIcmpEchoReply;
  icmp[2] = 0;
  icmp[3] = 0;
  Checksum sum;
  sum.add_mbuf(m, ip.payload_offset(), len);
  store_checksum(icmp + 2, sum);
  if (!turn_around_ethernet(m, eth, mac, vlan)) return EchoResult::malformed;
  m->l3_len = ip.header_len;
  return EchoResult::replied;
}

EchoResult echo_reply_v6(rte_mbuf* m, const EtherView& eth, const Ipv6View& ip, const rte_ether_addr& mac,
                         std::uint16_t vlan) {
  const std::uint32_t len = ip.l4_len();
  std::uint8_t* icmp = bytes_at(m, ip.l4_offset, kEchoHeaderLen);
  if (icmp == nullptr || len < kEchoHeaderLen || icmp[1] != 0 || ip.l4_offset != ip.l3_offset + sizeof(rte_ipv6_hdr)) {
    return EchoResult::malformed;
  }
  Checksum check;
  check.add_pseudo_header(ip.src, ip.dst, kProtoIcmp6, len);
  if (!check.add_mbuf(m, ip.l4_offset, len) || !check.verifies()) return EchoResult::malformed;
  if (!trim_to(m, ip.end())) return EchoResult::malformed;

  auto* hdr = reinterpret_cast<std::uint8_t*>(ip.hdr);
  std::memcpy(hdr + 8, ip.dst.data(), 16);
  std::memcpy(hdr + 24, ip.src.data(), 16);
  hdr[7] = kDefaultHopLimit;

  icmp[0] = kIcmp6EchoReply;
  icmp[2] = 0;
  icmp[3] = 0;
  Checksum sum;
  sum.add_pseudo_header(ip.dst, ip.src, kProtoIcmp6, len);
  sum.add_mbuf(m, ip.l4_offset, len);
  store_checksum(icmp + 2, sum);
  if (!turn_around_ethernet(m, eth, mac, vlan)) return EchoResult::malformed;
  m->l3_len = sizeof(rte_ipv6_hdr);
  return EchoResult::replied;
}

}  // namespace sigrelay::dataplane::net
