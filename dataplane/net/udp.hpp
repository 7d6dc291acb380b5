// UDP header (RFC 768) on receive and transmit; checksum over the
// pseudo-header of either IP version (RFC 8200 §8.1 for IPv6).
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "dataplane/net/ip_address.hpp"

namespace sigrelay::dataplane::net {

inline constexpr std::uint8_t kProtoUdp = 17;
inline constexpr std::uint32_t kUdpHeaderLen = 8;

struct UdpView {
  std::uint32_t offset = 0;  // of the UDP header in the frame
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint16_t length = 0;  // header + payload, from the header
  std::uint16_t checksum = 0;
  std::uint32_t payload_offset() const { return offset + kUdpHeaderLen; }
  std::uint32_t payload_len() const { return length - kUdpHeaderLen; }
};

// `available` is what the IP layer says follows the UDP header's start. The
// length field must be at least 8 and at most that (bytes beyond it are
// ignored, RFC 768). The header itself must be in the first segment.
bool parse_udp(rte_mbuf* m, std::uint32_t offset, std::uint32_t available, UdpView& out);

enum class UdpChecksum : std::uint8_t { good, bad };

// Verifies in software unless `trust_rx_flags` and the PMD reported the
// result (RTE_MBUF_F_RX_L4_CKSUM_GOOD/BAD). A zero checksum means "none" over
// IPv4 and is accepted; over IPv6 it is invalid (RFC 8200 §8.1).
UdpChecksum check_udp(const rte_mbuf* m, const UdpView& udp, const IpAddress& src, const IpAddress& dst,
                      bool trust_rx_flags);

void write_udp(std::uint8_t* p, std::uint16_t src_port, std::uint16_t dst_port, std::uint16_t length,
               std::uint16_t checksum);

}  // namespace sigrelay::dataplane::net
