#include "dataplane/net/ipv4.hpp"

#include <cstring>

#include "dataplane/net/checksum.hpp"
#include "dataplane/net/mbuf_access.hpp"

namespace sigrelay::dataplane::net {

Ipv4Result parse_ipv4(rte_mbuf* m, std::uint32_t offset, Ipv4View& out) {
  const std::uint8_t* p = bytes_at(m, offset, sizeof(rte_ipv4_hdr));
  if (p == nullptr || (p[0] >> 4) != 4) return Ipv4Result::malformed;
  const std::uint16_t header_len = static_cast<std::uint16_t>((p[0] & 0x0f) * 4);
  const std::uint16_t total_len = static_cast<std::uint16_t>(p[2] << 8 | p[3]);
  if (header_len < sizeof(rte_ipv4_hdr) || total_len < header_len || bytes_at(m, offset, header_len) == nullptr ||
      static_cast<std::uint64_t>(offset) + total_len > m->pkt_len) {
    return Ipv4Result::malformed;
  }
  const auto flags = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
  if (flags == RTE_MBUF_F_RX_IP_CKSUM_BAD) return Ipv4Result::bad_checksum;
  if (flags != RTE_MBUF_F_RX_IP_CKSUM_GOOD) {
    Checksum c;
    c.add(p, header_len);
    if (!c.verifies()) return Ipv4Result::bad_checksum;
  }
  const std::uint16_t frag = static_cast<std::uint16_t>(p[6] << 8 | p[7]);
  out.l3_offset = offset;
  out.header_len = header_len;
  out.total_len = total_len;
  out.proto = p[9];
  out.frag_offset = static_cast<std::uint16_t>((frag & RTE_IPV4_HDR_OFFSET_MASK) * RTE_IPV4_HDR_OFFSET_UNITS);
  out.more_fragments = (frag & RTE_IPV4_HDR_MF_FLAG) != 0;
  out.src = IpAddress::from_v4(p + 12);
  out.dst = IpAddress::from_v4(p + 16);
  out.hdr = reinterpret_cast<rte_ipv4_hdr*>(const_cast<std::uint8_t*>(p));
  return Ipv4Result::ok;
}

void write_ipv4(std::uint8_t* p, const IpAddress& src, const IpAddress& dst, std::uint8_t proto,
                std::uint16_t total_len, std::uint16_t id, std::uint16_t frag, bool checksum_offload) {
  p[0] = 0x45;
  p[1] = 0;
  p[2] = static_cast<std::uint8_t>(total_len >> 8);
  p[3] = static_cast<std::uint8_t>(total_len);
  p[4] = static_cast<std::uint8_t>(id >> 8);
  p[5] = static_cast<std::uint8_t>(id);
  p[6] = static_cast<std::uint8_t>(frag >> 8);
  p[7] = static_cast<std::uint8_t>(frag);
  p[8] = kDefaultTtl;
  p[9] = proto;
  p[10] = 0;
  p[11] = 0;
  std::memcpy(p + 12, src.data(), 4);
  std::memcpy(p + 16, dst.data(), 4);
  if (!checksum_offload) fix_ipv4_checksum(p, 20);
}

void fix_ipv4_checksum(std::uint8_t* header, std::uint16_t header_len) {
  header[10] = 0;
  header[11] = 0;
  Checksum c;
  c.add(header, header_len);
  const std::uint16_t v = c.value();
  std::memcpy(header + 10, &v, 2);
}

}  // namespace sigrelay::dataplane::net
