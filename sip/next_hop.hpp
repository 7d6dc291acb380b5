// Where to send a request (a Contact or Request-URI) or a response (the top
// Via), from numeric addresses only. RFC 3263 without its DNS steps: the
// data path never resolves names, so a hostname is reported as needs_dns
// and the caller decides (skip the target, or hand it to the control plane).
// Pure: no allocation, no I/O.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string_view>

#include "sip/header_values.hpp"
#include "sip/uri.hpp"

namespace sigrelay::sip {

enum class HopTransport : std::uint8_t { udp, tcp, tls };

// Stable values: counters and logs key on them.
enum class HopError : std::uint8_t {
  ok = 0,
  needs_dns,      // the host is a name, not an IP literal
  bad_host,       // no host, or not a valid IPv4 / IPv6 literal or hostname
  bad_transport,  // a transport other than UDP, TCP, TLS, or one the scheme forbids
  bad_port,       // port 0, or an rport value that is no port
};

struct NextHop {
  sockaddr_storage addr{};  // sockaddr_in or sockaddr_in6, port set
  socklen_t addr_len = 0;
  HopTransport transport = HopTransport::udp;
};

std::string_view to_string(HopError e);
std::string_view to_string(HopTransport t);

// Next hop for a sip: or sips: URI (RFC 3263 §4 for a numeric target).
// Host: the maddr param when present, else the URI host; an IPv4 literal or
// an IPv6 literal (brackets optional in maddr). Transport: the transport
// param (udp, tcp, tls, any case), else UDP for sip: and TLS for sips:. A
// sips: URI always goes over TLS: transport=tcp means TLS over TCP
// (RFC 3263 §4.1) and transport=udp is bad_transport. Port: the URI's, else
// 5061 for TLS and 5060 otherwise. Other schemes (tel:, ...) are bad_host.
// On error `out` is left unchanged.
HopError next_hop_for_uri(const Uri& uri, NextHop& out);

// Where a response to a request that arrived with this top Via goes when it
// cannot use the connection the request came on (RFC 3261 §18.2.2, RFC 3581).
// Host: received when present (an IP literal, brackets optional, RFC 5118
// §4.5), else the sent-by host. UDP port: rport's value when it has one, else
// the sent-by port, else 5060; TCP and TLS ignore rport (RFC 3581 §4 applies
// to unreliable transports) and default to 5060 and 5061. maddr is ignored:
// sending to a multicast group is not something the relay does, so responses
// always go unicast. Transport: the Via's UDP, TCP or TLS (any case); others
// are bad_transport. On error `out` is left unchanged.
HopError response_destination(const Via& via, NextHop& out);

// Same IP address and port. An IPv4-mapped IPv6 address (::ffff:a.b.c.d, as
// a dual-stack socket reports an IPv4 peer) equals the IPv4 address. IPv6
// scope ids are not compared: SIP URIs cannot carry one. Unknown families
// never match.
bool same_endpoint(const sockaddr_storage& a, const sockaddr_storage& b);

}  // namespace sigrelay::sip
