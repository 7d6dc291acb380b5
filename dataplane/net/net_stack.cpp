#include "dataplane/net/net_stack.hpp"

#include <rte_random.h>

#include <cstring>
#include <optional>

#include "dataplane/net/arp.hpp"
#include "dataplane/net/neighbour_discovery.hpp"

namespace sigrelay::dataplane::net {

namespace {

// Ethernet + VLAN + IPv6 + Fragment header + UDP is 82 bytes; an NA frame 90.
constexpr std::uint32_t kMinDataRoom = 128;

NeighbourParams neighbour_params(const NetConfig& cfg) {
  NeighbourParams p;
  p.entries = cfg.neighbour_entries;
  p.hold_per_entry = cfg.hold_per_neighbour;
  p.retries = cfg.neighbour_retries;
  p.reachable = cfg.neighbour_reachable;
  p.retry = cfg.neighbour_retry;
  return p;
}

DatagramOptions datagram_options(const NetConfig& cfg) {
  DatagramOptions o;
  o.mtu = cfg.mtu;
  o.ip_checksum_offload = cfg.tx_ip_cksum_offload;
  o.udp_checksum_offload = cfg.tx_udp_cksum_offload;
  return o;
}

FrameTemplate frame_template(const NetConfig& cfg) {
  FrameTemplate t;
  t.src = cfg.mac;
  t.vlan = cfg.vlan;
  return t;
}

}  // namespace

std::unique_ptr<NetStack> NetStack::create(const NetConfig& cfg, rte_mempool* pool, NetError& error) {
  error = validate(cfg);
  if (error != NetError::ok) return nullptr;
  if (pool == nullptr || rte_pktmbuf_data_room_size(pool) < RTE_PKTMBUF_HEADROOM + kMinDataRoom) {
    error = NetError::pool_too_small;
    return nullptr;
  }
  std::unique_ptr<NetStack> stack(new NetStack(cfg, pool));
  stack->reassembler_ = Reassembler::create(cfg.reassembly_flows, cfg.reassembly_timeout, stack->counters_);
  if (stack->reassembler_ == nullptr) {
    error = NetError::reassembly_table;
    return nullptr;
  }
  return stack;
}

NetStack::NetStack(const NetConfig& cfg, rte_mempool* pool)
    : cfg_(cfg),
      pool_(pool),
      tpl_(frame_template(cfg)),
      local_(cfg.addresses),
      tx_(cfg.tx_queue_frames),
      neighbours_(neighbour_params(cfg), counters_, *this),
      builder_(pool, tpl_, datagram_options(cfg)),
      // Unpredictable starting identifiers (RFC 6864 §4.3, RFC 7739).
      next_ipv4_id_(static_cast<std::uint16_t>(rte_rand())),
      next_fragment_id_(static_cast<std::uint32_t>(rte_rand())) {
  bool has_link_local = false;
  for (const auto& p : cfg.addresses) has_link_local |= p.address.is_v6_link_local();
  if (cfg.derive_link_local && !has_link_local) {
    Prefix ll;
    ll.address = link_local_from_mac(cfg.mac.addr_bytes);
    ll.length = 64;
    local_.push_back(ll);
  }
  for (auto port : cfg.sip_ports) sip_ports_.set(port);
}

NetStack::~NetStack() = default;

bool NetStack::is_local(const IpAddress& ip) const {
  for (const auto& p : local_) {
    if (p.address == ip) return true;
  }
  return false;
}

bool NetStack::on_link(const IpAddress& ip) const {
  if (ip.is_v6_link_local()) return true;
  for (const auto& p : local_) {
    if (p.contains(ip)) return true;
  }
  return false;
}

bool NetStack::is_v4_broadcast(const IpAddress& ip) const {
  if (ip.is_v4_limited_broadcast()) return true;
  for (const auto& p : local_) {
    if (!p.address.is_v4() || p.length > 30 || !p.contains(ip)) continue;
    std::uint32_t host = 0;
    std::memcpy(&host, ip.data(), 4);
    host = rte_be_to_cpu_32(host);
    const std::uint32_t host_mask = 0xffffffffu >> p.length;
    if ((host & host_mask) == host_mask) return true;
  }
  return false;
}

// Our address to talk to `peer` from: one in the peer's prefix, our
// link-local for a link-local peer, else the first of the family.
const IpAddress* NetStack::source_for(const IpAddress& peer) const {
  const IpAddress* first = nullptr;
  for (const auto& p : local_) {
    if (p.address.family != peer.family) continue;
    if (peer.is_v6_link_local() ? p.address.is_v6_link_local() : p.contains(peer)) return &p.address;
    if (first == nullptr && !p.address.is_v6_link_local()) first = &p.address;
  }
  if (first == nullptr) {
    for (const auto& p : local_) {
      if (p.address.family == peer.family) return &p.address;
    }
  }
  return first;
}

void NetStack::transmit(rte_mbuf* frame) {
  if (tx_.push(frame)) {
    ++counters_.tx_frames;
  } else {
    ++counters_.tx_drop_queue_full;
  }
}

void NetStack::solicit(const IpAddress& target, const rte_ether_addr* unicast) {
  const IpAddress* src = source_for(target);
  if (src == nullptr) return;
  rte_mbuf* m = nullptr;
  if (target.is_v4()) {
    rte_ether_addr broadcast;
    std::memset(&broadcast, 0xff, sizeof(broadcast));
    m = build_arp(pool_, tpl_, unicast != nullptr ? *unicast : broadcast, kArpRequest, *src, rte_ether_addr{}, target);
  } else {
    // RFC 4861 §7.2.2: multicast to the solicited-node group, unicast to probe.
    const IpAddress dst = unicast != nullptr ? target : solicited_node(target);
    const rte_ether_addr eth_dst = unicast != nullptr ? *unicast : multicast_mac_v6(dst.data());
    m = build_nd(pool_, tpl_, eth_dst, *src, dst, kNdNeighbourSolicitation, 0, target);
  }
  if (m == nullptr) {
    ++counters_.tx_drop_no_mbuf;
    return;
  }
  ++counters_.neighbour_requests_sent;
  transmit(m);
}

bool NetStack::send_udp(const sockaddr_storage& from, const sockaddr_storage& to, std::span<const sip::Segment> payload,
                        sip::Millis now) {
  IpAddress src, dst;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  if (!from_sockaddr(from, src, src_port) || !from_sockaddr(to, dst, dst_port) || src.family != dst.family ||
      !is_local(src)) {
    ++counters_.tx_drop_bad_source;
    return false;
  }
  const std::optional<IpAddress>& gateway = dst.is_v4() ? cfg_.gateway4 : cfg_.gateway6;
  if (dst.is_multicast() || dst.is_unspecified() || (!on_link(dst) && !gateway)) {
    ++counters_.tx_drop_no_route;
    return false;
  }
  const IpAddress next_hop = on_link(dst) ? dst : *gateway;
  const std::uint32_t ident = dst.is_v4() ? next_ipv4_id_++ : next_fragment_id_++;
  rte_mbuf* frames[DatagramBuilder::kMaxFrames];
  unsigned count = 0;
  switch (builder_.build(src, src_port, dst, dst_port, payload, ident, frames, count)) {
    case DatagramBuilder::Result::ok:
      break;
    case DatagramBuilder::Result::too_big:
      ++counters_.tx_drop_too_big;
      return false;
    case DatagramBuilder::Result::no_mbuf:
      ++counters_.tx_drop_no_mbuf;
      return false;
  }
  ++counters_.tx_datagrams;
  if (count > 1) counters_.tx_fragments += count;
  bool accepted = true;
  for (unsigned i = 0; i < count; ++i) {
    if (neighbours_.send(next_hop, frames[i], now) == NeighbourCache::Outcome::dropped) accepted = false;
  }
  return accepted;
}

void NetStack::on_timer(sip::Millis now) {
  neighbours_.on_timer(now);
  reassembler_->expire(now);
}

}  // namespace sigrelay::dataplane::net
