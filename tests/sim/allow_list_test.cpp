#include "sim/allow_list.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>

namespace sigrelay::sim {
namespace {

sockaddr_storage v4(const char* text) {
  sockaddr_storage ss{};
  auto* a = reinterpret_cast<sockaddr_in*>(&ss);
  a->sin_family = AF_INET;
  EXPECT_EQ(inet_pton(AF_INET, text, &a->sin_addr), 1);
  return ss;
}

sockaddr_storage v6(const char* text) {
  sockaddr_storage ss{};
  auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
  a->sin6_family = AF_INET6;
  EXPECT_EQ(inet_pton(AF_INET6, text, &a->sin6_addr), 1);
  return ss;
}

bool allows(const AllowList& l, const sockaddr_storage& ss) {
  return l.allows(reinterpret_cast<const sockaddr*>(&ss));
}

AllowList list(std::initializer_list<const char*> blocks) {
  AllowList l;
  for (const char* b : blocks) {
    const auto c = parse_cidr(b);
    EXPECT_TRUE(c.has_value()) << b;
    if (c) l.add(*c);
  }
  return l;
}

TEST(AllowList, ParsesCidrAndSingleAddresses) {
  auto c = parse_cidr("10.0.0.0/8");
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->v6);
  EXPECT_EQ(c->prefix_len, 8u);
  c = parse_cidr("192.0.2.7");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->prefix_len, 32u);
  c = parse_cidr("2001:db8::/32");
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->v6);
  EXPECT_EQ(c->prefix_len, 32u);
  EXPECT_TRUE(parse_cidr("0.0.0.0/0").has_value());
  EXPECT_TRUE(parse_cidr("::/0").has_value());
  EXPECT_TRUE(parse_cidr("172.16.0.0/12").has_value());
}

TEST(AllowList, RejectsMalformedBlocks) {
  EXPECT_FALSE(parse_cidr("10.0.0.1/8").has_value());   // host bits set: a typo, most likely
  EXPECT_FALSE(parse_cidr("172.17.0.0/12").has_value());
  EXPECT_FALSE(parse_cidr("10.0.0.0/33").has_value());
  EXPECT_FALSE(parse_cidr("2001:db8::/129").has_value());
  EXPECT_FALSE(parse_cidr("10.0.0.0/").has_value());
  EXPECT_FALSE(parse_cidr("10.0.0.0/8x").has_value());
  EXPECT_FALSE(parse_cidr("relay.example.com").has_value());
  EXPECT_FALSE(parse_cidr("").has_value());
}

TEST(AllowList, MatchesByPrefix) {
  const AllowList l = list({"10.0.0.0/8", "192.0.2.128/25", "2001:db8:1::/48"});
  EXPECT_TRUE(allows(l, v4("10.255.1.2")));
  EXPECT_FALSE(allows(l, v4("11.0.0.1")));
  EXPECT_TRUE(allows(l, v4("192.0.2.128")));
  EXPECT_TRUE(allows(l, v4("192.0.2.255")));
  EXPECT_FALSE(allows(l, v4("192.0.2.127")));
  EXPECT_TRUE(allows(l, v6("2001:db8:1:ffff::1")));
  EXPECT_FALSE(allows(l, v6("2001:db8:2::1")));
  EXPECT_FALSE(allows(l, v4("127.0.0.1")));
}

TEST(AllowList, V4MappedPeersMatchV4Blocks) {
  const AllowList l = list({"192.0.2.0/24"});
  EXPECT_TRUE(allows(l, v6("::ffff:192.0.2.10")));
  EXPECT_FALSE(allows(l, v6("::ffff:198.51.100.10")));
  // An IPv6 block never matches an IPv4 peer with the same leading bytes.
  const AllowList six = list({"c000:200::/24"});
  EXPECT_FALSE(allows(six, v4("192.0.2.10")));
}

TEST(AllowList, EmptyListServesEveryone) {
  const AllowList l;
  EXPECT_TRUE(allows(l, v4("203.0.113.9")));
  EXPECT_TRUE(allows(l, v6("2001:db8::9")));
}

}  // namespace
}  // namespace sigrelay::sim
