#include "dataplane/net/icmp_error.hpp"

#include "dataplane/net/checksum.hpp"
#include "dataplane/net/mbuf_access.hpp"
#include "dataplane/net/udp.hpp"

namespace sigrelay::dataplane::net {

namespace {

std::uint16_t read16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }

// Where the quoted datagram ends. RFC 4884 lets a sender append extension
// objects (MPLS labels, interface data) after the quote; it then gives the
// quote's length in the header (`words` units of `unit` bytes), and those
// objects must not be taken for SIP text. 0 means "no extensions".
std::uint32_t quote_end(std::uint32_t quote, std::uint32_t end, std::uint8_t words, std::uint32_t unit) {
  if (words == 0) return end;
  const std::uint32_t stated = quote + words * unit;
  return stated < end ? stated : end;
}

// The UDP header at `udp` and the payload after it, up to the UDP length or
// the end of the quote, whichever comes first. Only the UDP header is
// required: RFC 792 asks routers to quote no more than 8 bytes past the IP
// header.
IcmpErrorResult quoted_udp(rte_mbuf* m, std::uint32_t udp, std::uint32_t end, QuotedUdp& out) {
  const std::uint8_t* h = bytes_at(m, udp, kUdpHeaderLen);
  if (h == nullptr || udp + kUdpHeaderLen > end) return IcmpErrorResult::other;
  const std::uint16_t length = read16(h + 4);
  if (length < kUdpHeaderLen) return IcmpErrorResult::other;  // no datagram we sent
  out.src_port = read16(h);
  out.dst_port = read16(h + 2);
  out.payload_offset = udp + kUdpHeaderLen;
  const std::uint32_t present = end - out.payload_offset;
  const std::uint32_t sent = length - kUdpHeaderLen;
  out.payload_len = sent < present ? sent : present;
  return IcmpErrorResult::udp;
}

}  // namespace

bool is_transport_failure_v4(std::uint8_t type, std::uint8_t code) {
  if (type == kIcmpDestUnreachable) return code != kIcmpFragmentationNeeded;
  return type == kIcmpParameterProblem;
}

bool is_transport_failure_v6(std::uint8_t type) {
  return type == kIcmp6DestUnreachable || type == kIcmp6ParameterProblem;
}

IcmpErrorResult parse_icmp_error_v4(rte_mbuf* m, const Ipv4View& ip, QuotedUdp& out) {
  const std::uint32_t at = ip.payload_offset();
  const std::uint32_t len = ip.payload_len();
  const std::uint8_t* icmp = bytes_at(m, at, kIcmpErrorHeaderLen);
  if (icmp == nullptr || len < kIcmpErrorHeaderLen) return IcmpErrorResult::malformed;
  if (!is_transport_failure_v4(icmp[0], icmp[1])) return IcmpErrorResult::other;
  Checksum sum;
  if (!sum.add_mbuf(m, at, len) || !sum.verifies()) return IcmpErrorResult::malformed;

  const std::uint32_t quote = at + kIcmpErrorHeaderLen;
  const std::uint32_t end = quote_end(quote, at + len, icmp[5], 4);
  const std::uint8_t* q = bytes_at(m, quote, sizeof(rte_ipv4_hdr));
  if (q == nullptr || quote + sizeof(rte_ipv4_hdr) > end || (q[0] >> 4) != 4) return IcmpErrorResult::other;
  const std::uint32_t header_len = (q[0] & 0x0fu) * 4;
  // A later fragment has no UDP header to say whose it was.
  const std::uint16_t frag = read16(q + 6);
  if (header_len < sizeof(rte_ipv4_hdr) || q[9] != kProtoUdp || (frag & RTE_IPV4_HDR_OFFSET_MASK) != 0) {
    return IcmpErrorResult::other;
  }
  out.src = IpAddress::from_v4(q + 12);
  out.dst = IpAddress::from_v4(q + 16);
  return quoted_udp(m, quote + header_len, end, out);
}

IcmpErrorResult parse_icmp_error_v6(rte_mbuf* m, const Ipv6View& ip, QuotedUdp& out) {
  const std::uint32_t at = ip.l4_offset;
  const std::uint32_t len = ip.l4_len();
  const std::uint8_t* icmp = bytes_at(m, at, kIcmpErrorHeaderLen);
  if (icmp == nullptr || len < kIcmpErrorHeaderLen) return IcmpErrorResult::malformed;
  if (!is_transport_failure_v6(icmp[0])) return IcmpErrorResult::other;
  Checksum sum;
  sum.add_pseudo_header(ip.src, ip.dst, kProtoIcmp6, len);
  if (!sum.add_mbuf(m, at, len) || !sum.verifies()) return IcmpErrorResult::malformed;

  const std::uint32_t quote = at + kIcmpErrorHeaderLen;
  // RFC 4884 §4.5: only destination unreachable carries a length (in 64-bit
  // words); a parameter problem's 4 bytes are its pointer.
  const std::uint8_t words = icmp[0] == kIcmp6DestUnreachable ? icmp[4] : 0;
  const std::uint32_t end = quote_end(quote, at + len, words, 8);
  const std::uint8_t* q = bytes_at(m, quote, sizeof(rte_ipv6_hdr));
  if (q == nullptr || quote + sizeof(rte_ipv6_hdr) > end || (q[0] >> 4) != 6) return IcmpErrorResult::other;
  out.src = IpAddress::from_v6(q + 8);
  out.dst = IpAddress::from_v6(q + 24);
  std::uint8_t next = q[6];
  std::uint32_t udp = quote + sizeof(rte_ipv6_hdr);
  // We send UDP with no extension header but the Fragment header of a
  // datagram above the MTU; only its first fragment starts with UDP.
  if (next == kProtoFragment) {
    const std::uint8_t* f = bytes_at(m, udp, 8);
    if (f == nullptr || udp + 8 > end || (read16(f + 2) & 0xfff8) != 0) return IcmpErrorResult::other;
    next = f[0];
    udp += 8;
  }
  if (next != kProtoUdp) return IcmpErrorResult::other;
  return quoted_udp(m, udp, end, out);
}

}  // namespace sigrelay::dataplane::net
