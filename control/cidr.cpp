#include "control/cidr.hpp"

#include <arpa/inet.h>

#include <array>
#include <cstring>

namespace sigrelay::control {
namespace {

std::uint64_t load_be64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

void store_be64(std::uint64_t v, std::uint8_t* p) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<std::uint8_t>(v & 0xff);
    v >>= 8;
  }
}

std::uint32_t mask_v4(unsigned prefix) { return prefix == 0 ? 0U : ~0U << (32 - prefix); }

// Mask for one 64-bit half holding `bits` leading network bits (0..64).
std::uint64_t mask_half(unsigned bits) {
  if (bits == 0) return 0;
  if (bits >= 64) return ~std::uint64_t{0};
  return ~std::uint64_t{0} << (64 - bits);
}

// ::ffff:0:0/96: 80 zero bits, 16 one bits, then the IPv4 address.
bool is_v4_mapped(std::uint64_t hi, std::uint64_t lo) {
  return hi == 0 && (lo >> 32) == 0xffffU;
}

bool parse_prefix(std::string_view s, unsigned& out) {
  if (s.empty() || s.size() > 3) return false;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  out = v;
  return true;
}

void set_v4(Cidr& out, std::uint32_t addr, unsigned prefix) {
  out.family = Cidr::Family::v4;
  out.prefix_len = static_cast<std::uint8_t>(prefix);
  out.v4_mask = mask_v4(prefix);
  out.v4 = addr;
}

}  // namespace

std::string_view to_string(CidrError e) {
  switch (e) {
    case CidrError::ok: return "ok";
    case CidrError::empty: return "empty";
    case CidrError::bad_address: return "not a numeric IPv4 or IPv6 address";
    case CidrError::bad_prefix: return "prefix length is not a decimal number";
    case CidrError::prefix_too_long: return "prefix length too long (IPv4 at most 32, IPv6 at most 128)";
    case CidrError::host_bits_set: return "address has bits set past the prefix length";
  }
  return "unknown";
}

CidrError Cidr::parse(std::string_view text, Cidr& out) {
  out = Cidr{};
  if (text.empty()) return CidrError::empty;
  const auto slash = text.find('/');
  const std::string_view addr_text = text.substr(0, slash);
  // Longest textual IPv6 address (INET6_ADDRSTRLEN) plus the terminator.
  std::array<char, INET6_ADDRSTRLEN + 1> buf{};
  if (addr_text.empty() || addr_text.size() >= buf.size()) return CidrError::bad_address;
  std::memcpy(buf.data(), addr_text.data(), addr_text.size());

  const bool v6 = addr_text.find(':') != std::string_view::npos;
  const unsigned max_prefix = v6 ? 128 : 32;
  unsigned prefix = max_prefix;
  if (slash != std::string_view::npos) {
    if (!parse_prefix(text.substr(slash + 1), prefix)) return CidrError::bad_prefix;
    if (prefix > max_prefix) return CidrError::prefix_too_long;
  }

  if (!v6) {
    in_addr a{};
    if (inet_pton(AF_INET, buf.data(), &a) != 1) return CidrError::bad_address;
    const std::uint32_t host = ntohl(a.s_addr);
    set_v4(out, host, prefix);
    if ((host & ~out.v4_mask) != 0) return CidrError::host_bits_set;
    return CidrError::ok;
  }

  in6_addr a{};
  if (inet_pton(AF_INET6, buf.data(), &a) != 1) return CidrError::bad_address;
  const std::uint64_t hi = load_be64(a.s6_addr);
  const std::uint64_t lo = load_be64(a.s6_addr + 8);
  if (is_v4_mapped(hi, lo) && prefix >= 96) {
    const auto v4 = static_cast<std::uint32_t>(lo & 0xffffffffU);
    set_v4(out, v4, prefix - 96);
    if ((v4 & ~out.v4_mask) != 0) return CidrError::host_bits_set;
    return CidrError::ok;
  }
  out.family = Family::v6;
  out.prefix_len = static_cast<std::uint8_t>(prefix);
  out.v6_mask_hi = mask_half(prefix);
  out.v6_mask_lo = prefix > 64 ? mask_half(prefix - 64) : 0;
  out.v6_hi = hi;
  out.v6_lo = lo;
  if ((hi & ~out.v6_mask_hi) != 0 || (lo & ~out.v6_mask_lo) != 0) return CidrError::host_bits_set;
  return CidrError::ok;
}

Cidr Cidr::masked() const {
  Cidr c = *this;
  c.v4 &= c.v4_mask;
  c.v6_hi &= c.v6_mask_hi;
  c.v6_lo &= c.v6_mask_lo;
  return c;
}

bool Cidr::contains(const in_addr& a) const {
  return family == Family::v4 && (ntohl(a.s_addr) & v4_mask) == v4;
}

bool Cidr::contains(const in6_addr& a) const {
  const std::uint64_t hi = load_be64(a.s6_addr);
  const std::uint64_t lo = load_be64(a.s6_addr + 8);
  if (is_v4_mapped(hi, lo)) {
    return family == Family::v4 && (static_cast<std::uint32_t>(lo & 0xffffffffU) & v4_mask) == v4;
  }
  return family == Family::v6 && (hi & v6_mask_hi) == v6_hi && (lo & v6_mask_lo) == v6_lo;
}

bool Cidr::contains(const sockaddr_storage& ss) const {
  if (ss.ss_family == AF_INET) {
    sockaddr_in sin{};
    std::memcpy(&sin, &ss, sizeof sin);
    return contains(sin.sin_addr);
  }
  if (ss.ss_family == AF_INET6) {
    sockaddr_in6 sin6{};
    std::memcpy(&sin6, &ss, sizeof sin6);
    return contains(sin6.sin6_addr);
  }
  return false;
}

std::string Cidr::to_string() const {
  std::array<char, INET6_ADDRSTRLEN> buf{};
  if (family == Family::v4) {
    in_addr a{};
    a.s_addr = htonl(v4);
    inet_ntop(AF_INET, &a, buf.data(), buf.size());
  } else {
    in6_addr a{};
    store_be64(v6_hi, a.s6_addr);
    store_be64(v6_lo, a.s6_addr + 8);
    inet_ntop(AF_INET6, &a, buf.data(), buf.size());
  }
  return std::string(buf.data()) + "/" + std::to_string(prefix_len);
}

AddressAcl::AddressAcl(std::span<const Cidr> entries) {
  for (const Cidr& c : entries) {
    if (c.family == Cidr::Family::v4) {
      v4_.push_back(V4{c.v4, c.v4_mask});
    } else {
      v6_.push_back(V6{c.v6_hi, c.v6_lo, c.v6_mask_hi, c.v6_mask_lo});
    }
  }
}

bool AddressAcl::allows_v4(std::uint32_t host_order_address) const {
  for (const V4& e : v4_) {
    if ((host_order_address & e.mask) == e.net) return true;
  }
  return false;
}

bool AddressAcl::allows_v6(const in6_addr& address) const {
  const std::uint64_t hi = load_be64(address.s6_addr);
  const std::uint64_t lo = load_be64(address.s6_addr + 8);
  if (is_v4_mapped(hi, lo)) return allows_v4(static_cast<std::uint32_t>(lo & 0xffffffffU));
  for (const V6& e : v6_) {
    if ((hi & e.mask_hi) == e.hi && (lo & e.mask_lo) == e.lo) return true;
  }
  return false;
}

bool AddressAcl::allows(const sockaddr_storage& source) const {
  if (source.ss_family == AF_INET) {
    sockaddr_in sin{};
    std::memcpy(&sin, &source, sizeof sin);
    return allows_v4(ntohl(sin.sin_addr.s_addr));
  }
  if (source.ss_family == AF_INET6) {
    sockaddr_in6 sin6{};
    std::memcpy(&sin6, &source, sizeof sin6);
    return allows_v6(sin6.sin6_addr);
  }
  return false;
}

}  // namespace sigrelay::control
