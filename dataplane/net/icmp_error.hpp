// ICMP errors about a UDP datagram (RFC 792, RFC 1122 §3.2.2, RFC 4443 §3):
// which of them mean "this destination cannot be reached" for SIP (RFC 3261
// §18.4), and which datagram they quote. The parser checks the ICMP checksum
// and reads the quoted IP and UDP headers; whether the quoted datagram is
// one of ours is the caller's question (NetStack knows its addresses and
// ports).
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "dataplane/net/ip_address.hpp"
#include "dataplane/net/ipv4.hpp"
#include "dataplane/net/ipv6.hpp"

namespace sigrelay::dataplane::net {

inline constexpr std::uint8_t kIcmpDestUnreachable = 3;
inline constexpr std::uint8_t kIcmpFragmentationNeeded = 4;  // a code of kIcmpDestUnreachable
inline constexpr std::uint8_t kIcmpParameterProblem = 12;
inline constexpr std::uint8_t kIcmp6DestUnreachable = 1;
inline constexpr std::uint8_t kIcmp6ParameterProblem = 4;
inline constexpr std::uint32_t kIcmpErrorHeaderLen = 8;  // type, code, checksum, 4 type-specific bytes

// The UDP datagram an ICMP error quotes, as far as it is there.
struct QuotedUdp {
  IpAddress src, dst;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint32_t payload_offset = 0;  // frame offset of the first quoted payload byte
  std::uint32_t payload_len = 0;     // quoted payload bytes; 0 when only the UDP header was quoted
};

enum class IcmpErrorResult : std::uint8_t {
  udp,        // a transport failure quoting the start of a UDP datagram: `out` is filled
  other,      // another ICMP message, or a quote we cannot tie to a UDP datagram
  malformed,  // a transport failure shorter than its header, or with a wrong checksum
};

// Destination unreachable (all codes but "fragmentation needed", which only
// lowers the path MTU) and parameter problem.
bool is_transport_failure_v4(std::uint8_t type, std::uint8_t code);
bool is_transport_failure_v6(std::uint8_t type);

// The ICMP message starts at ip.payload_offset() (not a fragment). The quoted
// headers must be in the first segment; the payload may continue after it.
IcmpErrorResult parse_icmp_error_v4(rte_mbuf* m, const Ipv4View& ip, QuotedUdp& out);
// The ICMPv6 message starts at ip.l4_offset (not a fragment).
IcmpErrorResult parse_icmp_error_v6(rte_mbuf* m, const Ipv6View& ip, QuotedUdp& out);

}  // namespace sigrelay::dataplane::net
