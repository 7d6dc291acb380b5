#include "sip/next_hop.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <optional>

namespace sigrelay::sip {
namespace {

constexpr std::uint16_t kSipPort = 5060;
constexpr std::uint16_t kSipsPort = 5061;

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// `lit` is lower case.
bool equals_nocase(std::string_view s, std::string_view lit) {
  if (s.size() != lit.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (lower(s[i]) != lit[i]) return false;
  }
  return true;
}

std::optional<HopTransport> transport_from(std::string_view name) {
  if (equals_nocase(name, "udp")) return HopTransport::udp;
  if (equals_nocase(name, "tcp")) return HopTransport::tcp;
  if (equals_nocase(name, "tls")) return HopTransport::tls;
  return std::nullopt;
}

std::uint16_t default_port(HopTransport t) { return t == HopTransport::tls ? kSipsPort : kSipPort; }

// inet_pton wants a NUL-terminated string: copy into a stack buffer. The
// longest IPv6 text form (with an IPv4 tail) is 45 bytes.
bool pton(int family, std::string_view text, void* dst) {
  char buf[64];
  if (text.empty() || text.size() >= sizeof buf) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  return inet_pton(family, buf, dst) == 1;
}

// An IPv4 literal, an IPv6 literal with or without brackets, or a hostname.
// Fills `addr` (port 0) for a literal. Note that inet_pton refuses leading
// zeros ("010.0.0.1"), whose meaning (decimal per RFC 3261, octal to
// inet_aton) is ambiguous: they are bad_host.
HopError address_of(std::string_view host, sockaddr_storage& addr, socklen_t& len) {
  if (host.empty()) return HopError::bad_host;
  std::string_view v6 = host;
  bool is_v6 = false;
  if (host.front() == '[') {
    if (host.size() < 2 || host.back() != ']') return HopError::bad_host;
    v6 = host.substr(1, host.size() - 2);
    is_v6 = true;
  } else {
    is_v6 = host.find(':') != std::string_view::npos;
  }
  sockaddr_storage tmp{};
  if (is_v6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&tmp);
    if (!pton(AF_INET6, v6, &sin6->sin6_addr)) return HopError::bad_host;
    sin6->sin6_family = AF_INET6;
    addr = tmp;
    len = sizeof(sockaddr_in6);
    return HopError::ok;
  }
  auto* sin = reinterpret_cast<sockaddr_in*>(&tmp);
  if (pton(AF_INET, host, &sin->sin_addr)) {
    sin->sin_family = AF_INET;
    addr = tmp;
    len = sizeof(sockaddr_in);
    return HopError::ok;
  }
  // Not a literal: a name only if the whole text is one by RFC 3261 §25.1.
  HostPort hp;
  const char* end = detail::host_at(host.data(), host.data() + host.size(), hp);
  if (end == host.data() + host.size() && hp.kind == HostKind::hostname) return HopError::needs_dns;
  return HopError::bad_host;
}

void set_port(sockaddr_storage& addr, std::uint16_t port) {
  if (addr.ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(port);
  }
}

HopError finish(std::string_view host, std::uint16_t port, HopTransport transport, NextHop& out) {
  if (port == 0) return HopError::bad_port;
  NextHop hop;
  if (const auto e = address_of(host, hop.addr, hop.addr_len); e != HopError::ok) return e;
  set_port(hop.addr, port);
  hop.transport = transport;
  out = hop;
  return HopError::ok;
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  std::uint32_t n = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (n == 0 || n > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(n);
}

// The IPv4 address of an AF_INET or IPv4-mapped AF_INET6 address, in
// network order; nullopt for anything else.
std::optional<std::uint32_t> ipv4_of(const sockaddr_storage& s, std::uint16_t& port) {
  if (s.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&s);
    port = sin->sin_port;
    return sin->sin_addr.s_addr;
  }
  if (s.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&s);
    if (!IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) return std::nullopt;
    port = sin6->sin6_port;
    std::uint32_t a = 0;
    std::memcpy(&a, sin6->sin6_addr.s6_addr + 12, sizeof a);
    return a;
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(HopError e) {
  switch (e) {
    case HopError::ok: return "ok";
    case HopError::needs_dns: return "needs_dns";
    case HopError::bad_host: return "bad_host";
    case HopError::bad_transport: return "bad_transport";
    case HopError::bad_port: return "bad_port";
  }
  return "unknown";
}

std::string_view to_string(HopTransport t) {
  switch (t) {
    case HopTransport::udp: return "udp";
    case HopTransport::tcp: return "tcp";
    case HopTransport::tls: return "tls";
  }
  return "unknown";
}

HopError next_hop_for_uri(const Uri& uri, NextHop& out) {
  const bool secure = uri.scheme == UriScheme::sips;
  if (!secure && uri.scheme != UriScheme::sip) return HopError::bad_host;
  HopTransport transport = secure ? HopTransport::tls : HopTransport::udp;
  if (const auto param = find_param(uri.params, "transport")) {
    const auto named = transport_from(*param);
    if (!named) return HopError::bad_transport;
    transport = *named;
    if (secure) {
      if (transport == HopTransport::udp) return HopError::bad_transport;
      transport = HopTransport::tls;
    }
  }
  std::string_view host = uri.host;
  if (const auto maddr = find_param(uri.params, "maddr")) host = *maddr;
  const std::uint16_t port = uri.has_port ? uri.port : default_port(transport);
  return finish(host, port, transport, out);
}

HopError response_destination(const Via& via, NextHop& out) {
  const auto transport = transport_from(via.transport);
  if (!transport) return HopError::bad_transport;
  const std::string_view host = via.received.empty() ? via.host : via.received;
  std::uint16_t port = via.has_port ? via.port : default_port(*transport);
  if (*transport == HopTransport::udp && via.has_rport && !via.rport.empty()) {
    const auto rport = parse_port(via.rport);
    if (!rport) return HopError::bad_port;
    port = *rport;
  }
  return finish(host, port, *transport, out);
}

bool same_endpoint(const sockaddr_storage& a, const sockaddr_storage& b) {
  std::uint16_t port_a = 0;
  std::uint16_t port_b = 0;
  const auto v4a = ipv4_of(a, port_a);
  const auto v4b = ipv4_of(b, port_b);
  if (v4a || v4b) return v4a && v4b && *v4a == *v4b && port_a == port_b;
  if (a.ss_family != AF_INET6 || b.ss_family != AF_INET6) return false;
  const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&a);
  const auto* b6 = reinterpret_cast<const sockaddr_in6*>(&b);
  return a6->sin6_port == b6->sin6_port &&
         std::memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(in6_addr)) == 0;
}

}  // namespace sigrelay::sip
