#include "dataplane/net/ipv6.hpp"

#include <cstring>

#include "dataplane/net/mbuf_access.hpp"

namespace sigrelay::dataplane::net {

Ipv6Result parse_ipv6(rte_mbuf* m, std::uint32_t offset, Ipv6View& out) {
  const std::uint8_t* p = bytes_at(m, offset, sizeof(rte_ipv6_hdr));
  if (p == nullptr || (p[0] >> 4) != 6) return Ipv6Result::malformed;
  const std::uint16_t payload_len = static_cast<std::uint16_t>(p[4] << 8 | p[5]);
  if (payload_len == 0 || static_cast<std::uint64_t>(offset) + sizeof(rte_ipv6_hdr) + payload_len > m->pkt_len) {
    return Ipv6Result::malformed;
  }
  out.l3_offset = offset;
  out.payload_len = payload_len;
  out.hop_limit = p[7];
  out.src = IpAddress::from_v6(p + 8);
  out.dst = IpAddress::from_v6(p + 24);
  out.hdr = reinterpret_cast<rte_ipv6_hdr*>(const_cast<std::uint8_t*>(p));
  out.fragment_header = 0;
  out.frag_offset = 0;
  out.more_fragments = false;
  out.routing_left = false;

  const std::uint32_t end = out.end();
  std::uint8_t next = p[6];
  std::uint32_t at = offset + sizeof(rte_ipv6_hdr);
  for (unsigned walked = 0;; ++walked) {
    if (next != kProtoHopByHop && next != kProtoRouting && next != kProtoDestOpts && next != kProtoFragment) break;
    if (walked == kMaxExtHeaders || (next == kProtoHopByHop && walked != 0)) return Ipv6Result::bad_ext_headers;
    const std::uint32_t fixed = next == kProtoFragment ? 8 : 2;
    const std::uint8_t* ext = bytes_at(m, at, next == kProtoRouting ? 4 : fixed);
    if (ext == nullptr || at + fixed > end) return Ipv6Result::bad_ext_headers;
    if (next == kProtoFragment) {
      const std::uint16_t field = static_cast<std::uint16_t>(ext[2] << 8 | ext[3]);
      out.fragment_header = at;
      out.frag_offset = static_cast<std::uint16_t>(field & 0xfff8);
      out.more_fragments = (field & 1) != 0;
      next = ext[0];
      at += 8;
      break;  // what follows is fragmentable data, not headers we can walk yet
    }
    const std::uint32_t len = (static_cast<std::uint32_t>(ext[1]) + 1) * 8;
    if (at + len > end) return Ipv6Result::bad_ext_headers;
    if (next == kProtoRouting && ext[3] != 0) out.routing_left = true;
    next = ext[0];
    at += len;
  }
  out.l4_proto = next;
  out.l4_offset = at;
  return Ipv6Result::ok;
}

void write_ipv6(std::uint8_t* p, const IpAddress& src, const IpAddress& dst, std::uint8_t next_header,
                std::uint16_t payload_len, std::uint8_t hop_limit) {
  p[0] = 0x60;
  p[1] = 0;
  p[2] = 0;
  p[3] = 0;
  p[4] = static_cast<std::uint8_t>(payload_len >> 8);
  p[5] = static_cast<std::uint8_t>(payload_len);
  p[6] = next_header;
  p[7] = hop_limit;
  std::memcpy(p + 8, src.data(), 16);
  std::memcpy(p + 24, dst.data(), 16);
}

void write_ipv6_fragment(std::uint8_t* p, std::uint8_t next_header, std::uint16_t offset, bool more,
                         std::uint32_t id) {
  p[0] = next_header;
  p[1] = 0;
  const std::uint16_t field = static_cast<std::uint16_t>((offset & 0xfff8) | (more ? 1 : 0));
  p[2] = static_cast<std::uint8_t>(field >> 8);
  p[3] = static_cast<std::uint8_t>(field);
  p[4] = static_cast<std::uint8_t>(id >> 24);
  p[5] = static_cast<std::uint8_t>(id >> 16);
  p[6] = static_cast<std::uint8_t>(id >> 8);
  p[7] = static_cast<std::uint8_t>(id);
}

}  // namespace sigrelay::dataplane::net
