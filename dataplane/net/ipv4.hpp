// IPv4 header (RFC 791): validation on receive, writing on transmit.
#pragma once

#include <rte_ip.h>
#include <rte_mbuf.h>

#include <cstdint>

#include "dataplane/net/ip_address.hpp"

namespace sigrelay::dataplane::net {

struct Ipv4View {
  std::uint32_t l3_offset = 0;
  std::uint16_t header_len = 0;   // IHL * 4, options included
  std::uint16_t total_len = 0;    // header + payload; bytes past it are Ethernet padding
  std::uint8_t proto = 0;
  std::uint16_t frag_offset = 0;  // in bytes
  bool more_fragments = false;
  IpAddress src, dst;
  rte_ipv4_hdr* hdr = nullptr;

  bool is_fragment() const { return more_fragments || frag_offset != 0; }
  std::uint32_t payload_offset() const { return l3_offset + header_len; }
  std::uint32_t payload_len() const { return static_cast<std::uint32_t>(total_len - header_len); }
};

enum class Ipv4Result : std::uint8_t { ok, malformed, bad_checksum };

// Checks version, IHL, total length against the frame, and the header
// checksum unless the PMD marked it good (RTE_MBUF_F_RX_IP_CKSUM_GOOD). The
// whole header must be in the first segment.
Ipv4Result parse_ipv4(rte_mbuf* m, std::uint32_t offset, Ipv4View& out);

// Writes a 20-byte header without options at `p`. `frag` is the host-order
// flags/offset field (RTE_IPV4_HDR_MF_FLAG | offset / 8). The checksum is
// computed unless `checksum_offload`, which leaves 0 for the NIC.
void write_ipv4(std::uint8_t* p, const IpAddress& src, const IpAddress& dst, std::uint8_t proto,
                std::uint16_t total_len, std::uint16_t id, std::uint16_t frag, bool checksum_offload);

// Recomputes the header checksum of a header of `header_len` bytes.
void fix_ipv4_checksum(std::uint8_t* header, std::uint16_t header_len);

inline constexpr std::uint8_t kDefaultTtl = 64;  // RFC 1700 / IANA recommended default

}  // namespace sigrelay::dataplane::net
