// Next hops from numeric addresses, written against RFC 3263 §4 (target,
// transport and port of a SIP/SIPS URI: maddr first, transport param, 5060
// and 5061 defaults, SIPS over TLS), RFC 3261 §18.2.2 (where a response
// goes: received, else sent-by; sent-by port, else the default), RFC 3581
// §4 (rport over UDP) and RFC 5118 §4.5 (IPv6 in received).
#include "sip/next_hop.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <ostream>
#include <string>
#include <string_view>

namespace sigrelay::sip {

static void PrintTo(HopError e, std::ostream* os) { *os << to_string(e); }
static void PrintTo(HopTransport t, std::ostream* os) { *os << to_string(t); }

namespace {

// "192.0.2.1:5060" or "[2001:db8::1]:5060", read back from the socket address.
std::string endpoint(const NextHop& h) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (h.addr.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&h.addr);
    if (h.addr_len != sizeof(sockaddr_in)) return "bad length";
    inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(sin->sin_port));
  }
  if (h.addr.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&h.addr);
    if (h.addr_len != sizeof(sockaddr_in6)) return "bad length";
    inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(ntohs(sin6->sin6_port));
  }
  return "no address";
}

struct Hop {
  HopError error = HopError::ok;
  NextHop hop;
};

Hop for_uri(std::string_view text) {
  Uri uri;
  Hop h;
  if (!parse_uri(text, uri)) {
    ADD_FAILURE() << "test URI does not parse: " << text;
    h.error = HopError::bad_host;
    return h;
  }
  h.error = next_hop_for_uri(uri, h.hop);
  return h;
}

Hop for_via(std::string_view value) {
  ViaList list(value);
  Via via;
  Hop h;
  if (!list.next(via)) {
    ADD_FAILURE() << "test Via does not parse: " << value;
    h.error = HopError::bad_host;
    return h;
  }
  h.error = response_destination(via, h.hop);
  return h;
}

sockaddr_storage v4(const char* ip, std::uint16_t port) {
  sockaddr_storage s{};
  auto* sin = reinterpret_cast<sockaddr_in*>(&s);
  sin->sin_family = AF_INET;
  sin->sin_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET, ip, &sin->sin_addr), 1) << ip;
  return s;
}

sockaddr_storage v6(const char* ip, std::uint16_t port) {
  sockaddr_storage s{};
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&s);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  EXPECT_EQ(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1) << ip;
  return s;
}

// ---- requests: RFC 3263 §4 without DNS

TEST(NextHopForUri, SipIpv4DefaultsToUdp5060) {
  const auto h = for_uri("sip:alice@192.0.2.1");
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(endpoint(h.hop), "192.0.2.1:5060");
  EXPECT_EQ(h.hop.transport, HopTransport::udp);
}

TEST(NextHopForUri, ExplicitPortWins) {
  const auto h = for_uri("sip:alice@192.0.2.1:5080;user=phone");
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(endpoint(h.hop), "192.0.2.1:5080");
  EXPECT_EQ(for_uri("sips:alice@192.0.2.1:6000").hop.transport, HopTransport::tls);
  EXPECT_EQ(endpoint(for_uri("sips:alice@192.0.2.1:6000").hop), "192.0.2.1:6000");
}

TEST(NextHopForUri, SipsDefaultsToTls5061) {
  const auto h = for_uri("sips:bob@192.0.2.2");
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(endpoint(h.hop), "192.0.2.2:5061");
  EXPECT_EQ(h.hop.transport, HopTransport::tls);
}

TEST(NextHopForUri, TransportParam) {
  auto h = for_uri("sip:192.0.2.3;transport=tcp");
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(h.hop.transport, HopTransport::tcp);
  EXPECT_EQ(endpoint(h.hop), "192.0.2.3:5060");

  h = for_uri("sip:192.0.2.3;transport=tls");  // TLS's default port is 5061
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(h.hop.transport, HopTransport::tls);
  EXPECT_EQ(endpoint(h.hop), "192.0.2.3:5061");

  h = for_uri("sip:192.0.2.3;lr;Transport=UDP");  // names and values compare case-insensitively
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(h.hop.transport, HopTransport::udp);

  h = for_uri("sip:192.0.2.3:5090;transport=TCP");
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(h.hop.transport, HopTransport::tcp);
  EXPECT_EQ(endpoint(h.hop), "192.0.2.3:5090");
}

TEST(NextHopForUri, UnsupportedTransportsAreRefused) {
  EXPECT_EQ(for_uri("sip:192.0.2.3;transport=sctp").error, HopError::bad_transport);
  EXPECT_EQ(for_uri("sip:192.0.2.3;transport=ws").error, HopError::bad_transport);
  EXPECT_EQ(for_uri("sip:192.0.2.3;transport").error, HopError::bad_transport);
  // An empty value, which the URI grammar already refuses, in a hand-made Uri.
  Uri uri;
  ASSERT_TRUE(parse_uri("sip:192.0.2.3", uri));
  uri.params = "transport=";
  NextHop out;
  EXPECT_EQ(next_hop_for_uri(uri, out), HopError::bad_transport);
}

TEST(NextHopForUri, SipsAlwaysGoesOverTls) {
  // RFC 3263 §4.1: a SIPS URI with transport=tcp means TLS over TCP.
  auto h = for_uri("sips:192.0.2.4;transport=tcp");
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(h.hop.transport, HopTransport::tls);
  EXPECT_EQ(endpoint(h.hop), "192.0.2.4:5061");
  EXPECT_EQ(for_uri("sips:192.0.2.4;transport=tls").hop.transport, HopTransport::tls);
  EXPECT_EQ(for_uri("sips:192.0.2.4;transport=udp").error, HopError::bad_transport);
}

TEST(NextHopForUri, MaddrOverridesTheHost) {
  // RFC 3263 §4: with maddr, the target is maddr; port and transport still
  // come from the URI.
  auto h = for_uri("sip:alice@atlanta.example.com:5070;maddr=192.0.2.9;transport=tcp");
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(endpoint(h.hop), "192.0.2.9:5070");
  EXPECT_EQ(h.hop.transport, HopTransport::tcp);

  h = for_uri("sip:alice@192.0.2.1;maddr=[2001:db8::9]");
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(endpoint(h.hop), "[2001:db8::9]:5060");

  EXPECT_EQ(for_uri("sip:alice@192.0.2.1;maddr=gw.example.net").error, HopError::needs_dns);
  EXPECT_EQ(for_uri("sip:alice@192.0.2.1;maddr").error, HopError::bad_host);
}

TEST(NextHopForUri, Ipv6LiteralLosesItsBrackets) {
  auto h = for_uri("sip:carol@[2001:db8::10]:5070");
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(endpoint(h.hop), "[2001:db8::10]:5070");
  EXPECT_EQ(h.hop.addr_len, sizeof(sockaddr_in6));

  h = for_uri("sips:[2001:db8::10]");
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(endpoint(h.hop), "[2001:db8::10]:5061");

  h = for_uri("sip:[::ffff:192.0.2.1]");  // IPv4 tail (RFC 3261 §25.1 IPv6address)
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(h.hop.addr.ss_family, AF_INET6);
}

TEST(NextHopForUri, HostnameNeedsDns) {
  EXPECT_EQ(for_uri("sip:alice@atlanta.example.com").error, HopError::needs_dns);
  EXPECT_EQ(for_uri("sips:alice@biloxi.example.com:5061;transport=tcp").error, HopError::needs_dns);
  EXPECT_EQ(for_uri("sip:localhost").error, HopError::needs_dns);
}

TEST(NextHopForUri, OtherSchemesHaveNoHop) {
  EXPECT_EQ(for_uri("tel:+15551234567").error, HopError::bad_host);
  EXPECT_EQ(for_uri("mailto:ops@example.com").error, HopError::bad_host);
}

TEST(NextHopForUri, PortZeroIsRefused) {
  Uri uri;
  ASSERT_TRUE(parse_uri("sip:192.0.2.1", uri));
  uri.port = 0;
  uri.has_port = true;
  NextHop out;
  EXPECT_EQ(next_hop_for_uri(uri, out), HopError::bad_port);
}

TEST(NextHopForUri, OutIsUntouchedOnError) {
  NextHop out;
  out.addr = v4("198.51.100.1", 7000);
  out.addr_len = sizeof(sockaddr_in);
  out.transport = HopTransport::tcp;
  Uri uri;
  ASSERT_TRUE(parse_uri("sip:alice@atlanta.example.com;transport=tls", uri));
  EXPECT_EQ(next_hop_for_uri(uri, out), HopError::needs_dns);
  EXPECT_EQ(endpoint(out), "198.51.100.1:7000");
  EXPECT_EQ(out.transport, HopTransport::tcp);
}

TEST(NextHopForUri, LeftoverFieldsFromAReusedHopAreCleared) {
  NextHop out;
  out.addr = v6("2001:db8::1", 9999);
  out.addr_len = sizeof(sockaddr_in6);
  Uri uri;
  ASSERT_TRUE(parse_uri("sip:192.0.2.1", uri));
  ASSERT_EQ(next_hop_for_uri(uri, out), HopError::ok);
  EXPECT_EQ(endpoint(out), "192.0.2.1:5060");
  // The tail of the storage that sockaddr_in does not cover holds nothing of the old address.
  const auto* bytes = reinterpret_cast<const unsigned char*>(&out.addr);
  for (std::size_t i = sizeof(sockaddr_in); i < sizeof(sockaddr_in6); ++i) EXPECT_EQ(bytes[i], 0) << i;
}

// ---- responses: RFC 3261 §18.2.2, RFC 3581 §4

TEST(ResponseDestination, ReceivedWithRportValue) {
  // RFC 3581 §4: UDP, received and rport=N -> received:N.
  const auto h = for_via("SIP/2.0/UDP 10.1.1.1:4540;received=192.0.2.1;rport=9988;branch=z9hG4bKnashds7");
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(endpoint(h.hop), "192.0.2.1:9988");
  EXPECT_EQ(h.hop.transport, HopTransport::udp);
}

TEST(ResponseDestination, BareRportFallsBackToSentByPort) {
  const auto h = for_via("SIP/2.0/UDP 192.0.2.1:5070;rport;branch=z9hG4bK74bf9");
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(endpoint(h.hop), "192.0.2.1:5070");
}

TEST(ResponseDestination, ReceivedWithoutRportUsesSentByPortOrDefault) {
  auto h = for_via("SIP/2.0/UDP 10.1.1.1:5080;branch=z9hG4bK74bf9;received=192.0.2.7");
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(endpoint(h.hop), "192.0.2.7:5080");

  h = for_via("SIP/2.0/UDP 10.1.1.1;branch=z9hG4bK74bf9;received=192.0.2.7");
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(endpoint(h.hop), "192.0.2.7:5060");
}

TEST(ResponseDestination, NoReceivedUsesSentBy) {
  auto h = for_via("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK776asdhds");
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(endpoint(h.hop), "192.0.2.1:5060");

  h = for_via("SIP/2.0/UDP 192.0.2.1;rport=6000;branch=z9hG4bK776asdhds");
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(endpoint(h.hop), "192.0.2.1:6000");
}

TEST(ResponseDestination, HostnameSentByNeedsDnsUnlessReceivedIsThere) {
  // RFC 3261 §18.2.1 adds received whenever sent-by is a name.
  EXPECT_EQ(for_via("SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds").error, HopError::needs_dns);
  const auto h = for_via("SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;received=192.0.2.4");
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(endpoint(h.hop), "192.0.2.4:5060");
}

TEST(ResponseDestination, ReliableTransportsIgnoreRportAndTakeTheirDefaultPort) {
  auto h = for_via("SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK1;received=192.0.2.8;rport=40000");
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(h.hop.transport, HopTransport::tcp);
  EXPECT_EQ(endpoint(h.hop), "192.0.2.8:5060");

  h = for_via("SIP/2.0/TLS 192.0.2.1;branch=z9hG4bK1");
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(h.hop.transport, HopTransport::tls);
  EXPECT_EQ(endpoint(h.hop), "192.0.2.1:5061");

  h = for_via("SIP/2.0/TLS 192.0.2.1:5071;branch=z9hG4bK1");
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(endpoint(h.hop), "192.0.2.1:5071");
}

TEST(ResponseDestination, TransportIsCaseInsensitiveAndLimited) {
  EXPECT_EQ(for_via("sip/2.0/udp 192.0.2.1;branch=z9hG4bK1").hop.transport, HopTransport::udp);
  EXPECT_EQ(for_via("SIP/2.0/tcp 192.0.2.1;branch=z9hG4bK1").hop.transport, HopTransport::tcp);
  EXPECT_EQ(for_via("SIP/2.0/SCTP 192.0.2.1;branch=z9hG4bK1").error, HopError::bad_transport);
  EXPECT_EQ(for_via("SIP/2.0/WSS 192.0.2.1;branch=z9hG4bK1").error, HopError::bad_transport);
}

TEST(ResponseDestination, MaddrIsIgnored) {
  const auto h = for_via("SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bK1;maddr=239.255.255.1;ttl=16");
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(endpoint(h.hop), "192.0.2.1:5062");
}

TEST(ResponseDestination, Ipv6SentByAndReceived) {
  // RFC 5118 §4.5: received holds an IPv6 address, with or without brackets.
  auto h = for_via("SIP/2.0/UDP [2001:db8::9:1]:5070;branch=z9hG4bKas3-111");
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(endpoint(h.hop), "[2001:db8::9:1]:5070");

  h = for_via("SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;rport=1234;branch=z9hG4bKas3-111");
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(endpoint(h.hop), "[2001:db8::9:255]:1234");

  h = for_via("SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111");
  ASSERT_EQ(h.error, HopError::ok);
  EXPECT_EQ(endpoint(h.hop), "[2001:db8::9:255]:5060");
}

TEST(ResponseDestination, BadValues) {
  EXPECT_EQ(for_via("SIP/2.0/UDP 192.0.2.1;rport=0;branch=z9hG4bK1").error, HopError::bad_port);
  EXPECT_EQ(for_via("SIP/2.0/UDP 192.0.2.1;rport=70000;branch=z9hG4bK1").error, HopError::bad_port);
  EXPECT_EQ(for_via("SIP/2.0/UDP 192.0.2.1;rport=abc;branch=z9hG4bK1").error, HopError::bad_port);
  EXPECT_EQ(for_via("SIP/2.0/UDP 192.0.2.1:0;branch=z9hG4bK1").error, HopError::bad_port);
  EXPECT_EQ(for_via("SIP/2.0/UDP 192.0.2.1;received=not_an_ip;branch=z9hG4bK1").error, HopError::bad_host);
  EXPECT_EQ(for_via("SIP/2.0/UDP 192.0.2.1;received=[2001:db8::1;branch=z9hG4bK1").error, HopError::bad_host);
  EXPECT_EQ(for_via("SIP/2.0/UDP 192.0.2.1;received=300.1.1.1;branch=z9hG4bK1").error, HopError::bad_host);
}

TEST(ResponseDestination, EmptyViaIsBadHost) {
  Via via;  // nothing parsed
  via.transport = "UDP";
  NextHop out;
  EXPECT_EQ(response_destination(via, out), HopError::bad_host);
}

// ---- same_endpoint

TEST(SameEndpoint, AddressAndPortMustBothMatch) {
  EXPECT_TRUE(same_endpoint(v4("192.0.2.1", 5060), v4("192.0.2.1", 5060)));
  EXPECT_FALSE(same_endpoint(v4("192.0.2.1", 5060), v4("192.0.2.1", 5061)));
  EXPECT_FALSE(same_endpoint(v4("192.0.2.1", 5060), v4("192.0.2.2", 5060)));
  EXPECT_TRUE(same_endpoint(v6("2001:db8::1", 5060), v6("2001:db8::1", 5060)));
  EXPECT_FALSE(same_endpoint(v6("2001:db8::1", 5060), v6("2001:db8::1", 5062)));
  EXPECT_FALSE(same_endpoint(v6("2001:db8::1", 5060), v6("2001:db8::2", 5060)));
}

TEST(SameEndpoint, MappedIpv4EqualsIpv4) {
  EXPECT_TRUE(same_endpoint(v6("::ffff:192.0.2.1", 5060), v4("192.0.2.1", 5060)));
  EXPECT_TRUE(same_endpoint(v4("192.0.2.1", 5060), v6("::ffff:192.0.2.1", 5060)));
  EXPECT_FALSE(same_endpoint(v6("::ffff:192.0.2.1", 5060), v4("192.0.2.1", 5070)));
  EXPECT_FALSE(same_endpoint(v6("::ffff:192.0.2.2", 5060), v4("192.0.2.1", 5060)));
  // Not mapped: a plain IPv6 address never equals an IPv4 one.
  EXPECT_FALSE(same_endpoint(v6("::c000:201", 5060), v4("192.0.2.1", 5060)));
}

TEST(SameEndpoint, UnknownFamiliesNeverMatch) {
  sockaddr_storage none{};
  EXPECT_FALSE(same_endpoint(none, none));
  EXPECT_FALSE(same_endpoint(none, v4("0.0.0.0", 0)));
}

TEST(SameEndpoint, AResolvedContactPointingBackAtUs) {
  Uri uri;
  ASSERT_TRUE(parse_uri("sip:+15551234567@192.0.2.50:5060;user=phone", uri));
  NextHop hop;
  ASSERT_EQ(next_hop_for_uri(uri, hop), HopError::ok);
  EXPECT_TRUE(same_endpoint(hop.addr, v4("192.0.2.50", 5060)));
  EXPECT_FALSE(same_endpoint(hop.addr, v4("192.0.2.50", 5080)));
}

TEST(HopErrorNames, AreStable) {
  EXPECT_EQ(to_string(HopError::ok), "ok");
  EXPECT_EQ(to_string(HopError::needs_dns), "needs_dns");
  EXPECT_EQ(to_string(HopError::bad_host), "bad_host");
  EXPECT_EQ(to_string(HopError::bad_transport), "bad_transport");
  EXPECT_EQ(to_string(HopError::bad_port), "bad_port");
  EXPECT_EQ(static_cast<int>(HopError::ok), 0);
}

}  // namespace
}  // namespace sigrelay::sip
