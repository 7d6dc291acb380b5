// Counters of one NetStack: declared once in the table below (name and
// help), written only by the owning sip worker with plain increments, read
// by the control thread as a snapshot (tearing of a single 64-bit aligned
// field does not happen on x86-64). Every drop has its own reason.
#pragma once

#include <cstdint>
#include <string_view>

namespace sigrelay::dataplane::net {

// X(name, help)
#define SIGRELAY_NET_COUNTERS(X)                                                                   \
  X(rx_frames, "frames given to receive()")                                                        \
  X(rx_sip, "UDP datagrams delivered as SIP")                                                      \
  X(rx_to_kernel, "frames handed to the kernel exception path")                                    \
  X(rx_drop_truncated_l2, "dropped: shorter than the Ethernet (and VLAN) header")                  \
  X(rx_drop_wrong_vlan, "dropped: VLAN tag missing, unexpected or of another VLAN")                 \
  X(rx_drop_not_our_mac, "dropped: unicast to another MAC")                                        \
  X(arp_drop_malformed, "dropped ARP: truncated, not Ethernet/IPv4, bad opcode or sender")         \
  X(arp_requests_answered, "ARP requests for our addresses answered")                              \
  X(arp_address_conflicts, "ARP packets claiming one of our addresses from another MAC")           \
  X(ipv4_drop_malformed, "dropped IPv4: truncated, bad version, IHL or total length")              \
  X(ipv4_drop_bad_checksum, "dropped IPv4: header checksum wrong")                                 \
  X(ipv4_drop_not_ours, "dropped IPv4: unicast to an address that is not ours")                    \
  X(ipv4_drop_bad_source, "dropped IPv4: multicast, broadcast or unspecified source")              \
  X(ipv6_drop_malformed, "dropped IPv6: truncated, bad version or payload length")                 \
  X(ipv6_drop_not_ours, "dropped IPv6: unicast to an address that is not ours")                    \
  X(ipv6_drop_bad_source, "dropped IPv6: multicast source")                                        \
  X(ipv6_drop_ext_headers, "dropped IPv6: extension header chain truncated, too long or unsupported") \
  X(udp_drop_malformed, "dropped UDP: truncated or length field inconsistent")                     \
  X(udp_drop_bad_checksum, "dropped UDP: checksum wrong (or zero over IPv6)")                      \
  X(icmp_drop_malformed, "dropped ICMP/ICMPv6 echo: truncated or checksum wrong")                  \
  X(icmp_echo_replied, "ICMP echo requests answered")                                              \
  X(icmp6_echo_replied, "ICMPv6 echo requests answered")                                           \
  X(icmp_error_drop_malformed, "dropped ICMP/ICMPv6 unreachable or parameter problem: truncated or checksum wrong") \
  X(icmp_unreachable, "ICMP/ICMPv6 unreachable or parameter problem about a SIP datagram we sent, kept or not") \
  X(icmp_unreachable_unquoted, "errors about our SIP datagrams dropped: only the UDP header quoted, no SIP text") \
  X(icmp_unreachable_dropped, "errors about our SIP datagrams dropped: take_unreachable() ring full") \
  X(nd_drop_malformed, "dropped NS/NA failing RFC 4861 validation")                                \
  X(nd_solicitations_answered, "Neighbour Solicitations for our addresses answered")               \
  X(frag_received, "IP fragments taken into reassembly")                                           \
  X(frag_drop_malformed, "dropped fragments: bad offset/length, or headers before the IPv6 fragment header") \
  X(frag_reassembled, "datagrams reassembled from fragments")                                      \
  X(frag_mbufs_dropped, "fragment mbufs freed unassembled: timeout, overlap, too many, table full") \
  X(neighbour_learned, "neighbour entries that got a link-layer address")                          \
  X(neighbour_requests_sent, "ARP requests and Neighbour Solicitations sent")                      \
  X(neighbour_frames_held, "frames held while their next hop resolved")                            \
  X(neighbour_hold_overflow, "held frames dropped because the per-neighbour queue was full")       \
  X(neighbour_resolution_failed, "held frames dropped because resolution got no answer")           \
  X(neighbour_table_full, "frames dropped because no neighbour entry was free")                    \
  X(neighbour_aged_out, "idle neighbour entries removed after the reachable time")                 \
  X(neighbour_probe_failed, "neighbour entries removed after unanswered reachability probes")      \
  X(neighbour_peer_updates, "neighbour addresses taken from another worker's learning")            \
  X(neighbour_announcements_dropped, "learned neighbours not passed to the other workers (burst)")  \
  X(tx_datagrams, "UDP datagrams accepted by send_udp()")                                          \
  X(tx_fragments, "IP fragments built for datagrams larger than the MTU")                          \
  X(tx_frames, "frames queued for the wire")                                                       \
  X(tx_drop_bad_source, "send_udp() from an address that is not ours, or family mismatch")         \
  X(tx_drop_no_route, "send_udp() off-link without a gateway of that family")                      \
  X(tx_drop_too_big, "send_udp() payload larger than one IP datagram can carry")                   \
  X(tx_drop_no_mbuf, "frames not built: mempool empty")                                            \
  X(tx_drop_queue_full, "frames dropped: transmit queue full")

struct NetCounters {
#define SIGRELAY_NET_COUNTER_FIELD(name, help) std::uint64_t name = 0;
  SIGRELAY_NET_COUNTERS(SIGRELAY_NET_COUNTER_FIELD)
#undef SIGRELAY_NET_COUNTER_FIELD
};

struct NetCounterInfo {
  std::string_view name;
  std::string_view help;
  std::uint64_t NetCounters::*field;
};

inline constexpr NetCounterInfo kNetCounterTable[] = {
#define SIGRELAY_NET_COUNTER_INFO(name, help) {#name, help, &NetCounters::name},
    SIGRELAY_NET_COUNTERS(SIGRELAY_NET_COUNTER_INFO)
#undef SIGRELAY_NET_COUNTER_INFO
};

}  // namespace sigrelay::dataplane::net
