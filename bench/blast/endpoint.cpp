#include "bench/blast/endpoint.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <charconv>
#include <cstring>

namespace sigrelay::blast {

bool parse_ip(std::string_view text, std::uint16_t port, Endpoint& out) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  char buf[INET6_ADDRSTRLEN];
  if (text.empty() || text.size() >= sizeof buf) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  out = Endpoint{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
  if (inet_pton(AF_INET, buf, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    out.len = sizeof(sockaddr_in);
    out.host = buf;
  } else if (inet_pton(AF_INET6, buf, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    out.len = sizeof(sockaddr_in6);
    out.ipv6 = true;
    out.host = "[" + std::string(buf) + "]";
  } else {
    return false;
  }
  set_port(out, port);
  return true;
}

bool parse_ip_port(std::string_view text, Endpoint& out) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  // An IPv6 address needs its brackets here, or its last group reads as a port.
  if (host.find(':') != std::string_view::npos && !(host.starts_with("[") && host.ends_with("]")))
    return false;
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size() || port == 0 || port > 65535)
    return false;
  return parse_ip(host, static_cast<std::uint16_t>(port), out);
}

void set_port(Endpoint& e, std::uint16_t port) {
  e.port = port;
  if (e.ipv6) reinterpret_cast<sockaddr_in6*>(&e.addr)->sin6_port = htons(port);
  else reinterpret_cast<sockaddr_in*>(&e.addr)->sin_port = htons(port);
}

bool route_source(const Endpoint& target, Endpoint& out) {
  const int fd = socket(target.ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  const bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&target.addr), target.len) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0;
  close(fd);
  if (!ok) return false;
  char buf[INET6_ADDRSTRLEN];
  const void* a = target.ipv6 ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr)
                              : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&local)->sin_addr);
  if (!inet_ntop(target.ipv6 ? AF_INET6 : AF_INET, a, buf, sizeof buf)) return false;
  return parse_ip(buf, 0, out);
}

}  // namespace sigrelay::blast
