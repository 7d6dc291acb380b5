// NetStack's receive side: one function per protocol, each ending in one of
// the three verdicts. Every early return that frees the frame counts why.
#include <cstring>

#include "dataplane/net/arp.hpp"
#include "dataplane/net/icmp_echo.hpp"
#include "dataplane/net/icmp_error.hpp"
#include "dataplane/net/mbuf_access.hpp"
#include "dataplane/net/neighbour_discovery.hpp"
#include "dataplane/net/net_stack.hpp"
#include "dataplane/net/udp.hpp"

namespace sigrelay::dataplane::net {

RxVerdict NetStack::drop(rte_mbuf* m, std::uint64_t& reason) {
  rte_pktmbuf_free(m);
  ++reason;
  return RxVerdict::consumed;
}

RxVerdict NetStack::to_kernel(rte_mbuf* m, SipDatagram& out) {
  out.m = m;
  ++counters_.rx_to_kernel;
  return RxVerdict::to_kernel;
}

RxVerdict NetStack::receive(rte_mbuf* m, sip::Millis now, SipDatagram& out) {
  ++counters_.rx_frames;
  out.m = m;
  EtherView eth;
  switch (parse_ethernet(m, cfg_.mac, cfg_.vlan, eth)) {
    case EtherResult::ok:
      break;
    case EtherResult::truncated:
      return drop(m, counters_.rx_drop_truncated_l2);
    case EtherResult::wrong_vlan:
      return drop(m, counters_.rx_drop_wrong_vlan);
    case EtherResult::not_for_us:
      return drop(m, counters_.rx_drop_not_our_mac);
  }
  switch (eth.ether_type) {
    case RTE_ETHER_TYPE_ARP:
      return rx_arp(m, eth, now) == RxVerdict::to_kernel ? to_kernel(m, out) : RxVerdict::consumed;
    case RTE_ETHER_TYPE_IPV4:
      return rx_ipv4(m, eth, now, out);
    case RTE_ETHER_TYPE_IPV6:
      return rx_ipv6(m, eth, now, out);
    default:
      return to_kernel(m, out);
  }
}

RxVerdict NetStack::rx_arp(rte_mbuf* m, const EtherView& eth, sip::Millis now) {
  ArpView arp;
  if (!parse_arp(m, eth.l2_len, arp)) return drop(m, counters_.arp_drop_malformed);
  if (is_local(arp.spa)) {
    // Someone else claims our address (or our own frame came back): never
    // learn it; the kernel sees it and can report the conflict.
    if (!rte_is_same_ether_addr(&arp.sha, &cfg_.mac)) ++counters_.arp_address_conflicts;
    return RxVerdict::to_kernel;
  }
  const bool for_us = is_local(arp.tpa);
  // RFC 826: merge into an existing entry; add only when the packet is for us.
  if (!arp.spa.is_unspecified()) neighbours_.arp_learn(arp.spa, arp.sha, for_us, now);
  if (arp.op != kArpRequest || !for_us) return RxVerdict::to_kernel;
  // An RFC 5227 probe (sender 0.0.0.0) is answered the same way: to its MAC,
  // which tells the prober the address is taken.
  rte_mbuf* reply = build_arp(pool_, tpl_, arp.sha, kArpReply, arp.tpa, arp.sha, arp.spa);
  rte_pktmbuf_free(m);
  if (reply == nullptr) {
    ++counters_.tx_drop_no_mbuf;
    return RxVerdict::consumed;
  }
  ++counters_.arp_requests_answered;
  transmit(reply);
  return RxVerdict::consumed;
}

RxVerdict NetStack::rx_ipv4(rte_mbuf* m, const EtherView& eth, sip::Millis now, SipDatagram& out) {
  Ipv4View ip;
  switch (parse_ipv4(m, eth.l2_len, ip)) {
    case Ipv4Result::ok:
      break;
    case Ipv4Result::malformed:
      return drop(m, counters_.ipv4_drop_malformed);
    case Ipv4Result::bad_checksum:
      return drop(m, counters_.ipv4_drop_bad_checksum);
  }
  if (!is_local(ip.dst)) {
    if (ip.dst.is_multicast() || is_v4_broadcast(ip.dst)) return to_kernel(m, out);
    return drop(m, counters_.ipv4_drop_not_ours);
  }
  if (ip.src.is_multicast() || ip.src.is_unspecified() || is_v4_broadcast(ip.src)) {
    return drop(m, counters_.ipv4_drop_bad_source);
  }
  bool reassembled = false;
  if (ip.is_fragment()) {
    const std::uint32_t len = ip.payload_len();
    if (len == 0 || (ip.more_fragments && len % 8 != 0) || ip.frag_offset + len + ip.header_len > 0xffff ||
        !trim_to(m, ip.l3_offset + ip.total_len)) {
      return drop(m, counters_.frag_drop_malformed);
    }
    m->l2_len = eth.l2_len;
    m->l3_len = ip.header_len;
    ++counters_.frag_received;
    rte_mbuf* whole = reassembler_->add_v4(m, ip.hdr, now);
    if (whole == nullptr) return RxVerdict::consumed;
    ++counters_.frag_reassembled;
    m = whole;
    fix_ipv4_checksum(bytes_at(m, m->l2_len, m->l3_len), m->l3_len);
    if (parse_ipv4(m, m->l2_len, ip) != Ipv4Result::ok) return drop(m, counters_.frag_drop_malformed);
    reassembled = true;
  }
  if (ip.proto == kProtoUdp) {
    return rx_udp(m, ip.src, ip.dst, ip.payload_offset(), ip.payload_len(), !reassembled, out);
  }
  if (ip.proto == kProtoIcmp && !reassembled) {
    const std::uint8_t* type = bytes_at(m, ip.payload_offset(), 1);
    if (type != nullptr && *type == kIcmpEchoRequest && ip.payload_len() > 0 && ip.header_len == sizeof(rte_ipv4_hdr)) {
      if (echo_reply_v4(m, eth, ip, cfg_.mac, cfg_.vlan) != EchoResult::replied) {
        return drop(m, counters_.icmp_drop_malformed);
      }
      ++counters_.icmp_echo_replied;
      transmit(m);
      return RxVerdict::consumed;
    }
    if (type != nullptr && (*type == kIcmpDestUnreachable || *type == kIcmpParameterProblem)) {
      QuotedUdp quote;
      return rx_icmp_error(m, parse_icmp_error_v4(m, ip, quote), quote, out);
    }
  }
  return to_kernel(m, out);
}

RxVerdict NetStack::rx_ipv6(rte_mbuf* m, const EtherView& eth, sip::Millis now, SipDatagram& out) {
  Ipv6View ip;
  switch (parse_ipv6(m, eth.l2_len, ip)) {
    case Ipv6Result::ok:
      break;
    case Ipv6Result::malformed:
      return drop(m, counters_.ipv6_drop_malformed);
    case Ipv6Result::bad_ext_headers:
      return drop(m, counters_.ipv6_drop_ext_headers);
  }
  if (ip.src.is_multicast()) return drop(m, counters_.ipv6_drop_bad_source);
  const bool local = is_local(ip.dst);
  if (!local && !ip.dst.is_multicast()) return drop(m, counters_.ipv6_drop_not_ours);
  if (ip.routing_left) return to_kernel(m, out);
  if (!local) {
    // Multicast: Neighbour Solicitations to our solicited-node groups are
    // ours; the rest (router advertisements, MLD, ...) is the kernel's.
    if (ip.l4_proto == kProtoIcmp6 && !ip.is_fragment()) return rx_icmp6(m, eth, ip, now, out);
    return to_kernel(m, out);
  }
  bool reassembled = false;
  if (ip.is_fragment()) {
    const std::uint32_t len = ip.end() - ip.l4_offset;
    // rte_ip_frag handles only a Fragment header right after the fixed header.
    if (ip.fragment_header != ip.l3_offset + sizeof(rte_ipv6_hdr) || len == 0 || (ip.more_fragments && len % 8 != 0) ||
        ip.frag_offset + len > 0xffff || !trim_to(m, ip.end())) {
      return drop(m, counters_.frag_drop_malformed);
    }
    m->l2_len = eth.l2_len;
    m->l3_len = sizeof(rte_ipv6_hdr) + sizeof(rte_ipv6_fragment_ext);
    ++counters_.frag_received;
    rte_mbuf* whole = reassembler_->add_v6(m, ip.hdr, reinterpret_cast<rte_ipv6_fragment_ext*>(bytes_at(m, ip.fragment_header, 8)), now);
    if (whole == nullptr) return RxVerdict::consumed;
    ++counters_.frag_reassembled;
    m = whole;
    if (parse_ipv6(m, m->l2_len, ip) != Ipv6Result::ok || ip.is_fragment()) {
      return drop(m, counters_.frag_drop_malformed);
    }
    reassembled = true;
  }
  if (ip.l4_proto == kProtoUdp) return rx_udp(m, ip.src, ip.dst, ip.l4_offset, ip.l4_len(), !reassembled, out);
  if (ip.l4_proto == kProtoIcmp6 && !reassembled) return rx_icmp6(m, eth, ip, now, out);
  return to_kernel(m, out);
}

RxVerdict NetStack::rx_icmp6(rte_mbuf* m, const EtherView& eth, const Ipv6View& ip, sip::Millis now, SipDatagram& out) {
  const std::uint8_t* type = bytes_at(m, ip.l4_offset, 1);
  if (type == nullptr || ip.l4_len() == 0) return drop(m, counters_.icmp_drop_malformed);
  switch (*type) {
    case kIcmp6EchoRequest:
      if (!is_local(ip.dst) || ip.l4_offset != ip.l3_offset + sizeof(rte_ipv6_hdr)) return to_kernel(m, out);
      if (echo_reply_v6(m, eth, ip, cfg_.mac, cfg_.vlan) != EchoResult::replied) {
        return drop(m, counters_.icmp_drop_malformed);
      }
      ++counters_.icmp6_echo_replied;
      transmit(m);
      return RxVerdict::consumed;
    case kNdNeighbourSolicitation: {
      NdView nd;
      if (!parse_nd(m, ip, nd)) return drop(m, counters_.nd_drop_malformed);
      if (!is_local(nd.target)) return to_kernel(m, out);
      if (!ip.src.is_unspecified() && nd.has_link_addr) neighbours_.nd_solicitation(ip.src, nd.link_addr, now);
      // RFC 4861 §7.2.4: to the asker, solicited; to all nodes for a DAD probe.
      IpAddress dst = ip.src;
      std::uint8_t flags = kNaSolicited | kNaOverride;
      rte_ether_addr eth_dst = nd.has_link_addr ? nd.link_addr : eth.src;
      if (ip.src.is_unspecified()) {
        static constexpr std::uint8_t kAllNodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
        dst = IpAddress::from_v6(kAllNodes);
        flags = kNaOverride;
        eth_dst = multicast_mac_v6(kAllNodes);
      }
      rte_mbuf* reply = build_nd(pool_, tpl_, eth_dst, nd.target, dst, kNdNeighbourAdvertisement, flags, nd.target);
      rte_pktmbuf_free(m);
      if (reply == nullptr) {
        ++counters_.tx_drop_no_mbuf;
        return RxVerdict::consumed;
      }
      ++counters_.nd_solicitations_answered;
      transmit(reply);
      return RxVerdict::consumed;
    }
    case kNdNeighbourAdvertisement: {
      NdView nd;
      if (!parse_nd(m, ip, nd)) return drop(m, counters_.nd_drop_malformed);
      if (!is_local(nd.target)) neighbours_.nd_advertisement(nd.target, nd.has_link_addr ? &nd.link_addr : nullptr, nd.flags, now);
      return to_kernel(m, out);
    }
    case kIcmp6DestUnreachable:
    case kIcmp6ParameterProblem: {
      if (!is_local(ip.dst)) return to_kernel(m, out);
      QuotedUdp quote;
      return rx_icmp_error(m, parse_icmp_error_v6(m, ip, quote), quote, out);
    }
    default:
      return to_kernel(m, out);
  }
}

// An error about a SIP datagram we sent (our address, one of our SIP ports
// as the source) is the SIP layer's; anything else it quotes (the kernel's
// own traffic through the tap interface) stays the kernel's business.
RxVerdict NetStack::rx_icmp_error(rte_mbuf* m, IcmpErrorResult parsed, const QuotedUdp& quote, SipDatagram& out) {
  switch (parsed) {
    case IcmpErrorResult::udp:
      break;
    case IcmpErrorResult::other:
      return to_kernel(m, out);
    case IcmpErrorResult::malformed:
      return drop(m, counters_.icmp_error_drop_malformed);
  }
  if (!is_local(quote.src) || !sip_ports_.test(quote.src_port)) return to_kernel(m, out);
  ++counters_.icmp_unreachable;
  // Without SIP text there is no Via branch to find the transaction by.
  if (quote.payload_len == 0) return drop(m, counters_.icmp_unreachable_unquoted);
  sockaddr_storage destination;
  to_sockaddr(quote.dst, quote.dst_port, destination);
  if (!unreachable_.push(m, quote.payload_offset, quote.payload_len, destination)) {
    return drop(m, counters_.icmp_unreachable_dropped);
  }
  rte_pktmbuf_free(m);
  return RxVerdict::consumed;
}

RxVerdict NetStack::rx_udp(rte_mbuf* m, const IpAddress& src, const IpAddress& dst, std::uint32_t offset,
                           std::uint32_t available, bool trust_rx_flags, SipDatagram& out) {
  UdpView udp;
  if (!parse_udp(m, offset, available, udp)) return drop(m, counters_.udp_drop_malformed);
  if (!sip_ports_.test(udp.dst_port)) return to_kernel(m, out);
  if (udp.src_port == 0) return drop(m, counters_.udp_drop_malformed);  // nowhere to answer
  if (check_udp(m, udp, src, dst, trust_rx_flags) != UdpChecksum::good) return drop(m, counters_.udp_drop_bad_checksum);
  out.m = m;
  out.offset = udp.payload_offset();
  out.len = udp.payload_len();
  to_sockaddr(src, udp.src_port, out.source);
  to_sockaddr(dst, udp.dst_port, out.local);
  ++counters_.rx_sip;
  return RxVerdict::sip;
}

}  // namespace sigrelay::dataplane::net
