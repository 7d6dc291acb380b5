#include "dataplane/net/datagram_builder.hpp"

#include <rte_ip.h>

#include <cstring>

#include "dataplane/net/checksum.hpp"
#include "dataplane/net/ipv4.hpp"
#include "dataplane/net/ipv6.hpp"
#include "dataplane/net/mbuf_access.hpp"
#include "dataplane/net/udp.hpp"

namespace sigrelay::dataplane::net {

namespace {

constexpr std::uint32_t kIpv4HeaderLen = 20;
constexpr std::uint32_t kIpv6HeaderLen = 40;
constexpr std::uint32_t kFragmentHeaderLen = 8;

// Reads the UDP datagram (header, then the payload segments) front to back.
class DatagramCursor {
 public:
  DatagramCursor(const std::uint8_t* header, std::span<const sip::Segment> payload) : header_(header), payload_(payload) {}

  bool copy(ChainWriter& w, std::uint32_t n) {
    while (n > 0) {
      const std::uint8_t* at = nullptr;
      std::size_t avail = 0;
      if (piece_ < 0) {
        at = header_ + offset_;
        avail = kUdpHeaderLen - offset_;
      } else {
        const auto& seg = payload_[static_cast<std::size_t>(piece_)];
        at = reinterpret_cast<const std::uint8_t*>(seg.data) + offset_;
        avail = seg.len - offset_;
      }
      const std::size_t take = avail < n ? avail : n;
      if (take > 0 && !w.write(at, take)) return false;
      n -= static_cast<std::uint32_t>(take);
      offset_ += take;
      if (offset_ == (piece_ < 0 ? kUdpHeaderLen : payload_[static_cast<std::size_t>(piece_)].len)) {
        ++piece_;
        offset_ = 0;
      }
    }
    return true;
  }

 private:
  const std::uint8_t* header_;
  std::span<const sip::Segment> payload_;
  std::ptrdiff_t piece_ = -1;  // -1: the UDP header
  std::size_t offset_ = 0;
};

}  // namespace

DatagramBuilder::Result DatagramBuilder::build(const IpAddress& src, std::uint16_t src_port, const IpAddress& dst,
                                               std::uint16_t dst_port, std::span<const sip::Segment> payload,
                                               std::uint32_t ident, rte_mbuf** frames, unsigned& count) {
  count = 0;
  std::uint64_t payload_len = 0;
  for (const auto& s : payload) payload_len += s.len;
  const bool v4 = src.is_v4();
  const std::uint64_t udp_len = kUdpHeaderLen + payload_len;
  if (udp_len > (v4 ? 0xffff - kIpv4HeaderLen : 0xffff)) return Result::too_big;

  const std::uint32_t ip_header = v4 ? kIpv4HeaderLen : kIpv6HeaderLen;
  const bool fragmented = ip_header + udp_len > opts_.mtu;
  const std::uint32_t per_fragment =
      fragmented ? ((opts_.mtu - ip_header - (v4 ? 0 : kFragmentHeaderLen)) & ~7u) : static_cast<std::uint32_t>(udp_len);
  const bool udp_offload = opts_.udp_checksum_offload && !fragmented;

  std::uint8_t udp_header[kUdpHeaderLen];
  {
    Checksum c;
    c.add_pseudo_header(src, dst, kProtoUdp, static_cast<std::uint32_t>(udp_len));
    std::uint16_t sum = 0;
    if (udp_offload) {
      sum = c.partial();
    } else {
      write_udp(udp_header, src_port, dst_port, static_cast<std::uint16_t>(udp_len), 0);
      c.add(udp_header, kUdpHeaderLen);
      for (const auto& s : payload) c.add(s.data, s.len);
      sum = c.udp_value();
    }
    write_udp(udp_header, src_port, dst_port, static_cast<std::uint16_t>(udp_len), sum);
  }

  DatagramCursor cursor(udp_header, payload);
  const std::uint32_t l3_header = ip_header + (fragmented && !v4 ? kFragmentHeaderLen : 0);
  for (std::uint32_t off = 0; off < udp_len; off += per_fragment) {
    const std::uint32_t n = static_cast<std::uint32_t>(udp_len - off < per_fragment ? udp_len - off : per_fragment);
    const bool more = off + n < udp_len;
    std::uint8_t* l3 = nullptr;
    rte_mbuf* m = count < kMaxFrames ? new_frame(pool_, tpl_, rte_ether_addr{}, v4 ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6,
                                                 l3_header, l3)
                                     : nullptr;
    if (m == nullptr) {
      for (unsigned i = 0; i < count; ++i) rte_pktmbuf_free(frames[i]);
      count = 0;
      return Result::no_mbuf;
    }
    frames[count++] = m;
    m->l3_len = static_cast<std::uint16_t>(l3_header);
    if (v4) {
      const std::uint16_t frag = static_cast<std::uint16_t>((more ? RTE_IPV4_HDR_MF_FLAG : 0) | (off / 8));
      write_ipv4(l3, src, dst, kProtoUdp, static_cast<std::uint16_t>(kIpv4HeaderLen + n), static_cast<std::uint16_t>(ident),
                 fragmented ? frag : 0, opts_.ip_checksum_offload);
      if (opts_.ip_checksum_offload) m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
    } else if (fragmented) {
      write_ipv6(l3, src, dst, kProtoFragment, static_cast<std::uint16_t>(kFragmentHeaderLen + n), kDefaultHopLimit);
      write_ipv6_fragment(l3 + kIpv6HeaderLen, kProtoUdp, static_cast<std::uint16_t>(off), more, ident);
    } else {
      write_ipv6(l3, src, dst, kProtoUdp, static_cast<std::uint16_t>(n), kDefaultHopLimit);
    }
    if (udp_offload) m->ol_flags |= (v4 ? RTE_MBUF_F_TX_IPV4 : RTE_MBUF_F_TX_IPV6) | RTE_MBUF_F_TX_UDP_CKSUM;
    ChainWriter w(m, pool_);
    if (!cursor.copy(w, n) || !pad_frame(m, pool_)) {
      for (unsigned i = 0; i < count; ++i) rte_pktmbuf_free(frames[i]);
      count = 0;
      return Result::no_mbuf;
    }
  }
  return Result::ok;
}

}  // namespace sigrelay::dataplane::net
