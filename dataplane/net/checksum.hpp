// The Internet checksum (RFC 1071) accumulated over any number of pieces:
// byte arrays, ranges of an mbuf chain, and the IPv4/IPv6 pseudo-headers.
// Pieces may have odd lengths; the running byte position keeps the 16-bit
// words aligned across them. Sums use DPDK's rte_raw_cksum, so results are
// in memory order: store value() into a header field with memcpy as is.
#pragma once

#include <rte_mbuf.h>

#include <cstddef>
#include <cstdint>

#include "dataplane/net/ip_address.hpp"

namespace sigrelay::dataplane::net {

class Checksum {
 public:
  void add(const void* data, std::size_t len);
  // Adds bytes [offset, offset + len) of the chain; false (nothing added)
  // when the chain holds fewer bytes.
  bool add_mbuf(const rte_mbuf* m, std::uint32_t offset, std::uint32_t len);
  // RFC 768 / RFC 8200 §8.1 pseudo-header for an upper-layer length `len`.
  void add_pseudo_header(const IpAddress& src, const IpAddress& dst, std::uint8_t proto, std::uint32_t len);

  // The value to store in a checksum field.
  std::uint16_t value() const { return static_cast<std::uint16_t>(~fold()); }
  // UDP's variant (RFC 768): a computed 0 is sent as all ones.
  std::uint16_t udp_value() const {
    const std::uint16_t v = value();
    return v == 0 ? 0xffff : v;
  }
  // The folded sum without the final complement: what a NIC's L4 checksum
  // offload wants in the field, computed over the pseudo-header alone.
  std::uint16_t partial() const { return fold(); }
  // True when the summed bytes included a correct checksum field.
  bool verifies() const { return fold() == 0xffff; }

 private:
  std::uint16_t fold() const;

  std::uint64_t sum_ = 0;
  std::uint64_t pos_ = 0;
};

}  // namespace sigrelay::dataplane::net
