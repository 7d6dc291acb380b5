// Frames for one outgoing UDP datagram: Ethernet (destination MAC left for
// the neighbour cache), IPv4 or IPv6, UDP, and the payload copied from the
// SIP layer's segments. Larger than the MTU: IP fragments (RFC 791 §2.3,
// RFC 8200 §4.5), each a frame of its own.
//
// We fragment ourselves rather than with rte_ipv4/ipv6_fragment_packet:
// those split an already built datagram into indirect mbufs that reference
// it (a second pool, reference counts, the original kept alive until the
// NIC is done), while here the payload is being copied from the segments
// anyway, so writing each fragment directly costs one copy and nothing else.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>
#include <span>

#include "dataplane/net/frame_builder.hpp"
#include "dataplane/net/ip_address.hpp"
#include "sip/rewriter.hpp"

namespace sigrelay::dataplane::net {

struct DatagramOptions {
  std::uint16_t mtu = 1500;
  bool ip_checksum_offload = false;
  bool udp_checksum_offload = false;  // used only for unfragmented datagrams
};

class DatagramBuilder {
 public:
  // Enough for 65535 bytes at the smallest MTU we accept (576).
  static constexpr unsigned kMaxFrames = 128;

  enum class Result : std::uint8_t { ok, too_big, no_mbuf };

  DatagramBuilder(rte_mempool* pool, const FrameTemplate& tpl, const DatagramOptions& opts)
      : pool_(pool), tpl_(tpl), opts_(opts) {}

  // `ident`: the IPv4 Identification (low 16 bits) or IPv6 fragment id. On
  // ok, `frames[0..count)` are the frames in order; otherwise nothing is
  // left allocated.
  Result build(const IpAddress& src, std::uint16_t src_port, const IpAddress& dst, std::uint16_t dst_port,
               std::span<const sip::Segment> payload, std::uint32_t ident, rte_mbuf** frames, unsigned& count);

 private:
  rte_mempool* pool_;
  FrameTemplate tpl_;
  DatagramOptions opts_;
};

}  // namespace sigrelay::dataplane::net
