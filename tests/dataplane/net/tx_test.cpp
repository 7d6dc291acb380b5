// Transmit: datagram framing and checksums, neighbour resolution with held
// frames, retries, aging, and configuration errors.
#include <cstring>
#include <string>

#include "tests/dataplane/net/net_test_support.hpp"

namespace sigrelay::dataplane::net::test {
namespace {

IpAddress v4(const Ip4& a) { return IpAddress::from_v4(a.data()); }
IpAddress v6(const Ip6& a) { return IpAddress::from_v6(a.data()); }
Bytes mac_bytes(const Mac& m) { return Bytes(m.begin(), m.end()); }
Bytes slice(const Bytes& b, std::size_t at, std::size_t n) { return Bytes(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(at + n)); }

sockaddr_storage sa(const IpAddress& ip, std::uint16_t port) {
  sockaddr_storage s;
  to_sockaddr(ip, port, s);
  return s;
}

class TxTest : public NetStackTest {
 protected:
  bool send(const IpAddress& to, const std::string& payload, std::int64_t now = 0, std::uint16_t sport = 5060) {
    const IpAddress from = to.is_v4() ? v4(kOur4) : v6(our6());
    // Two segments, to check they are joined in order.
    const std::size_t half = payload.size() / 2;
    const sip::Segment segs[2] = {{payload.data(), half}, {payload.data() + half, payload.size() - half}};
    return stack_->send_udp(sa(from, sport), sa(to, 5080), segs, sip::Millis{now});
  }
  void learn4(const Ip4& ip, const Mac& mac) {
    Bytes f = cat(ether(kOurMac, mac, 0x0806), arp(2, mac, ip, kOurMac, kOur4));
    f.resize(60, 0);
    ASSERT_EQ(feed(f), RxVerdict::to_kernel);
  }
};

bool udp4_checksum_ok(const Bytes& f, std::size_t l3) {
  const std::size_t ihl = (f[l3] & 0x0f) * 4u;
  const std::uint16_t udp_len = be16(f, l3 + ihl + 4);
  Bytes pseudo = slice(f, l3 + 12, 8);
  pseudo.insert(pseudo.end(), {0, 17, static_cast<std::uint8_t>(udp_len >> 8), static_cast<std::uint8_t>(udp_len)});
  return inet_checksum(cat(pseudo, slice(f, l3 + ihl, udp_len))) == 0;
}

TEST_F(TxTest, UnresolvedNeighbourIsAskedForAndTheFrameHeldUntilTheReply) {
  ASSERT_TRUE(send(v4(kPeer4), "OPTIONS sip:x SIP/2.0\r\n\r\n"));
  auto tx = drain_tx();
  ASSERT_EQ(tx.size(), 1u);  // only the ARP request
  const Bytes& req = tx[0];
  EXPECT_EQ(slice(req, 0, 6), mac_bytes(kBroadcast));
  EXPECT_EQ(be16(req, 12), 0x0806);
  EXPECT_EQ(be16(req, 20), 1);
  EXPECT_EQ(slice(req, 22, 6), mac_bytes(kOurMac));
  EXPECT_EQ(slice(req, 28, 4), Bytes(kOur4.begin(), kOur4.end()));
  EXPECT_EQ(slice(req, 38, 4), Bytes(kPeer4.begin(), kPeer4.end()));
  EXPECT_EQ(stack_->counters().neighbour_frames_held, 1u);

  learn4(kPeer4, kPeerMac);
  tx = drain_tx();
  ASSERT_EQ(tx.size(), 1u);
  const Bytes& f = tx[0];
  EXPECT_EQ(slice(f, 0, 6), mac_bytes(kPeerMac));
  EXPECT_EQ(slice(f, 6, 6), mac_bytes(kOurMac));
  EXPECT_EQ(be16(f, 12), 0x0800);
  EXPECT_EQ(inet_checksum(slice(f, 14, 20)), 0);
  EXPECT_EQ(f[14 + 9], 17);
  EXPECT_EQ(slice(f, 14 + 16, 4), Bytes(kPeer4.begin(), kPeer4.end()));
  EXPECT_EQ(be16(f, 34), 5060);
  EXPECT_EQ(be16(f, 36), 5080);
  EXPECT_EQ(be16(f, 38), 8u + 25u);
  EXPECT_TRUE(udp4_checksum_ok(f, 14));
  EXPECT_EQ(slice(f, 42, 25), text("OPTIONS sip:x SIP/2.0\r\n\r\n"));

  // Known now: straight out.
  ASSERT_TRUE(send(v4(kPeer4), "again"));
  tx = drain_tx();
  ASSERT_EQ(tx.size(), 1u);
  EXPECT_EQ(tx[0].size(), 60u);  // 47 bytes padded to the Ethernet minimum
  EXPECT_EQ(be16(tx[0], 16), 20u + 8u + 5u);
}

// Two workers: the ARP reply reaches only the one RSS picked; the other
// holds a frame for the same switch until the learning is passed over.
TEST_F(TxTest, WhatOneWorkerLearnsReleasesAnotherWorkersHeldFrames) {
  NetError e = NetError::ok;
  auto other = NetStack::create(cfg_, test_pool(), e);
  ASSERT_NE(other, nullptr) << to_string(e);
  const sip::Segment seg{"INVITE", 6};
  ASSERT_TRUE(other->send_udp(sa(v4(kOur4), 5060), sa(v4(kPeer4), 5080), std::span(&seg, 1), sip::Millis{0}));
  rte_mbuf* frames[8];
  unsigned n = other->take_tx(frames, 8);
  ASSERT_EQ(n, 1u);  // the other worker's own ARP request; its frame is held
  rte_pktmbuf_free(frames[0]);

  // Nothing learned yet, nothing to announce.
  LearnedNeighbour learned[4];
  EXPECT_EQ(stack_->take_learned(learned, 4), 0u);
  learn4(kPeer4, kPeerMac);  // this worker sees the reply
  ASSERT_EQ(stack_->take_learned(learned, 4), 1u);
  EXPECT_EQ(learned[0].ip, v4(kPeer4));
  EXPECT_EQ(Bytes(learned[0].mac.addr_bytes, learned[0].mac.addr_bytes + 6), mac_bytes(kPeerMac));
  EXPECT_EQ(stack_->take_learned(learned, 4), 0u);  // taken once

  other->peer_learned(learned[0].ip, learned[0].mac, sip::Millis{5});
  n = other->take_tx(frames, 8);
  ASSERT_EQ(n, 1u);  // the held datagram, now addressed to the switch
  const Bytes f = bytes_of(frames[0]);
  rte_pktmbuf_free(frames[0]);
  EXPECT_EQ(slice(f, 0, 6), mac_bytes(kPeerMac));
  EXPECT_EQ(slice(f, 42, 6), text("INVITE"));
  EXPECT_EQ(other->counters().neighbour_peer_updates, 1u);
  EXPECT_EQ(other->take_learned(learned, 4), 0u);  // a peer's learning is not passed on again
}

TEST_F(TxTest, OffLinkDestinationGoesThroughTheGateway) {
  ASSERT_TRUE(send(v4(kFar4), "far away"));
  auto tx = drain_tx();
  ASSERT_EQ(tx.size(), 1u);
  EXPECT_EQ(slice(tx[0], 38, 4), Bytes(kGateway4.begin(), kGateway4.end()));
  learn4(kGateway4, kGatewayMac);
  tx = drain_tx();
  ASSERT_EQ(tx.size(), 1u);
  EXPECT_EQ(slice(tx[0], 0, 6), mac_bytes(kGatewayMac));
  EXPECT_EQ(slice(tx[0], 14 + 16, 4), Bytes(kFar4.begin(), kFar4.end()));
}

TEST_F(TxTest, Ipv6ResolutionUsesSolicitedNodeMulticast) {
  ASSERT_TRUE(send(v6(peer6()), "hello v6"));
  auto tx = drain_tx();
  ASSERT_EQ(tx.size(), 1u);
  const Bytes& ns = tx[0];
  EXPECT_EQ(slice(ns, 0, 6), (Bytes{0x33, 0x33, 0xff, 0x00, 0x00, 0x20}));
  const Ip6 snm = ip6("ff02::1:ff00:20");
  EXPECT_EQ(slice(ns, 14 + 24, 16), Bytes(snm.begin(), snm.end()));
  EXPECT_EQ(ns[14 + 7], 255);
  EXPECT_EQ(ns[54], 135);
  EXPECT_EQ(slice(ns, 54 + 8, 16), Bytes(peer6().begin(), peer6().end()));
  EXPECT_EQ(ns[54 + 24], 1);  // source link-layer address option
  EXPECT_EQ(slice(ns, 54 + 26, 6), mac_bytes(kOurMac));
  // Off-link v6 goes to the link-local gateway, asked from our link-local.
  ASSERT_TRUE(send(v6(ip6("2001:db8:ffff::1")), "far"));
  tx = drain_tx();
  ASSERT_EQ(tx.size(), 1u);
  const Ip6 gw = ip6("fe80::1");
  EXPECT_EQ(slice(tx[0], 54 + 8, 16), Bytes(gw.begin(), gw.end()));
  const Ip6 our_ll = ip6("fe80::ff:fe00:1");
  EXPECT_EQ(slice(tx[0], 14 + 8, 16), Bytes(our_ll.begin(), our_ll.end()));
}

TEST_F(TxTest, HoldQueueKeepsTheNewestFrames) {
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(send(v4(kPeer4), "msg" + std::to_string(i)));
  EXPECT_EQ(drain_tx().size(), 1u);  // one ARP request, not ten
  EXPECT_EQ(stack_->counters().neighbour_hold_overflow, 2u);
  learn4(kPeer4, kPeerMac);
  auto tx = drain_tx();
  ASSERT_EQ(tx.size(), 8u);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(slice(tx[static_cast<std::size_t>(i)], 42, 4), text("msg" + std::to_string(i + 2)));
}

TEST_F(TxTest, ResolutionGivesUpAfterTheRetries) {
  ASSERT_TRUE(send(v4(kPeer4), "x", 0));
  EXPECT_EQ(drain_tx().size(), 1u);
  stack_->on_timer(sip::Millis{999});
  EXPECT_TRUE(drain_tx().empty());
  stack_->on_timer(sip::Millis{1000});
  EXPECT_EQ(drain_tx().size(), 1u);  // second request
  stack_->on_timer(sip::Millis{2000});
  EXPECT_EQ(drain_tx().size(), 1u);  // third
  EXPECT_EQ(stack_->counters().neighbour_requests_sent, 3u);
  stack_->on_timer(sip::Millis{3000});
  EXPECT_TRUE(drain_tx().empty());
  EXPECT_EQ(stack_->counters().neighbour_resolution_failed, 1u);
  EXPECT_EQ(stack_->neighbours().find(v4(kPeer4)), nullptr);
}

TEST_F(TxTest, IdleEntriesAgeOutBusyOnesAreProbed) {
  learn4(kPeer4, kPeerMac);
  learn4(kGateway4, kGatewayMac);
  ASSERT_TRUE(send(v4(kGateway4), "busy", 1000));
  drain_tx();
  stack_->on_timer(sip::Millis{29999});
  EXPECT_EQ(stack_->neighbours().size(), 2u);
  stack_->on_timer(sip::Millis{30000});
  EXPECT_EQ(stack_->neighbours().find(v4(kPeer4)), nullptr);  // idle: aged out
  EXPECT_EQ(stack_->counters().neighbour_aged_out, 1u);
  const NeighbourEntry* gw = stack_->neighbours().find(v4(kGateway4));
  ASSERT_NE(gw, nullptr);
  EXPECT_EQ(gw->state, NeighbourState::probe);
  auto tx = drain_tx();
  ASSERT_EQ(tx.size(), 1u);
  EXPECT_EQ(slice(tx[0], 0, 6), mac_bytes(kGatewayMac));  // unicast probe
  // Still usable while probing.
  ASSERT_TRUE(send(v4(kGateway4), "still", 30001));
  tx = drain_tx();
  ASSERT_EQ(tx.size(), 1u);
  EXPECT_EQ(be16(tx[0], 12), 0x0800);
  stack_->on_timer(sip::Millis{31000});
  stack_->on_timer(sip::Millis{32000});
  EXPECT_EQ(drain_tx().size(), 2u);
  stack_->on_timer(sip::Millis{33000});
  EXPECT_EQ(stack_->neighbours().find(v4(kGateway4)), nullptr);
  EXPECT_EQ(stack_->counters().neighbour_probe_failed, 1u);
}

TEST_F(TxTest, AnsweredProbeKeepsTheEntry) {
  learn4(kGateway4, kGatewayMac);
  ASSERT_TRUE(send(v4(kGateway4), "busy", 1));
  stack_->on_timer(sip::Millis{30000});
  drain_tx();
  learn4(kGateway4, kGatewayMac);
  const NeighbourEntry* gw = stack_->neighbours().find(v4(kGateway4));
  ASSERT_NE(gw, nullptr);
  EXPECT_EQ(gw->state, NeighbourState::reachable);
}

TEST_F(TxTest, FullNeighbourTableDropsAndCounts) {
  NetConfig c = default_config();
  c.neighbour_entries = 2;
  make_stack(c);
  EXPECT_TRUE(send(v4(Ip4{192, 0, 2, 31}), "a"));
  EXPECT_TRUE(send(v4(Ip4{192, 0, 2, 32}), "b"));
  EXPECT_FALSE(send(v4(Ip4{192, 0, 2, 33}), "c"));
  EXPECT_EQ(stack_->counters().neighbour_table_full, 1u);
}

TEST_F(TxTest, BadSendsAreRefusedAndCounted) {
  const std::string p = "x";
  const sip::Segment seg{p.data(), p.size()};
  EXPECT_FALSE(stack_->send_udp(sa(v4(kPeer4), 5060), sa(v4(kPeer4), 5060), {&seg, 1}, sip::Millis{0}));  // not our address
  EXPECT_FALSE(stack_->send_udp(sa(v4(kOur4), 5060), sa(v6(peer6()), 5060), {&seg, 1}, sip::Millis{0}));  // families differ
  EXPECT_EQ(stack_->counters().tx_drop_bad_source, 2u);
  NetConfig c = default_config();
  c.gateway4.reset();
  make_stack(c);
  EXPECT_FALSE(stack_->send_udp(sa(v4(kOur4), 5060), sa(v4(kFar4), 5060), {&seg, 1}, sip::Millis{0}));
  EXPECT_EQ(stack_->counters().tx_drop_no_route, 1u);
  const std::string huge(70000, 'h');
  const sip::Segment big{huge.data(), huge.size()};
  EXPECT_FALSE(stack_->send_udp(sa(v4(kOur4), 5060), sa(v4(kPeer4), 5060), {&big, 1}, sip::Millis{0}));
  EXPECT_EQ(stack_->counters().tx_drop_too_big, 1u);
}

TEST_F(TxTest, ChecksumOffloadLeavesThePseudoHeaderSum) {
  NetConfig c = default_config();
  c.tx_ip_cksum_offload = true;
  c.tx_udp_cksum_offload = true;
  make_stack(c);
  learn4(kPeer4, kPeerMac);
  ASSERT_TRUE(send(v4(kPeer4), "offloaded"));
  auto mbufs = take_tx_mbufs();
  ASSERT_EQ(mbufs.size(), 1u);
  rte_mbuf* m = mbufs[0];
  EXPECT_TRUE(m->ol_flags & RTE_MBUF_F_TX_IP_CKSUM);
  EXPECT_TRUE(m->ol_flags & RTE_MBUF_F_TX_UDP_CKSUM);
  EXPECT_TRUE(m->ol_flags & RTE_MBUF_F_TX_IPV4);
  EXPECT_EQ(m->l2_len, 14u);
  EXPECT_EQ(m->l3_len, 20u);
  const Bytes f = bytes_of(m);
  rte_pktmbuf_free(m);
  EXPECT_EQ(be16(f, 24), 0);  // IP checksum left to the NIC
  // UDP field: the folded pseudo-header sum, not complemented.
  Bytes pseudo = slice(f, 26, 8);
  pseudo.insert(pseudo.end(), {0, 17, 0, 17});
  EXPECT_EQ(be16(f, 40), static_cast<std::uint16_t>(~inet_checksum(pseudo)));
}

TEST_F(TxTest, PayloadLargerThanOneMbufIsChained) {
  NetConfig c = default_config();
  stack_.reset();
  NetError err = NetError::ok;
  stack_ = NetStack::create(c, small_pool(), err);
  ASSERT_NE(stack_, nullptr) << to_string(err);
  learn4(kPeer4, kPeerMac);
  std::string payload(1200, 'z');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(send(v4(kPeer4), payload));
  auto mbufs = take_tx_mbufs();
  ASSERT_EQ(mbufs.size(), 1u);
  EXPECT_GT(mbufs[0]->nb_segs, 1u);
  const Bytes f = bytes_of(mbufs[0]);
  rte_pktmbuf_free(mbufs[0]);
  EXPECT_EQ(f.size(), 14u + 20 + 8 + payload.size());
  EXPECT_EQ(slice(f, 42, payload.size()), text(payload));
  EXPECT_TRUE(udp4_checksum_ok(f, 14));
}

TEST(NetConfigTest, InvalidConfigurationsAreRefusedWithAReason) {
  REQUIRE_EAL();
  auto make = [](const NetConfig& c) {
    NetError e = NetError::ok;
    auto s = NetStack::create(c, test_pool(), e);
    EXPECT_EQ(s == nullptr, e != NetError::ok);
    return e;
  };
  EXPECT_EQ(make(default_config()), NetError::ok);
  NetConfig c = default_config();
  c.addresses.clear();
  EXPECT_EQ(make(c), NetError::no_address);
  c = default_config();
  c.mtu = 1000;  // IPv6 needs 1280
  EXPECT_EQ(make(c), NetError::bad_mtu);
  c = default_config();
  c.vlan = 4095;
  EXPECT_EQ(make(c), NetError::bad_vlan);
  c = default_config();
  IpAddress::parse("203.0.113.1", *c.gateway4);
  EXPECT_EQ(make(c), NetError::gateway_off_link);
  c = default_config();
  c.sip_ports = {};
  EXPECT_EQ(make(c), NetError::no_sip_ports);
  c = default_config();
  c.hold_per_neighbour = 0;
  EXPECT_EQ(make(c), NetError::bad_table_sizes);
  c = default_config();
  c.mac.addr_bytes[0] = 0x01;
  EXPECT_EQ(make(c), NetError::bad_mac);
}

}  // namespace
}  // namespace sigrelay::dataplane::net::test
