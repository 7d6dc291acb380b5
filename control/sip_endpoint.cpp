#include "control/sip_endpoint.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <cstring>

#include "sip/uri.hpp"

namespace sigrelay::control {
namespace {

constexpr std::uint16_t kDefaultTlsPort = 5061;  // RFC 3261 §19.1.2
constexpr std::uint16_t kDefaultTcpPort = 5060;

bool parse_port(std::string_view s, std::uint16_t& out) {
  if (s.empty() || s.size() > 5) return false;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v == 0 || v > 65535) return false;
  out = static_cast<std::uint16_t>(v);
  return true;
}

// inet_pton wants a terminated string; addresses longer than any IPv6 text
// are refused before copying.
bool to_cstr(std::string_view s, std::array<char, INET6_ADDRSTRLEN + 1>& buf) {
  if (s.empty() || s.size() >= buf.size()) return false;
  std::memcpy(buf.data(), s.data(), s.size());
  buf[s.size()] = '\0';
  return true;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto fold = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
    if (fold(a[i]) != fold(b[i])) return false;
  }
  return true;
}

}  // namespace

std::string_view to_string(EndpointError e) {
  switch (e) {
    case EndpointError::ok: return "ok";
    case EndpointError::empty: return "empty";
    case EndpointError::missing_port: return "missing ':port'";
    case EndpointError::bad_port: return "port is not a number in 1..65535";
    case EndpointError::bad_address: return "not a numeric IP address (no host names here)";
    case EndpointError::needs_brackets: return "IPv6 addresses go in brackets: [2001:db8::1]:5060";
  }
  return "unknown";
}

EndpointError parse_endpoint(std::string_view text, Endpoint& out) {
  out = Endpoint{};
  if (text.empty()) return EndpointError::empty;
  std::array<char, INET6_ADDRSTRLEN + 1> buf{};
  std::string_view addr_text;
  std::string_view port_text;
  const bool v6 = text.front() == '[';
  if (v6) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return EndpointError::bad_address;
    addr_text = text.substr(1, close - 1);
    const auto rest = text.substr(close + 1);
    if (rest.empty()) return EndpointError::missing_port;
    if (rest.front() != ':') return EndpointError::bad_address;
    port_text = rest.substr(1);
  } else {
    const auto colon = text.find(':');
    if (colon == std::string_view::npos) return EndpointError::missing_port;
    if (text.find(':', colon + 1) != std::string_view::npos) return EndpointError::needs_brackets;
    addr_text = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  if (port_text.empty()) return EndpointError::missing_port;
  std::uint16_t port = 0;
  if (!parse_port(port_text, port)) return EndpointError::bad_port;
  if (!to_cstr(addr_text, buf)) return EndpointError::bad_address;

  std::array<char, INET6_ADDRSTRLEN> canon{};
  if (v6) {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(port);
    if (inet_pton(AF_INET6, buf.data(), &sin6.sin6_addr) != 1) return EndpointError::bad_address;
    std::memcpy(&out.addr, &sin6, sizeof sin6);
    out.len = sizeof sin6;
    inet_ntop(AF_INET6, &sin6.sin6_addr, canon.data(), canon.size());
    out.text = "[" + std::string(canon.data()) + "]:" + std::to_string(port);
  } else {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    if (inet_pton(AF_INET, buf.data(), &sin.sin_addr) != 1) return EndpointError::bad_address;
    std::memcpy(&out.addr, &sin, sizeof sin);
    out.len = sizeof sin;
    inet_ntop(AF_INET, &sin.sin_addr, canon.data(), canon.size());
    out.text = std::string(canon.data()) + ":" + std::to_string(port);
  }
  return EndpointError::ok;
}

bool Endpoint::is_wildcard() const {
  if (addr.ss_family == AF_INET) {
    sockaddr_in sin{};
    std::memcpy(&sin, &addr, sizeof sin);
    return sin.sin_addr.s_addr == htonl(INADDR_ANY);
  }
  if (addr.ss_family == AF_INET6) {
    sockaddr_in6 sin6{};
    std::memcpy(&sin6, &addr, sizeof sin6);
    return IN6_IS_ADDR_UNSPECIFIED(&sin6.sin6_addr);
  }
  return false;
}

std::uint16_t Endpoint::port() const {
  if (addr.ss_family == AF_INET) {
    sockaddr_in sin{};
    std::memcpy(&sin, &addr, sizeof sin);
    return ntohs(sin.sin_port);
  }
  if (addr.ss_family == AF_INET6) {
    sockaddr_in6 sin6{};
    std::memcpy(&sin6, &addr, sizeof sin6);
    return ntohs(sin6.sin6_port);
  }
  return 0;
}

std::string_view to_string(UpstreamUriError e) {
  switch (e) {
    case UpstreamUriError::ok: return "ok";
    case UpstreamUriError::syntax: return "not a valid SIP URI";
    case UpstreamUriError::scheme: return "scheme must be sip: or sips:";
    case UpstreamUriError::user_part: return "must name a server, not a user (no 'user@')";
    case UpstreamUriError::no_host: return "missing host";
    case UpstreamUriError::bad_port: return "port must be 1..65535";
    case UpstreamUriError::bad_transport:
      return "transport must be tls or tcp (the relay never sends UDP upstream)";
    case UpstreamUriError::bad_parameter:
      return "only the transport parameter is allowed (no other parameters, no ?headers)";
  }
  return "unknown";
}

UpstreamUriError parse_upstream_uri(std::string_view text, UpstreamTarget& out) {
  out = UpstreamTarget{};
  sip::Uri uri;
  if (!sip::parse_uri(text, uri)) return UpstreamUriError::syntax;
  if (uri.scheme != sip::UriScheme::sip && uri.scheme != sip::UriScheme::sips) {
    return UpstreamUriError::scheme;
  }
  if (uri.has_user) return UpstreamUriError::user_part;
  if (uri.host.empty() || uri.host_kind == sip::HostKind::none) return UpstreamUriError::no_host;
  if (!uri.headers.empty()) return UpstreamUriError::bad_parameter;
  if (uri.has_port && uri.port == 0) return UpstreamUriError::bad_port;

  // Every parameter must be transport; find_param alone would let a typo
  // such as ";transprot=tcp" silently mean TLS.
  std::string_view params = uri.params;
  int transports = 0;
  while (!params.empty()) {
    const auto semi = params.find(';');
    const auto one = params.substr(0, semi);
    const auto name = one.substr(0, one.find('='));
    if (!iequals(name, "transport") || ++transports > 1) return UpstreamUriError::bad_parameter;
    params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
  }
  const bool sips = uri.scheme == sip::UriScheme::sips;
  bool tls = true;
  if (const auto transport = sip::find_param(uri.params, "transport")) {
    if (iequals(*transport, "tcp")) {
      tls = sips;  // RFC 3261 §26.2.2: the transport of a SIPS URI runs under TLS
    } else if (!iequals(*transport, "tls")) {
      return UpstreamUriError::bad_transport;
    }
  }

  out.uri = std::string(text);
  std::string_view host = uri.host;
  if (uri.host_kind == sip::HostKind::ipv6 && host.size() >= 2 && host.front() == '[') {
    host = host.substr(1, host.size() - 2);
  }
  out.host = std::string(host);
  out.tls = tls;
  out.port = uri.has_port ? uri.port : (tls ? kDefaultTlsPort : kDefaultTcpPort);
  out.server_name = out.host;
  return UpstreamUriError::ok;
}

bool same_ip(const sockaddr_storage& a, const sockaddr_storage& b) {
  if (a.ss_family != b.ss_family) return false;
  if (a.ss_family == AF_INET) {
    return reinterpret_cast<const sockaddr_in&>(a).sin_addr.s_addr ==
           reinterpret_cast<const sockaddr_in&>(b).sin_addr.s_addr;
  }
  return std::memcmp(&reinterpret_cast<const sockaddr_in6&>(a).sin6_addr,
                     &reinterpret_cast<const sockaddr_in6&>(b).sin6_addr, sizeof(in6_addr)) == 0;
}

}  // namespace sigrelay::control
