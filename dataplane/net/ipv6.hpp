// IPv6 header (RFC 8200) and its extension-header chain on receive; header
// and fragment header on transmit.
//
// The walk skips Hop-by-Hop (only first, §4.1), Destination Options and
// Routing headers by their length fields, stops at a Fragment header (the
// rest is fragmentable data) or at the first upper-layer protocol, and gives
// up after kMaxExtHeaders so a crafted chain costs bounded work.
#pragma once

#include <rte_ip.h>
#include <rte_mbuf.h>

#include <cstdint>

#include "dataplane/net/ip_address.hpp"

namespace sigrelay::dataplane::net {

inline constexpr unsigned kMaxExtHeaders = 8;
inline constexpr std::uint8_t kProtoHopByHop = 0;
inline constexpr std::uint8_t kProtoRouting = 43;
inline constexpr std::uint8_t kProtoFragment = 44;
inline constexpr std::uint8_t kProtoIcmp6 = 58;
inline constexpr std::uint8_t kProtoNoNext = 59;
inline constexpr std::uint8_t kProtoDestOpts = 60;
inline constexpr std::uint8_t kDefaultHopLimit = 64;

struct Ipv6View {
  std::uint32_t l3_offset = 0;
  std::uint16_t payload_len = 0;  // as in the header: extension headers included
  std::uint8_t hop_limit = 0;
  IpAddress src, dst;
  std::uint8_t l4_proto = 0;      // after the walk; for a fragment, the Fragment header's next header
  std::uint32_t l4_offset = 0;    // first byte after the last header walked
  std::uint32_t fragment_header = 0;  // frame offset of the Fragment header, 0 if none
  std::uint16_t frag_offset = 0;      // bytes, from the Fragment header
  bool more_fragments = false;
  bool routing_left = false;  // a Routing header with Segments Left > 0: not for us to finish
  rte_ipv6_hdr* hdr = nullptr;

  bool is_fragment() const { return fragment_header != 0; }
  std::uint32_t end() const { return l3_offset + sizeof(rte_ipv6_hdr) + payload_len; }
  std::uint32_t l4_len() const { return end() - l4_offset; }
};

enum class Ipv6Result : std::uint8_t { ok, malformed, bad_ext_headers };

// Every header walked must lie in the first segment and inside the payload
// length; the payload length must fit in the frame (jumbograms are refused).
Ipv6Result parse_ipv6(rte_mbuf* m, std::uint32_t offset, Ipv6View& out);

void write_ipv6(std::uint8_t* p, const IpAddress& src, const IpAddress& dst, std::uint8_t next_header,
                std::uint16_t payload_len, std::uint8_t hop_limit);

// RFC 8200 §4.5: `offset` in bytes (a multiple of 8).
void write_ipv6_fragment(std::uint8_t* p, std::uint8_t next_header, std::uint16_t offset, bool more,
                         std::uint32_t id);

}  // namespace sigrelay::dataplane::net
