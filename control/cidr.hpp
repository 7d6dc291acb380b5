// Address prefixes for the source whitelist (`acl.allow`, DESIGN.md §1).
//
// A Cidr is an IPv4 or IPv6 prefix in canonical form: the address bits past
// the prefix length are zero. Text with host bits set ("198.51.100.7/24") is
// refused rather than masked, because it usually means the operator meant
// one host (/32) and masking would open the whole /24.
//
// IPv4-mapped IPv6 (::ffff:a.b.c.d, RFC 4291 §2.5.5.2) is what a dual-stack
// socket reports for an IPv4 peer. So that one switch matches the same entry
// whichever socket family it arrives on, mapped addresses are treated as the
// IPv4 address they carry: as sources, and as entries (an entry written
// ::ffff:198.51.100.0/120 is the IPv4 entry 198.51.100.0/24).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sigrelay::control {

// Stable codes: the config loader reports them by name.
enum class CidrError : std::uint8_t {
  ok = 0,
  empty,
  bad_address,      // not a numeric IPv4 or IPv6 address (no DNS names)
  bad_prefix,       // prefix length missing after '/' or not decimal digits
  prefix_too_long,  // more than 32 (IPv4) or 128 (IPv6)
  host_bits_set,    // address has bits set past the prefix length
};

std::string_view to_string(CidrError e);

struct Cidr {
  enum class Family : std::uint8_t { v4, v6 };

  Family family = Family::v4;
  std::uint8_t prefix_len = 0;
  // Network address, host byte order. v4 uses `v4`; v6 uses hi/lo (bits
  // 127..64 and 63..0). Masks are precomputed so contains() is two ANDs.
  std::uint32_t v4 = 0;
  std::uint32_t v4_mask = 0;
  std::uint64_t v6_hi = 0;
  std::uint64_t v6_lo = 0;
  std::uint64_t v6_mask_hi = 0;
  std::uint64_t v6_mask_lo = 0;

  // "a.b.c.d/n", "a.b.c.d" (= /32), "v6/n", "v6" (= /128). Numeric only,
  // no zone ids ("fe80::1%eth0"), no brackets. On host_bits_set `out` holds
  // the address as written and the prefix length, so out.masked() is the
  // network the operator may have meant; on other errors it is unspecified.
  static CidrError parse(std::string_view text, Cidr& out);

  Cidr masked() const;

  bool contains(const in_addr& a) const;
  // IPv4-mapped addresses match IPv4 entries only.
  bool contains(const in6_addr& a) const;
  // AF_INET or AF_INET6; any other family matches nothing.
  bool contains(const sockaddr_storage& ss) const;

  // Canonical text, always with the prefix length: "198.51.100.0/24",
  // "2001:db8::/32".
  std::string to_string() const;

  friend bool operator==(const Cidr&, const Cidr&) = default;
};

// The whitelist a worker consults for every packet. Built once on the
// control thread from the config, then only read. A linear scan: sources
// are checked against tens of entries, where a scan over a contiguous array
// beats a trie; revisit with a benchmark if deployments list thousands.
class AddressAcl {
 public:
  AddressAcl() = default;  // empty: allows nobody
  explicit AddressAcl(std::span<const Cidr> entries);

  // No allocation, no syscalls. AF_INET6 sources carrying an IPv4-mapped
  // address are checked against the IPv4 entries.
  bool allows(const sockaddr_storage& source) const;
  bool allows_v4(std::uint32_t host_order_address) const;
  bool allows_v6(const in6_addr& address) const;

  std::size_t size() const { return v4_.size() + v6_.size(); }
  bool empty() const { return size() == 0; }

 private:
  struct V4 {
    std::uint32_t net;
    std::uint32_t mask;
  };
  struct V6 {
    std::uint64_t hi, lo, mask_hi, mask_lo;
  };
  std::vector<V4> v4_;
  std::vector<V6> v6_;
};

}  // namespace sigrelay::control
