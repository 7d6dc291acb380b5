// IPv4/IPv6 addresses and prefixes as the L2-L4 layer sees them: bytes in
// network order, compared and hashed as bytes, converted to and from the
// sockaddr_storage the SIP layer speaks. Parsing uses inet_pton and is meant
// for configuration time only.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace sigrelay::dataplane::net {

struct IpAddress {
  enum class Family : std::uint8_t { v4, v6 };

  Family family = Family::v4;
  std::array<std::uint8_t, 16> bytes{};  // network order; IPv4 uses bytes[0..3], the rest stay 0

  static IpAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    IpAddress ip;
    ip.bytes[0] = a;
    ip.bytes[1] = b;
    ip.bytes[2] = c;
    ip.bytes[3] = d;
    return ip;
  }
  static IpAddress from_v4(const void* four_bytes) {
    IpAddress ip;
    std::memcpy(ip.bytes.data(), four_bytes, 4);
    return ip;
  }
  static IpAddress from_v6(const void* sixteen_bytes) {
    IpAddress ip;
    ip.family = Family::v6;
    std::memcpy(ip.bytes.data(), sixteen_bytes, 16);
    return ip;
  }
  // Numeric text only ("192.0.2.1", "2001:db8::1"); false on anything else.
  static bool parse(std::string_view text, IpAddress& out);

  bool is_v4() const { return family == Family::v4; }
  bool is_v6() const { return family == Family::v6; }
  std::size_t size() const { return is_v4() ? 4 : 16; }
  const std::uint8_t* data() const { return bytes.data(); }

  bool is_unspecified() const;
  bool is_multicast() const { return is_v4() ? (bytes[0] & 0xf0) == 0xe0 : bytes[0] == 0xff; }
  bool is_v4_limited_broadcast() const {
    return is_v4() && bytes[0] == 255 && bytes[1] == 255 && bytes[2] == 255 && bytes[3] == 255;
  }
  bool is_v6_link_local() const { return is_v6() && bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80; }

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

// One of our addresses with the length of the on-link prefix it sits in:
// 192.0.2.10/24 means "we are 192.0.2.10, and 192.0.2.0/24 is on the link".
struct Prefix {
  IpAddress address;
  std::uint8_t length = 0;

  // "192.0.2.10/24", "2001:db8::10/64"; without "/n" the length is the full width.
  static bool parse(std::string_view text, Prefix& out);
  // True when `ip` has the same family and the same first `length` bits.
  bool contains(const IpAddress& ip) const;
};

// RFC 4291 §2.7.1: ff02::1:ffXX:XXXX from the low 24 bits of `ip`.
IpAddress solicited_node(const IpAddress& ip);
// RFC 4862 §5.3 with a modified EUI-64 interface id (RFC 4291 appendix A).
IpAddress link_local_from_mac(const std::uint8_t mac[6]);

void to_sockaddr(const IpAddress& ip, std::uint16_t port, sockaddr_storage& out);
// False for families other than AF_INET/AF_INET6.
bool from_sockaddr(const sockaddr_storage& in, IpAddress& ip, std::uint16_t& port);

}  // namespace sigrelay::dataplane::net
