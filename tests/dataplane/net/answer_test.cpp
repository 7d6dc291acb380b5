// What the stack answers itself: ARP requests (RFC 826), Neighbour
// Solicitations (RFC 4861 §7.2.4), echo requests (RFC 792, RFC 4443 §4.2);
// and what it learns from ARP and ND traffic.
#include <cstring>

#include "tests/dataplane/net/net_test_support.hpp"

namespace sigrelay::dataplane::net::test {
namespace {

using AnswerTest = NetStackTest;

IpAddress v4(const Ip4& a) { return IpAddress::from_v4(a.data()); }
IpAddress v6(const Ip6& a) { return IpAddress::from_v6(a.data()); }
Bytes mac_bytes(const Mac& m) { return Bytes(m.begin(), m.end()); }
Bytes slice(const Bytes& b, std::size_t at, std::size_t n) { return Bytes(b.begin() + at, b.begin() + at + n); }

Bytes arp_frame(std::uint16_t op, const Mac& eth_dst, const Mac& sha, const Ip4& spa, const Mac& tha, const Ip4& tpa) {
  Bytes f = cat(ether(eth_dst, sha, 0x0806), arp(op, sha, spa, tha, tpa));
  f.resize(60, 0);
  return f;
}

TEST_F(AnswerTest, ArpRequestForOurAddressGetsAReply) {
  ASSERT_EQ(feed(arp_frame(1, kBroadcast, kPeerMac, kPeer4, Mac{}, kOur4)), RxVerdict::consumed);
  auto tx = drain_tx();
  ASSERT_EQ(tx.size(), 1u);
  const Bytes& r = tx[0];
  EXPECT_EQ(slice(r, 0, 6), mac_bytes(kPeerMac));
  EXPECT_EQ(slice(r, 6, 6), mac_bytes(kOurMac));
  EXPECT_EQ(be16(r, 12), 0x0806);
  EXPECT_EQ(be16(r, 14), 1);       // Ethernet
  EXPECT_EQ(be16(r, 16), 0x0800);  // IPv4
  EXPECT_EQ(r[18], 6);
  EXPECT_EQ(r[19], 4);
  EXPECT_EQ(be16(r, 20), 2);  // reply
  EXPECT_EQ(slice(r, 22, 6), mac_bytes(kOurMac));
  EXPECT_EQ(slice(r, 28, 4), Bytes(kOur4.begin(), kOur4.end()));
  EXPECT_EQ(slice(r, 32, 6), mac_bytes(kPeerMac));
  EXPECT_EQ(slice(r, 38, 4), Bytes(kPeer4.begin(), kPeer4.end()));
  EXPECT_GE(r.size(), 60u);
  EXPECT_EQ(stack_->counters().arp_requests_answered, 1u);
  // RFC 826: the asker was addressing us, so it is learned.
  const NeighbourEntry* e = stack_->neighbours().find(v4(kPeer4));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(std::memcmp(&e->mac, kPeerMac.data(), 6), 0);
}

TEST_F(AnswerTest, ArpRequestForAnotherAddressIsNotAnswered) {
  const Ip4 other{192, 0, 2, 99};
  EXPECT_EQ(feed(arp_frame(1, kBroadcast, kPeerMac, kPeer4, Mac{}, other)), RxVerdict::to_kernel);
  EXPECT_TRUE(drain_tx().empty());
  EXPECT_EQ(stack_->neighbours().find(v4(kPeer4)), nullptr);  // not for us, unknown: not added
}

TEST_F(AnswerTest, GratuitousArpUpdatesOnlyKnownEntries) {
  const Mac moved{0x02, 0, 0, 0, 0, 0x33};
  // Unknown sender announcing itself: not added.
  EXPECT_EQ(feed(arp_frame(1, kBroadcast, moved, kPeer4, Mac{}, kPeer4)), RxVerdict::to_kernel);
  EXPECT_EQ(stack_->neighbours().find(v4(kPeer4)), nullptr);
  // Known sender (it asked us first), then moved to another MAC: updated.
  feed(arp_frame(1, kBroadcast, kPeerMac, kPeer4, Mac{}, kOur4));
  drain_tx();
  EXPECT_EQ(feed(arp_frame(1, kBroadcast, moved, kPeer4, Mac{}, kPeer4)), RxVerdict::to_kernel);
  const NeighbourEntry* e = stack_->neighbours().find(v4(kPeer4));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(std::memcmp(&e->mac, moved.data(), 6), 0);
}

TEST_F(AnswerTest, ArpReplyToUsIsLearnedAndPassedToTheKernel) {
  EXPECT_EQ(feed(arp_frame(2, kOurMac, kPeerMac, kPeer4, kOurMac, kOur4)), RxVerdict::to_kernel);
  EXPECT_NE(stack_->neighbours().find(v4(kPeer4)), nullptr);
  EXPECT_TRUE(drain_tx().empty());
}

TEST_F(AnswerTest, ArpClaimingOurAddressIsAConflict) {
  EXPECT_EQ(feed(arp_frame(1, kBroadcast, kPeerMac, kOur4, Mac{}, kOur4)), RxVerdict::to_kernel);
  EXPECT_EQ(stack_->counters().arp_address_conflicts, 1u);
  EXPECT_TRUE(drain_tx().empty());
}

TEST_F(AnswerTest, ArpProbeForOurAddressIsDefended) {
  EXPECT_EQ(feed(arp_frame(1, kBroadcast, kPeerMac, Ip4{0, 0, 0, 0}, Mac{}, kOur4)), RxVerdict::consumed);
  auto tx = drain_tx();
  ASSERT_EQ(tx.size(), 1u);
  EXPECT_EQ(be16(tx[0], 20), 2);
  EXPECT_EQ(slice(tx[0], 32, 6), mac_bytes(kPeerMac));
  EXPECT_EQ(stack_->neighbours().size(), 0u);  // nothing to learn from 0.0.0.0
}

TEST_F(AnswerTest, MalformedArpIsDropped) {
  Bytes f = arp_frame(1, kBroadcast, kPeerMac, kPeer4, Mac{}, kOur4);
  f[14 + 4] = 8;  // hardware address length 8
  EXPECT_EQ(feed(f), RxVerdict::consumed);
  Bytes g = arp_frame(3, kBroadcast, kPeerMac, kPeer4, Mac{}, kOur4);  // RARP opcode
  EXPECT_EQ(feed(g), RxVerdict::consumed);
  EXPECT_EQ(stack_->counters().arp_drop_malformed, 2u);
  EXPECT_TRUE(drain_tx().empty());
}

// An NS for `target` from `src` to `dst`, with a source link-layer option
// when `slla`.
Bytes ns_frame(const Ip6& src, const Ip6& dst, const Ip6& target, bool slla, std::uint8_t hop = 255) {
  Bytes body = {0, 0, 0, 0};
  body.insert(body.end(), target.begin(), target.end());
  if (slla) body = cat(body, cat(Bytes{1, 1}, mac_bytes(kPeerMac)));
  Mac eth_dst = {0x33, 0x33, dst[12], dst[13], dst[14], dst[15]};
  return cat(ether(eth_dst, kPeerMac, 0x86dd), ipv6(src, dst, 58, icmp6(src, dst, 135, 0, body), hop));
}

Ip6 solicited(const Ip6& a) {
  Ip6 s = ip6("ff02::1:ff00:0");
  s[13] = a[13];
  s[14] = a[14];
  s[15] = a[15];
  return s;
}

// Our own ICMPv6 checksum check over a received frame (no extension headers).
bool icmp6_checksum_ok(const Bytes& f, std::size_t l3) {
  const std::uint16_t len = be16(f, l3 + 4);
  Bytes pseudo(f.begin() + static_cast<std::ptrdiff_t>(l3 + 8), f.begin() + static_cast<std::ptrdiff_t>(l3 + 40));
  pseudo.insert(pseudo.end(), {0, 0, static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len), 0, 0, 0, 58});
  const Bytes msg(f.begin() + static_cast<std::ptrdiff_t>(l3 + 40), f.begin() + static_cast<std::ptrdiff_t>(l3 + 40 + len));
  return inet_checksum(cat(pseudo, msg)) == 0;
}

TEST_F(AnswerTest, NeighbourSolicitationGetsASolicitedAdvertisement) {
  ASSERT_EQ(feed(ns_frame(peer6(), solicited(our6()), our6(), true)), RxVerdict::consumed);
  auto tx = drain_tx();
  ASSERT_EQ(tx.size(), 1u);
  const Bytes& r = tx[0];
  EXPECT_EQ(slice(r, 0, 6), mac_bytes(kPeerMac));
  EXPECT_EQ(be16(r, 12), 0x86dd);
  EXPECT_EQ(r[14 + 6], 58);
  EXPECT_EQ(r[14 + 7], 255);  // hop limit
  EXPECT_EQ(slice(r, 14 + 8, 16), Bytes(our6().begin(), our6().end()));
  EXPECT_EQ(slice(r, 14 + 24, 16), Bytes(peer6().begin(), peer6().end()));
  const std::size_t icmp = 14 + 40;
  EXPECT_EQ(r[icmp], 136);
  EXPECT_EQ(r[icmp + 1], 0);
  EXPECT_EQ(r[icmp + 4] & 0xe0, 0x60);  // R=0, S=1, O=1
  EXPECT_EQ(slice(r, icmp + 8, 16), Bytes(our6().begin(), our6().end()));
  EXPECT_EQ(r[icmp + 24], 2);  // target link-layer address option
  EXPECT_EQ(r[icmp + 25], 1);
  EXPECT_EQ(slice(r, icmp + 26, 6), mac_bytes(kOurMac));
  EXPECT_TRUE(icmp6_checksum_ok(r, 14));
  EXPECT_EQ(stack_->counters().nd_solicitations_answered, 1u);
  const NeighbourEntry* e = stack_->neighbours().find(v6(peer6()));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->state, NeighbourState::stale);  // RFC 4861 §7.2.3
}

TEST_F(AnswerTest, DuplicateAddressDetectionProbeIsAnsweredToAllNodes) {
  ASSERT_EQ(feed(ns_frame(Ip6{}, solicited(our6()), our6(), false)), RxVerdict::consumed);
  auto tx = drain_tx();
  ASSERT_EQ(tx.size(), 1u);
  const Bytes& r = tx[0];
  EXPECT_EQ(slice(r, 0, 6), (Bytes{0x33, 0x33, 0, 0, 0, 1}));
  const Ip6 all_nodes = ip6("ff02::1");
  EXPECT_EQ(slice(r, 14 + 24, 16), Bytes(all_nodes.begin(), all_nodes.end()));
  EXPECT_EQ(r[14 + 40 + 4] & 0xe0, 0x20);  // S=0, O=1
  EXPECT_TRUE(icmp6_checksum_ok(r, 14));
}

TEST_F(AnswerTest, SolicitationForTheDerivedLinkLocalIsAnswered) {
  const Ip6 ll = ip6("fe80::ff:fe00:1");  // EUI-64 of 02:00:00:00:00:01 with the U/L bit flipped
  ASSERT_EQ(feed(ns_frame(ip6("fe80::2"), solicited(ll), ll, true)), RxVerdict::consumed);
  EXPECT_EQ(drain_tx().size(), 1u);
}

TEST_F(AnswerTest, InvalidSolicitationsAreDropped) {
  EXPECT_EQ(feed(ns_frame(peer6(), solicited(our6()), our6(), true, 64)), RxVerdict::consumed);  // hop limit
  Bytes bad_sum = ns_frame(peer6(), solicited(our6()), our6(), true);
  bad_sum.back() ^= 1;
  EXPECT_EQ(feed(bad_sum), RxVerdict::consumed);
  EXPECT_EQ(feed(ns_frame(Ip6{}, solicited(our6()), our6(), true)), RxVerdict::consumed);  // DAD with an SLLA
  EXPECT_EQ(stack_->counters().nd_drop_malformed, 3u);
  EXPECT_TRUE(drain_tx().empty());
}

TEST_F(AnswerTest, SolicitationForAnotherTargetGoesToTheKernel) {
  const Ip6 other = ip6("2001:db8::99");
  EXPECT_EQ(feed(ns_frame(peer6(), solicited(other), other, true)), RxVerdict::to_kernel);
  EXPECT_TRUE(drain_tx().empty());
}

TEST_F(AnswerTest, EchoRequestGetsAnIdenticalReply) {
  Bytes echo = {8, 0, 0, 0, 0x12, 0x34, 0x00, 0x07};
  echo = cat(echo, text("abcdefghijklmnopqrstuvwabcdefghi"));
  const std::uint16_t c = inet_checksum(echo);
  echo[2] = static_cast<std::uint8_t>(c >> 8);
  echo[3] = static_cast<std::uint8_t>(c);
  Bytes frame = cat(ether(kOurMac, kGatewayMac, 0x0800), ipv4(kFar4, kOur4, 1, echo, 99));
  frame.resize(frame.size() + 6, 0);  // padding must not end up in the reply
  ASSERT_EQ(feed(frame), RxVerdict::consumed);
  auto tx = drain_tx();
  ASSERT_EQ(tx.size(), 1u);
  const Bytes& r = tx[0];
  ASSERT_EQ(r.size(), 14u + 20 + echo.size());
  EXPECT_EQ(slice(r, 0, 6), mac_bytes(kGatewayMac));  // back the way it came
  EXPECT_EQ(slice(r, 6, 6), mac_bytes(kOurMac));
  EXPECT_EQ(inet_checksum(slice(r, 14, 20)), 0);
  EXPECT_EQ(slice(r, 14 + 12, 4), Bytes(kOur4.begin(), kOur4.end()));
  EXPECT_EQ(slice(r, 14 + 16, 4), Bytes(kFar4.begin(), kFar4.end()));
  const Bytes icmp = slice(r, 34, echo.size());
  EXPECT_EQ(icmp[0], 0);
  EXPECT_EQ(icmp[1], 0);
  EXPECT_EQ(inet_checksum(icmp), 0);
  EXPECT_EQ(slice(icmp, 4, icmp.size() - 4), slice(echo, 4, echo.size() - 4));  // id, seq, data
  EXPECT_EQ(stack_->counters().icmp_echo_replied, 1u);
}

TEST_F(AnswerTest, EchoWithBadChecksumIsDroppedOtherIcmpGoesToTheKernel) {
  Bytes echo = {8, 0, 0x12, 0x34, 0, 1, 0, 1};
  EXPECT_EQ(feed(cat(ether(kOurMac, kPeerMac, 0x0800), ipv4(kPeer4, kOur4, 1, echo))), RxVerdict::consumed);
  EXPECT_EQ(stack_->counters().icmp_drop_malformed, 1u);
  Bytes unreachable = {3, 3, 0, 0, 0, 0, 0, 0};
  const std::uint16_t c = inet_checksum(unreachable);
  unreachable[2] = static_cast<std::uint8_t>(c >> 8);
  unreachable[3] = static_cast<std::uint8_t>(c);
  EXPECT_EQ(feed(cat(ether(kOurMac, kPeerMac, 0x0800), ipv4(kPeer4, kOur4, 1, unreachable))), RxVerdict::to_kernel);
  EXPECT_TRUE(drain_tx().empty());
}

TEST_F(AnswerTest, Icmp6EchoRequestGetsAReply) {
  const Bytes body = cat(Bytes{0xab, 0xcd, 0x00, 0x02}, text("payload-v6"));
  const Bytes msg = icmp6(peer6(), our6(), 128, 0, body);
  ASSERT_EQ(feed(cat(ether(kOurMac, kPeerMac, 0x86dd), ipv6(peer6(), our6(), 58, msg))), RxVerdict::consumed);
  auto tx = drain_tx();
  ASSERT_EQ(tx.size(), 1u);
  const Bytes& r = tx[0];
  EXPECT_EQ(slice(r, 14 + 8, 16), Bytes(our6().begin(), our6().end()));
  EXPECT_EQ(slice(r, 14 + 24, 16), Bytes(peer6().begin(), peer6().end()));
  EXPECT_EQ(r[54], 129);
  EXPECT_EQ(slice(r, 58, body.size()), body);
  EXPECT_TRUE(icmp6_checksum_ok(r, 14));
  EXPECT_EQ(stack_->counters().icmp6_echo_replied, 1u);
}

TEST_F(AnswerTest, NeighbourAdvertisementIsLearnedAndPassedToTheKernel) {
  // Make an entry exist (we are resolving the peer), then advertise.
  const Bytes payload = text("hello");
  const sip::Segment seg{reinterpret_cast<const char*>(payload.data()), payload.size()};
  sockaddr_storage from, to;
  to_sockaddr(v6(our6()), 5060, from);
  to_sockaddr(v6(peer6()), 5060, to);
  ASSERT_TRUE(stack_->send_udp(from, to, {&seg, 1}, sip::Millis{0}));
  drain_tx();
  Bytes body = {0x60, 0, 0, 0};  // S and O
  body.insert(body.end(), peer6().begin(), peer6().end());
  body = cat(body, cat(Bytes{2, 1}, mac_bytes(kPeerMac)));
  EXPECT_EQ(feed(cat(ether(kOurMac, kPeerMac, 0x86dd), ipv6(peer6(), our6(), 58, icmp6(peer6(), our6(), 136, 0, body), 255))),
            RxVerdict::to_kernel);
  const NeighbourEntry* e = stack_->neighbours().find(v6(peer6()));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->state, NeighbourState::reachable);
  auto tx = drain_tx();
  ASSERT_EQ(tx.size(), 1u);  // the held datagram
  EXPECT_EQ(slice(tx[0], 0, 6), mac_bytes(kPeerMac));
}

}  // namespace
}  // namespace sigrelay::dataplane::net::test
