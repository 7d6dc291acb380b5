// Where sigrelay listens, and the upstream service it relays to, as the
// config loader hands them to the rest of the daemon.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace sigrelay::control {

// A local socket address to bind: "192.0.2.10:5060" or "[2001:db8::10]:5060".
// Numeric addresses only: a listener must never wait on DNS at start-up.
struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string text;  // canonical form, e.g. "[2001:db8::10]:5060"

  bool is_wildcard() const;  // 0.0.0.0 or ::
  std::uint16_t port() const;
  int family() const { return addr.ss_family; }
};

// Stable codes: the config loader reports them by name.
enum class EndpointError : std::uint8_t {
  ok = 0,
  empty,
  missing_port,    // no ":port"
  bad_port,        // not 1..65535
  bad_address,     // not a numeric IPv4 address, or not a bracketed IPv6 one
  needs_brackets,  // IPv6 written without [ ]: "::1:5060" is ambiguous
};

std::string_view to_string(EndpointError e);

// Same family and the same IP address (ports are not compared).
bool same_ip(const sockaddr_storage& a, const sockaddr_storage& b);
EndpointError parse_endpoint(std::string_view text, Endpoint& out);

// One upstream service entry (`upstream.uri`), in failover order.
struct UpstreamTarget {
  std::string uri;          // as written
  std::string host;         // hostname or IP literal, IPv6 without brackets
  std::uint16_t port = 0;   // explicit, or 5061 (TLS) / 5060 (TCP)
  bool tls = true;          // false only for sip:...;transport=tcp
  // Name the service's certificate is checked against (and sent as SNI when
  // it is a DNS name; RFC 6066 §3 forbids IP literals in SNI). `host` unless
  // `upstream.server_name` overrides it.
  std::string server_name;
};

enum class UpstreamUriError : std::uint8_t {
  ok = 0,
  syntax,         // not a URI sip/uri.hpp can parse
  scheme,         // not sip: or sips:
  user_part,      // "sip:user@host": the relay addresses a server, not a user
  no_host,
  bad_port,       // port 0
  bad_transport,  // transport other than tls or tcp (the relay never sends UDP upstream)
  bad_parameter,  // any URI parameter other than transport, or a header part
};

std::string_view to_string(UpstreamUriError e);

// sip:host[:port][;transport=tls|tcp] or sips:host[:port][;transport=tls|tcp].
// sips: always means TLS; "sips:...;transport=tcp" is TLS over TCP (RFC 3261
// §26.2.2, which also deprecates transport=tls but the service's own
// documentation writes it, so both are accepted). sip: without a transport
// means TLS too: RFC 3263 would pick UDP, which the relay never uses upstream,
// and its default is encrypted. server_name is set to host.
UpstreamUriError parse_upstream_uri(std::string_view text, UpstreamTarget& out);

}  // namespace sigrelay::control
