// Echo replies (RFC 792 for IPv4, RFC 4443 §4.2 for IPv6) built in place in
// the request's mbuf: identifier, sequence number and data stay as they
// arrived, addresses are swapped, the checksum is recomputed, and the frame
// goes back to the MAC it came from (no neighbour lookup needed).
#pragma once

#include <rte_ether.h>
#include <rte_mbuf.h>

#include <cstdint>

#include "dataplane/net/ethernet.hpp"
#include "dataplane/net/ipv4.hpp"
#include "dataplane/net/ipv6.hpp"

namespace sigrelay::dataplane::net {

inline constexpr std::uint8_t kProtoIcmp = 1;
inline constexpr std::uint8_t kIcmpEchoReply = 0;
inline constexpr std::uint8_t kIcmpEchoRequest = 8;
inline constexpr std::uint8_t kIcmp6EchoRequest = 128;
inline constexpr std::uint8_t kIcmp6EchoReply = 129;

enum class EchoResult : std::uint8_t { replied, malformed };

// `m` holds a request to one of our unicast addresses (type already
// checked); on `replied` it is the reply, ready for the wire.
EchoResult echo_reply_v4(rte_mbuf* m, const EtherView& eth, const Ipv4View& ip, const rte_ether_addr& mac,
                         std::uint16_t vlan);
// The request must have no extension headers (ip.l4_offset right after the
// fixed header): the reply would otherwise have to drop or mirror them.
EchoResult echo_reply_v6(rte_mbuf* m, const EtherView& eth, const Ipv6View& ip, const rte_ether_addr& mac,
                         std::uint16_t vlan);

}  // namespace sigrelay::dataplane::net
