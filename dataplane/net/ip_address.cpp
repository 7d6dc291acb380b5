#include "dataplane/net/ip_address.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <string>

namespace sigrelay::dataplane::net {

bool IpAddress::parse(std::string_view text, IpAddress& out) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return false;
  const std::string z(text);
  IpAddress ip;
  if (inet_pton(AF_INET, z.c_str(), ip.bytes.data()) == 1) {
    out = ip;
    return true;
  }
  ip.family = Family::v6;
  if (inet_pton(AF_INET6, z.c_str(), ip.bytes.data()) == 1) {
    out = ip;
    return true;
  }
  return false;
}

bool IpAddress::is_unspecified() const {
  for (std::size_t i = 0; i < size(); ++i) {
    if (bytes[i] != 0) return false;
  }
  return true;
}

bool Prefix::parse(std::string_view text, Prefix& out) {
  const auto slash = text.find('/');
  Prefix p;
  if (!IpAddress::parse(text.substr(0, slash), p.address)) return false;
  const unsigned width = p.address.is_v4() ? 32 : 128;
  if (slash == std::string_view::npos) {
    p.length = static_cast<std::uint8_t>(width);
  } else {
    const auto digits = text.substr(slash + 1);
    unsigned len = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || len > width) return false;
    p.length = static_cast<std::uint8_t>(len);
  }
  out = p;
  return true;
}

bool Prefix::contains(const IpAddress& ip) const {
  if (ip.family != address.family) return false;
  const unsigned full = length / 8;
  if (std::memcmp(ip.bytes.data(), address.bytes.data(), full) != 0) return false;
  const unsigned rest = length % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (ip.bytes[full] & mask) == (address.bytes[full] & mask);
}

IpAddress solicited_node(const IpAddress& ip) {
  IpAddress s;
  s.family = IpAddress::Family::v6;
  s.bytes = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, ip.bytes[13], ip.bytes[14], ip.bytes[15]};
  return s;
}

IpAddress link_local_from_mac(const std::uint8_t mac[6]) {
  IpAddress ll;
  ll.family = IpAddress::Family::v6;
  ll.bytes = {0xfe, 0x80, 0, 0, 0, 0, 0, 0,
              static_cast<std::uint8_t>(mac[0] ^ 0x02), mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]};
  return ll;
}

void to_sockaddr(const IpAddress& ip, std::uint16_t port, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof(out));
  if (ip.is_v4()) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    std::memcpy(&sin.sin_addr, ip.bytes.data(), 4);
    std::memcpy(&out, &sin, sizeof(sin));
  } else {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(port);
    std::memcpy(&sin6.sin6_addr, ip.bytes.data(), 16);
    std::memcpy(&out, &sin6, sizeof(sin6));
  }
}

bool from_sockaddr(const sockaddr_storage& in, IpAddress& ip, std::uint16_t& port) {
  if (in.ss_family == AF_INET) {
    sockaddr_in sin;
    std::memcpy(&sin, &in, sizeof(sin));
    ip = IpAddress::from_v4(&sin.sin_addr);
    port = ntohs(sin.sin_port);
    return true;
  }
  if (in.ss_family == AF_INET6) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, &in, sizeof(sin6));
    ip = IpAddress::from_v6(&sin6.sin6_addr);
    port = ntohs(sin6.sin6_port);
    return true;
  }
  return false;
}

}  // namespace sigrelay::dataplane::net
