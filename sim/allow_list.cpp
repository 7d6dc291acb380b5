#include "sim/allow_list.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <string>

namespace sigrelay::sim {

namespace {

bool prefix_matches(const std::uint8_t* a, const std::uint8_t* b, unsigned bits) {
  const unsigned whole = bits / 8;
  if (std::memcmp(a, b, whole) != 0) return false;
  const unsigned rest = bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

std::optional<Cidr> parse_cidr(std::string_view text) {
  const auto slash = text.find('/');
  const std::string addr(text.substr(0, slash));
  Cidr c;
  if (inet_pton(AF_INET, addr.c_str(), c.addr.data()) == 1) {
    c.prefix_len = 32;
  } else if (inet_pton(AF_INET6, addr.c_str(), c.addr.data()) == 1) {
    c.v6 = true;
    c.prefix_len = 128;
  } else {
    return std::nullopt;
  }
  if (slash != std::string_view::npos) {
    const auto len = text.substr(slash + 1);
    unsigned n = 0;
    const auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), n);
    if (len.empty() || ec != std::errc() || end != len.data() + len.size() || n > c.prefix_len) {
      return std::nullopt;
    }
    c.prefix_len = n;
  }
  // Host bits must be clear: compare against a copy with them zeroed.
  std::array<std::uint8_t, 16> masked{};
  const unsigned bytes = c.v6 ? 16 : 4;
  for (unsigned i = 0; i < bytes; ++i) {
    const unsigned bit = i * 8;
    if (bit + 8 <= c.prefix_len) {
      masked[i] = c.addr[i];
    } else if (bit < c.prefix_len) {
      masked[i] = static_cast<std::uint8_t>(c.addr[i] & (0xff << (8 - (c.prefix_len - bit))));
    }
  }
  if (masked != c.addr) return std::nullopt;
  return c;
}

bool AllowList::allows(const sockaddr* sa) const {
  if (blocks_.empty()) return true;
  const std::uint8_t* bytes = nullptr;
  bool v6 = false;
  if (sa->sa_family == AF_INET) {
    bytes = reinterpret_cast<const std::uint8_t*>(&reinterpret_cast<const sockaddr_in*>(sa)->sin_addr);
  } else if (sa->sa_family == AF_INET6) {
    const auto* a6 = &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    bytes = reinterpret_cast<const std::uint8_t*>(a6);
    v6 = true;
    if (IN6_IS_ADDR_V4MAPPED(a6)) {
      bytes += 12;
      v6 = false;
    }
  } else {
    return false;
  }
  for (const Cidr& c : blocks_) {
    if (c.v6 == v6 && prefix_matches(c.addr.data(), bytes, c.prefix_len)) return true;
  }
  return false;
}

}  // namespace sigrelay::sim
