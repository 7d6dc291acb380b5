// The sources the simulated service serves (`sim.allow`): IPv4 and IPv6 CIDR
// blocks. An IPv4 peer reaching an IPv6 socket appears as ::ffff:a.b.c.d and
// is matched as the IPv4 address it is.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace sigrelay::sim {

struct Cidr {
  bool v6 = false;
  std::array<std::uint8_t, 16> addr{};  // IPv4 uses the first 4 bytes; host bits cleared
  unsigned prefix_len = 0;
};

// "10.0.0.0/8", "2001:db8::/32", or a single address (full-length prefix).
// nullopt for anything else, including host bits set beyond the prefix
// ("10.0.0.1/8"), which is almost always a typo.
std::optional<Cidr> parse_cidr(std::string_view text);

class AllowList {
 public:
  void add(const Cidr& c) { blocks_.push_back(c); }
  bool empty() const { return blocks_.empty(); }
  // An empty list allows every source (documented in docs/sim.md).
  bool allows(const sockaddr* sa) const;

 private:
  std::vector<Cidr> blocks_;
};

}  // namespace sigrelay::sim
