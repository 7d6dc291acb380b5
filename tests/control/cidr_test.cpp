// Prefixes and the source whitelist. Addresses are from the documentation
// ranges (RFC 5737: 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24;
// RFC 3849: 2001:db8::/32); IPv4-mapped IPv6 is RFC 4291 §2.5.5.2.
#include "control/cidr.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/un.h>

#include <cstring>
#include <string>

namespace sigrelay::control {
namespace {

in_addr v4(const char* text) {
  in_addr a{};
  EXPECT_EQ(inet_pton(AF_INET, text, &a), 1) << text;
  return a;
}

in6_addr v6(const char* text) {
  in6_addr a{};
  EXPECT_EQ(inet_pton(AF_INET6, text, &a), 1) << text;
  return a;
}

sockaddr_storage sock4(const char* text) {
  sockaddr_storage ss{};
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(5060);
  sin.sin_addr = v4(text);
  std::memcpy(&ss, &sin, sizeof sin);
  return ss;
}

sockaddr_storage sock6(const char* text) {
  sockaddr_storage ss{};
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(5060);
  sin6.sin6_addr = v6(text);
  std::memcpy(&ss, &sin6, sizeof sin6);
  return ss;
}

Cidr cidr(const char* text) {
  Cidr c;
  EXPECT_EQ(Cidr::parse(text, c), CidrError::ok) << text;
  return c;
}

CidrError parse_error(const char* text) {
  Cidr c;
  return Cidr::parse(text, c);
}

TEST(CidrParse, Ipv4WithPrefix) {
  const Cidr c = cidr("198.51.100.0/24");
  EXPECT_EQ(c.family, Cidr::Family::v4);
  EXPECT_EQ(c.prefix_len, 24);
  EXPECT_EQ(c.to_string(), "198.51.100.0/24");
}

TEST(CidrParse, BareAddressesAreHostPrefixes) {
  EXPECT_EQ(cidr("192.0.2.1").prefix_len, 32);
  EXPECT_EQ(cidr("192.0.2.1").to_string(), "192.0.2.1/32");
  EXPECT_EQ(cidr("2001:db8::1").prefix_len, 128);
  EXPECT_EQ(cidr("2001:db8::1").to_string(), "2001:db8::1/128");
}

TEST(CidrParse, Ipv6IsCanonicalised) {
  const Cidr c = cidr("2001:0DB8:0000::/32");
  EXPECT_EQ(c.family, Cidr::Family::v6);
  EXPECT_EQ(c.to_string(), "2001:db8::/32");
}

TEST(CidrParse, ZeroLengthPrefixes) {
  EXPECT_EQ(cidr("0.0.0.0/0").to_string(), "0.0.0.0/0");
  EXPECT_EQ(cidr("::/0").to_string(), "::/0");
}

TEST(CidrParse, HostBitsSetIsRefusedAndMaskedSuggests) {
  Cidr c;
  EXPECT_EQ(Cidr::parse("198.51.100.7/24", c), CidrError::host_bits_set);
  EXPECT_EQ(c.masked().to_string(), "198.51.100.0/24");
  EXPECT_EQ(Cidr::parse("2001:db8::1/32", c), CidrError::host_bits_set);
  EXPECT_EQ(c.masked().to_string(), "2001:db8::/32");
  EXPECT_EQ(parse_error("0.0.0.1/0"), CidrError::host_bits_set);
  EXPECT_EQ(parse_error("::1/0"), CidrError::host_bits_set);
  // The last host bit of an IPv6 /127 and of the low half of a /65.
  EXPECT_EQ(parse_error("2001:db8::1/127"), CidrError::host_bits_set);
  EXPECT_EQ(parse_error("2001:db8::4000:0:0:0/65"), CidrError::host_bits_set);
  EXPECT_EQ(parse_error("2001:db8::8000:0:0:0/65"), CidrError::ok);
}

TEST(CidrParse, Errors) {
  EXPECT_EQ(parse_error(""), CidrError::empty);
  EXPECT_EQ(parse_error("/24"), CidrError::bad_address);
  EXPECT_EQ(parse_error("198.51.100.0/"), CidrError::bad_prefix);
  EXPECT_EQ(parse_error("198.51.100.0/2a"), CidrError::bad_prefix);
  EXPECT_EQ(parse_error("198.51.100.0/-1"), CidrError::bad_prefix);
  EXPECT_EQ(parse_error("198.51.100.0/+24"), CidrError::bad_prefix);
  EXPECT_EQ(parse_error("198.51.100.0/0024"), CidrError::bad_prefix);
  EXPECT_EQ(parse_error("198.51.100.0/33"), CidrError::prefix_too_long);
  EXPECT_EQ(parse_error("2001:db8::/129"), CidrError::prefix_too_long);
  EXPECT_EQ(parse_error("example.com/24"), CidrError::bad_address);
  EXPECT_EQ(parse_error("198.51.100/24"), CidrError::bad_address);
  EXPECT_EQ(parse_error("198.51.100.0.0/24"), CidrError::bad_address);
  EXPECT_EQ(parse_error("256.0.0.0/8"), CidrError::bad_address);
  EXPECT_EQ(parse_error(" 198.51.100.0/24"), CidrError::bad_address);
  EXPECT_EQ(parse_error("fe80::1%eth0"), CidrError::bad_address);
  EXPECT_EQ(parse_error("[2001:db8::]/32"), CidrError::bad_address);
  EXPECT_EQ(parse_error("2001:db8:::/32"), CidrError::bad_address);
}

TEST(CidrContains, Ipv4Boundaries) {
  const Cidr c = cidr("198.51.100.0/25");
  EXPECT_TRUE(c.contains(v4("198.51.100.0")));
  EXPECT_TRUE(c.contains(v4("198.51.100.127")));
  EXPECT_FALSE(c.contains(v4("198.51.100.128")));
  EXPECT_FALSE(c.contains(v4("198.51.101.1")));
  EXPECT_FALSE(c.contains(v6("2001:db8::1")));

  const Cidr host = cidr("192.0.2.1/32");
  EXPECT_TRUE(host.contains(v4("192.0.2.1")));
  EXPECT_FALSE(host.contains(v4("192.0.2.2")));
  EXPECT_FALSE(host.contains(v4("192.0.2.0")));

  const Cidr all = cidr("0.0.0.0/0");
  EXPECT_TRUE(all.contains(v4("0.0.0.0")));
  EXPECT_TRUE(all.contains(v4("255.255.255.255")));
  EXPECT_FALSE(all.contains(v6("2001:db8::1")));
}

TEST(CidrContains, Ipv6Boundaries) {
  const Cidr c = cidr("2001:db8::/65");
  EXPECT_TRUE(c.contains(v6("2001:db8::")));
  EXPECT_TRUE(c.contains(v6("2001:db8::7fff:ffff:ffff:ffff")));
  EXPECT_FALSE(c.contains(v6("2001:db8::8000:0:0:0")));
  EXPECT_FALSE(c.contains(v6("2001:db8:0:1::")));
  EXPECT_FALSE(c.contains(v4("192.0.2.1")));

  const Cidr host = cidr("2001:db8::1/128");
  EXPECT_TRUE(host.contains(v6("2001:db8::1")));
  EXPECT_FALSE(host.contains(v6("2001:db8::")));
  EXPECT_FALSE(host.contains(v6("2001:db8::3")));

  const Cidr wide = cidr("2001:db8::/32");
  EXPECT_TRUE(wide.contains(v6("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
  EXPECT_FALSE(wide.contains(v6("2001:db9::")));

  const Cidr all = cidr("::/0");
  EXPECT_TRUE(all.contains(v6("::")));
  EXPECT_TRUE(all.contains(v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
}

// Every prefix length against a bit-by-bit reference: an address is in the
// prefix exactly when its first `len` bits equal the network's.
TEST(CidrContains, EveryIpv4PrefixLengthMatchesLeadingBits) {
  const std::uint32_t net = 0xCB00714DU;  // 203.0.113.77
  for (unsigned len = 0; len <= 32; ++len) {
    std::uint32_t network = net;
    for (unsigned bit = len; bit < 32; ++bit) network &= ~(1U << (31 - bit));
    in_addr n{};
    n.s_addr = htonl(network);
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &n, text, sizeof text);
    const Cidr c = cidr((std::string(text) + "/" + std::to_string(len)).c_str());
    for (unsigned flip = 0; flip < 32; ++flip) {
      in_addr probe{};
      probe.s_addr = htonl(network ^ (1U << (31 - flip)));
      EXPECT_EQ(c.contains(probe), flip >= len) << "len " << len << " flip " << flip;
    }
  }
}

TEST(CidrContains, EveryIpv6PrefixLengthMatchesLeadingBits) {
  const in6_addr base = v6("2001:db8:1234:5678:9abc:def0:1357:9bdf");
  for (unsigned len = 0; len <= 128; ++len) {
    in6_addr network = base;
    for (unsigned bit = len; bit < 128; ++bit) {
      network.s6_addr[bit / 8] = static_cast<std::uint8_t>(network.s6_addr[bit / 8] & ~(0x80U >> (bit % 8)));
    }
    char text[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &network, text, sizeof text);
    const Cidr c = cidr((std::string(text) + "/" + std::to_string(len)).c_str());
    for (unsigned flip = 0; flip < 128; ++flip) {
      in6_addr probe = network;
      probe.s6_addr[flip / 8] = static_cast<std::uint8_t>(probe.s6_addr[flip / 8] ^ (0x80U >> (flip % 8)));
      // Flipping bits into ::ffff:0:0/96 cannot happen from this base.
      EXPECT_EQ(c.contains(probe), flip >= len) << "len " << len << " flip " << flip;
    }
  }
}

TEST(CidrMapped, MappedSourceMatchesIpv4Entry) {
  const Cidr c = cidr("198.51.100.0/24");
  EXPECT_TRUE(c.contains(v6("::ffff:198.51.100.9")));
  EXPECT_FALSE(c.contains(v6("::ffff:198.51.101.9")));
  // IPv4-compatible (deprecated, RFC 4291 §2.5.5.1) is not mapped.
  EXPECT_FALSE(c.contains(v6("::198.51.100.9")));
}

TEST(CidrMapped, Ipv6EntriesDoNotMatchMappedSources) {
  EXPECT_FALSE(cidr("::/0").contains(v6("::ffff:198.51.100.9")));
  EXPECT_TRUE(cidr("::/0").contains(v6("::198.51.100.9")));
}

TEST(CidrMapped, MappedEntryBecomesIpv4) {
  const Cidr c = cidr("::ffff:198.51.100.0/120");
  EXPECT_EQ(c.family, Cidr::Family::v4);
  EXPECT_EQ(c.to_string(), "198.51.100.0/24");
  EXPECT_TRUE(c.contains(v4("198.51.100.200")));
  EXPECT_TRUE(c.contains(v6("::ffff:198.51.100.200")));
  EXPECT_EQ(cidr("::ffff:192.0.2.1").to_string(), "192.0.2.1/32");
  EXPECT_EQ(parse_error("::ffff:198.51.100.7/120"), CidrError::host_bits_set);
}

TEST(CidrContains, SockaddrFamilies) {
  const Cidr c4 = cidr("192.0.2.0/24");
  const Cidr c6 = cidr("2001:db8::/32");
  EXPECT_TRUE(c4.contains(sock4("192.0.2.55")));
  EXPECT_TRUE(c4.contains(sock6("::ffff:192.0.2.55")));
  EXPECT_FALSE(c6.contains(sock4("192.0.2.55")));
  EXPECT_TRUE(c6.contains(sock6("2001:db8::55")));
  sockaddr_storage unix_ss{};
  unix_ss.ss_family = AF_UNIX;
  EXPECT_FALSE(c4.contains(unix_ss));
  EXPECT_FALSE(cidr("0.0.0.0/0").contains(unix_ss));
}

TEST(AddressAcl, EmptyAllowsNobody) {
  const AddressAcl acl;
  EXPECT_TRUE(acl.empty());
  EXPECT_FALSE(acl.allows(sock4("192.0.2.1")));
  EXPECT_FALSE(acl.allows(sock6("2001:db8::1")));
}

TEST(AddressAcl, MixedEntries) {
  const Cidr entries[] = {cidr("192.0.2.0/24"), cidr("203.0.113.7"), cidr("2001:db8:5::/48")};
  const AddressAcl acl(entries);
  EXPECT_EQ(acl.size(), 3U);
  EXPECT_TRUE(acl.allows(sock4("192.0.2.200")));
  EXPECT_TRUE(acl.allows(sock4("203.0.113.7")));
  EXPECT_FALSE(acl.allows(sock4("203.0.113.8")));
  EXPECT_FALSE(acl.allows(sock4("198.51.100.1")));
  EXPECT_TRUE(acl.allows(sock6("2001:db8:5:ffff::1")));
  EXPECT_FALSE(acl.allows(sock6("2001:db8:6::1")));
  // The same switches seen through a dual-stack socket.
  EXPECT_TRUE(acl.allows(sock6("::ffff:192.0.2.200")));
  EXPECT_TRUE(acl.allows(sock6("::ffff:203.0.113.7")));
  EXPECT_FALSE(acl.allows(sock6("::ffff:203.0.113.8")));
  sockaddr_storage unix_ss{};
  unix_ss.ss_family = AF_UNIX;
  EXPECT_FALSE(acl.allows(unix_ss));
}

TEST(AddressAcl, WholeInternetEntriesStayInTheirFamily) {
  const Cidr v4_all[] = {cidr("0.0.0.0/0")};
  const AddressAcl only4(v4_all);
  EXPECT_TRUE(only4.allows(sock4("203.0.113.1")));
  EXPECT_TRUE(only4.allows(sock6("::ffff:203.0.113.1")));
  EXPECT_FALSE(only4.allows(sock6("2001:db8::1")));

  const Cidr v6_all[] = {cidr("::/0")};
  const AddressAcl only6(v6_all);
  EXPECT_TRUE(only6.allows(sock6("2001:db8::1")));
  EXPECT_FALSE(only6.allows(sock4("203.0.113.1")));
  EXPECT_FALSE(only6.allows(sock6("::ffff:203.0.113.1")));
}

TEST(CidrErrors, EveryCodeHasText) {
  for (auto e : {CidrError::ok, CidrError::empty, CidrError::bad_address, CidrError::bad_prefix,
                 CidrError::prefix_too_long, CidrError::host_bits_set}) {
    EXPECT_FALSE(to_string(e).empty());
    EXPECT_NE(to_string(e), "unknown");
  }
}

}  // namespace
}  // namespace sigrelay::control
