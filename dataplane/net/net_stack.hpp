// The L2-L4 layer of one sip worker in DPDK mode (docs/netstack.md).
//
// receive() sorts each frame the worker's queue delivers:
//   sip       UDP to one of our addresses on a SIP port, checksum verified,
//             reassembled if it came in fragments: the caller owns out.m;
//   to_kernel everything we do not handle ourselves (TCP, other UDP ports,
//             other ICMP, ARP replies and Neighbour Advertisements after we
//             learned from them, multicast, ...): the caller forwards out.m
//             to the tap interface. out.m is the frame as received, except
//             for a datagram reassembled from fragments, which is then one
//             chain (with a valid IPv4 header checksum);
//   consumed  answered (ARP request, Neighbour Solicitation, echo request),
//             held for reassembly, an ICMP error about a SIP datagram we
//             sent (kept for take_unreachable()), or dropped and counted:
//             nothing to do.
// Replies, neighbour requests and outgoing datagrams wait in a queue that the
// caller empties with take_tx() after each burst and after on_timer().
//
// One owner thread; nothing allocates from the heap, locks or calls the
// kernel after create(): tables are fixed-size, frames come from the pool.
#pragma once

#include <rte_mbuf.h>

#include <sys/socket.h>

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "dataplane/net/datagram_builder.hpp"
#include "dataplane/net/icmp_error.hpp"
#include "dataplane/net/ethernet.hpp"
#include "dataplane/net/ipv4.hpp"
#include "dataplane/net/ipv6.hpp"
#include "dataplane/net/neighbour_cache.hpp"
#include "dataplane/net/net_config.hpp"
#include "dataplane/net/net_counters.hpp"
#include "dataplane/net/reassembler.hpp"
#include "dataplane/net/tx_queue.hpp"
#include "dataplane/net/unreachable_ring.hpp"
#include "sip/rewriter.hpp"
#include "sip/transaction.hpp"

namespace sigrelay::dataplane::net {

enum class RxVerdict : std::uint8_t { sip, to_kernel, consumed };

struct SipDatagram {
  rte_mbuf* m = nullptr;     // sip: the datagram (maybe a chain); to_kernel: the frame to forward
  std::uint32_t offset = 0;  // sip: first payload byte, counted from the start of the chain
  std::uint32_t len = 0;     // sip: payload bytes (may continue into later segments)
  sockaddr_storage source{};
  sockaddr_storage local{};
};

class NetStack final : private NeighbourSink {
 public:
  // `pool` gives every frame we build; its data room after the headroom must
  // be at least 128 bytes (larger payloads are chained). nullptr on error.
  static std::unique_ptr<NetStack> create(const NetConfig& cfg, rte_mempool* pool, NetError& error);
  ~NetStack();
  NetStack(const NetStack&) = delete;
  NetStack& operator=(const NetStack&) = delete;

  RxVerdict receive(rte_mbuf* m, sip::Millis now, SipDatagram& out);

  // Builds, fragments if needed and queues (or holds while the next hop
  // resolves) one UDP datagram. `from` must be one of our addresses (its port
  // is the source port). False when dropped; the counters say why.
  bool send_udp(const sockaddr_storage& from, const sockaddr_storage& to, std::span<const sip::Segment> payload,
                sip::Millis now);

  unsigned take_tx(rte_mbuf** out, unsigned max) { return tx_.take(out, max); }

  // A SIP datagram we sent that came back as an ICMP destination unreachable
  // or parameter problem: copies the quoted start of its payload (at most
  // `cap` bytes) to `out`, sets `destination` to where it was sent, and
  // returns the length; 0 when none is waiting. Oldest first.
  std::size_t take_unreachable(char* out, std::size_t cap, sockaddr_storage& destination) {
    return unreachable_.take(out, cap, destination);
  }
  unsigned tx_pending() const { return tx_.size(); }

  // Neighbour aging and retries, reassembly timeouts. Call every ~100 ms.
  void on_timer(sip::Millis now);

  const NetCounters& counters() const { return counters_; }
  // Neighbour learning shared between workers (neighbour_cache.hpp).
  unsigned take_learned(LearnedNeighbour* out, unsigned max) { return neighbours_.take_learned(out, max); }
  void peer_learned(const IpAddress& ip, const rte_ether_addr& mac, sip::Millis now) {
    neighbours_.peer_learned(ip, mac, now);
  }
  const NeighbourCache& neighbours() const { return neighbours_; }
  bool is_local(const IpAddress& ip) const;

 private:
  NetStack(const NetConfig& cfg, rte_mempool* pool);

  RxVerdict rx_arp(rte_mbuf* m, const EtherView& eth, sip::Millis now);
  RxVerdict rx_ipv4(rte_mbuf* m, const EtherView& eth, sip::Millis now, SipDatagram& out);
  RxVerdict rx_ipv6(rte_mbuf* m, const EtherView& eth, sip::Millis now, SipDatagram& out);
  RxVerdict rx_icmp6(rte_mbuf* m, const EtherView& eth, const Ipv6View& ip, sip::Millis now, SipDatagram& out);
  RxVerdict rx_udp(rte_mbuf* m, const IpAddress& src, const IpAddress& dst, std::uint32_t offset,
                   std::uint32_t available, bool trust_rx_flags, SipDatagram& out);
  RxVerdict rx_icmp_error(rte_mbuf* m, IcmpErrorResult parsed, const QuotedUdp& quote, SipDatagram& out);
  RxVerdict to_kernel(rte_mbuf* m, SipDatagram& out);
  RxVerdict drop(rte_mbuf* m, std::uint64_t& reason);
  bool answer_solicitation(const EtherView& eth, const Ipv6View& ip, sip::Millis now, rte_mbuf* m);

  void solicit(const IpAddress& target, const rte_ether_addr* unicast) override;
  void transmit(rte_mbuf* frame) override;

  bool on_link(const IpAddress& ip) const;
  bool is_v4_broadcast(const IpAddress& ip) const;
  const IpAddress* source_for(const IpAddress& peer) const;

  NetConfig cfg_;
  rte_mempool* pool_;
  FrameTemplate tpl_;
  std::vector<Prefix> local_;  // configured addresses, plus the derived link-local
  std::bitset<65536> sip_ports_;
  NetCounters counters_;
  TxQueue tx_;
  NeighbourCache neighbours_;
  std::unique_ptr<Reassembler> reassembler_;
  UnreachableRing unreachable_;
  DatagramBuilder builder_;
  std::uint16_t next_ipv4_id_ = 0;
  std::uint32_t next_fragment_id_ = 0;
};

}  // namespace sigrelay::dataplane::net
