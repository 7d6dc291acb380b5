// Test support for dataplane/net: EAL set up once per binary, hand-built
// frames with their own checksum code (independent of the code under test),
// and mbufs sized exactly to a frame so ASan sees any read past its end.
#pragma once

#include <gtest/gtest.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/net/net_stack.hpp"

namespace sigrelay::dataplane::net::test {

using Bytes = std::vector<std::uint8_t>;
using Mac = std::array<std::uint8_t, 6>;
using Ip4 = std::array<std::uint8_t, 4>;
using Ip6 = std::array<std::uint8_t, 16>;

// Empty when the EAL is up; otherwise why not (tests then skip).
const std::string& eal_problem();
#define REQUIRE_EAL()                                                                  \
  do {                                                                                 \
    if (!::sigrelay::dataplane::net::test::eal_problem().empty())                      \
      GTEST_SKIP() << ::sigrelay::dataplane::net::test::eal_problem();                 \
  } while (0)

rte_mempool* test_pool();   // 2048-byte data room
rte_mempool* small_pool();  // 256-byte data room: forces chains

// RFC 1071, written plainly: the 16-bit one's complement of the one's
// complement sum of big-endian words. Returned in host order.
std::uint16_t inet_checksum(const Bytes& data);

inline constexpr Mac kOurMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
inline constexpr Mac kPeerMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
inline constexpr Mac kGatewayMac{0x02, 0x00, 0x00, 0x00, 0x00, 0xfe};
inline constexpr Mac kBroadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
inline constexpr Ip4 kOur4{192, 0, 2, 10};
inline constexpr Ip4 kPeer4{192, 0, 2, 20};
inline constexpr Ip4 kGateway4{192, 0, 2, 1};
inline constexpr Ip4 kFar4{198, 51, 100, 7};
Ip6 ip6(const char* text);
const Ip6& our6();   // 2001:db8::10 (one object: begin()/end() pair up)
const Ip6& peer6();  // 2001:db8::20

Bytes ether(const Mac& dst, const Mac& src, std::uint16_t type, std::uint16_t vlan = 0);
Bytes ipv4(const Ip4& src, const Ip4& dst, std::uint8_t proto, const Bytes& payload, std::uint16_t id = 1,
           std::uint16_t frag = 0, std::uint8_t ttl = 64);
Bytes ipv6(const Ip6& src, const Ip6& dst, std::uint8_t next, const Bytes& payload, std::uint8_t hop = 64);
Bytes udp4(const Ip4& src, const Ip4& dst, std::uint16_t sport, std::uint16_t dport, const Bytes& payload);
Bytes udp6(const Ip6& src, const Ip6& dst, std::uint16_t sport, std::uint16_t dport, const Bytes& payload);
// ICMPv6 message with its checksum filled in (body = everything after the checksum field).
Bytes icmp6(const Ip6& src, const Ip6& dst, std::uint8_t type, std::uint8_t code, const Bytes& body);
Bytes arp(std::uint16_t op, const Mac& sha, const Ip4& spa, const Mac& tha, const Ip4& tpa);
Bytes text(const std::string& s);
Bytes cat(Bytes a, const Bytes& b);
std::uint16_t be16(const Bytes& b, std::size_t at);
std::uint32_t be32(const Bytes& b, std::size_t at);

// One segment whose buffer is exactly the frame (external buffer, no tailroom
// or headroom beyond `headroom`).
rte_mbuf* exact_mbuf(const Bytes& frame, std::uint16_t headroom = 0);
// From the pool, split into segments of at most `seg` bytes (0 = one segment).
rte_mbuf* pool_mbuf(const Bytes& frame, std::size_t seg = 0);
Bytes bytes_of(const rte_mbuf* m);  // the whole chain
Bytes bytes_of(const rte_mbuf* m, std::uint32_t offset, std::uint32_t len);

NetConfig default_config();

// A NetStack on the test pool; checks at the end that every mbuf came back.
class NetStackTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  void make_stack(const NetConfig& cfg);
  RxVerdict feed(const Bytes& frame, std::int64_t now_ms = 0);
  std::vector<Bytes> drain_tx();  // takes and frees every queued frame, returns their bytes
  std::vector<rte_mbuf*> take_tx_mbufs();

  NetConfig cfg_;
  std::unique_ptr<NetStack> stack_;
  SipDatagram out_{};
  std::vector<rte_mbuf*> keep_;  // sip/to_kernel outputs, freed in TearDown
  unsigned pool_before_ = 0;
  unsigned small_before_ = 0;
};

}  // namespace sigrelay::dataplane::net::test
