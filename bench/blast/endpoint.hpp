// UDP endpoints: numeric IPv4/IPv6 addresses only (a load generator should
// not depend on DNS), kept both as a sockaddr and in the form SIP writes
// them in a URI or Via.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace sigrelay::blast {

struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  bool ipv6 = false;
  std::string host;  // "192.0.2.1" or "[2001:db8::1]"
  std::uint16_t port = 0;
};

// "192.0.2.1:5060" or "[2001:db8::1]:5060".
bool parse_ip_port(std::string_view text, Endpoint& out);

// "192.0.2.1", "2001:db8::1" or "[2001:db8::1]", with the given port.
bool parse_ip(std::string_view text, std::uint16_t port, Endpoint& out);

// The source address the kernel would pick to reach `target` (no packet is
// sent: a UDP connect only consults the routing table).
bool route_source(const Endpoint& target, Endpoint& out);

// Sets the port in both the sockaddr and the text form.
void set_port(Endpoint& e, std::uint16_t port);

}  // namespace sigrelay::blast
