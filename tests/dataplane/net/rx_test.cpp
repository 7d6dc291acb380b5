// Receive path: UDP to SIP, IPv4/IPv6/UDP validation, VLAN, the kernel
// exception path, and truncated frames at every length.
#include <arpa/inet.h>

#include <cstring>

#include "dataplane/net/mbuf_access.hpp"
#include "tests/dataplane/net/net_test_support.hpp"

namespace sigrelay::dataplane::net::test {
namespace {

const Bytes kInvite = text("INVITE sip:alice@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.20\r\n\r\n");

Bytes sip4(const Bytes& payload, std::uint16_t dport = 5060) {
  return cat(ether(kOurMac, kPeerMac, 0x0800), ipv4(kPeer4, kOur4, 17, udp4(kPeer4, kOur4, 5070, dport, payload)));
}

Bytes sip6(const Bytes& payload) {
  return cat(ether(kOurMac, kPeerMac, 0x86dd), ipv6(peer6(), our6(), 17, udp6(peer6(), our6(), 5070, 5060, payload)));
}

using RxTest = NetStackTest;

TEST_F(RxTest, UdpToSipPortOverIpv4IsASipDatagram) {
  ASSERT_EQ(feed(sip4(kInvite)), RxVerdict::sip);
  EXPECT_EQ(out_.offset, 14u + 20u + 8u);
  EXPECT_EQ(out_.len, kInvite.size());
  EXPECT_EQ(bytes_of(out_.m, out_.offset, out_.len), kInvite);
  sockaddr_in src, local;
  std::memcpy(&src, &out_.source, sizeof(src));
  std::memcpy(&local, &out_.local, sizeof(local));
  EXPECT_EQ(src.sin_family, AF_INET);
  EXPECT_EQ(ntohs(src.sin_port), 5070);
  EXPECT_EQ(std::memcmp(&src.sin_addr, kPeer4.data(), 4), 0);
  EXPECT_EQ(ntohs(local.sin_port), 5060);
  EXPECT_EQ(std::memcmp(&local.sin_addr, kOur4.data(), 4), 0);
  EXPECT_EQ(stack_->counters().rx_sip, 1u);
}

TEST_F(RxTest, UdpToSipPortOverIpv6IsASipDatagram) {
  ASSERT_EQ(feed(sip6(kInvite)), RxVerdict::sip);
  EXPECT_EQ(out_.offset, 14u + 40u + 8u);
  EXPECT_EQ(bytes_of(out_.m, out_.offset, out_.len), kInvite);
  sockaddr_in6 src;
  std::memcpy(&src, &out_.source, sizeof(src));
  EXPECT_EQ(src.sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(src.sin6_port), 5070);
  EXPECT_EQ(std::memcmp(&src.sin6_addr, peer6().data(), 16), 0);
}

TEST_F(RxTest, IPv6ExtensionHeadersBeforeUdpAreSkipped) {
  // Hop-by-Hop (8 bytes, PadN) then Destination Options (16 bytes) then UDP.
  Bytes hbh = {60, 0, 1, 4, 0, 0, 0, 0};
  Bytes dst = {17, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  Bytes l4 = cat(cat(hbh, dst), udp6(peer6(), our6(), 5070, 5060, kInvite));
  ASSERT_EQ(feed(cat(ether(kOurMac, kPeerMac, 0x86dd), ipv6(peer6(), our6(), 0, l4))), RxVerdict::sip);
  EXPECT_EQ(out_.offset, 14u + 40u + 24u + 8u);
  EXPECT_EQ(bytes_of(out_.m, out_.offset, out_.len), kInvite);
}

TEST_F(RxTest, HopByHopAfterAnotherHeaderIsDropped) {
  Bytes dst = {0, 0, 1, 4, 0, 0, 0, 0};  // Destination Options whose next header is Hop-by-Hop
  Bytes hbh = {17, 0, 1, 4, 0, 0, 0, 0};
  Bytes l4 = cat(cat(dst, hbh), udp6(peer6(), our6(), 5070, 5060, kInvite));
  EXPECT_EQ(feed(cat(ether(kOurMac, kPeerMac, 0x86dd), ipv6(peer6(), our6(), 60, l4))), RxVerdict::consumed);
  EXPECT_EQ(stack_->counters().ipv6_drop_ext_headers, 1u);
}

TEST_F(RxTest, ExtensionHeaderLongerThanPayloadIsDropped) {
  Bytes dst = {17, 200, 1, 4, 0, 0, 0, 0};  // claims 1608 bytes
  EXPECT_EQ(feed(cat(ether(kOurMac, kPeerMac, 0x86dd), ipv6(peer6(), our6(), 60, dst))), RxVerdict::consumed);
  EXPECT_EQ(stack_->counters().ipv6_drop_ext_headers, 1u);
}

TEST_F(RxTest, EthernetPaddingIsNotPayload) {
  Bytes frame = sip4(text("x"));
  frame.resize(60, 0xee);  // 14 + 20 + 8 + 1 = 43, padded by the sender's NIC
  ASSERT_EQ(feed(frame), RxVerdict::sip);
  EXPECT_EQ(out_.len, 1u);
}

TEST_F(RxTest, BadUdpChecksumIsDroppedAndCounted) {
  Bytes frame = sip4(kInvite);
  frame[14 + 20 + 6] ^= 0x01;
  EXPECT_EQ(feed(frame), RxVerdict::consumed);
  Bytes frame6 = sip6(kInvite);
  frame6.back() ^= 0x40;
  EXPECT_EQ(feed(frame6), RxVerdict::consumed);
  EXPECT_EQ(stack_->counters().udp_drop_bad_checksum, 2u);
  EXPECT_EQ(stack_->counters().rx_sip, 0u);
}

TEST_F(RxTest, ZeroUdpChecksumIsAcceptedOverIpv4Only) {
  Bytes frame = sip4(kInvite);
  frame[14 + 20 + 6] = 0;
  frame[14 + 20 + 7] = 0;
  EXPECT_EQ(feed(frame), RxVerdict::sip);
  Bytes frame6 = sip6(kInvite);
  frame6[14 + 40 + 6] = 0;
  frame6[14 + 40 + 7] = 0;
  EXPECT_EQ(feed(frame6), RxVerdict::consumed);
  EXPECT_EQ(stack_->counters().udp_drop_bad_checksum, 1u);
}

TEST_F(RxTest, NicChecksumFlagsAreTrusted) {
  Bytes frame = sip4(kInvite);
  frame[14 + 20 + 6] ^= 0x01;  // wrong, but the NIC says it checked and it was good
  rte_mbuf* m = exact_mbuf(frame, 16);
  m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
  ASSERT_EQ(stack_->receive(m, sip::Millis{0}, out_), RxVerdict::sip);
  keep_.push_back(out_.m);
  m = exact_mbuf(sip4(kInvite), 16);
  m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_BAD;
  EXPECT_EQ(stack_->receive(m, sip::Millis{0}, out_), RxVerdict::consumed);
  m = exact_mbuf(sip4(kInvite), 16);
  m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_BAD;
  EXPECT_EQ(stack_->receive(m, sip::Millis{0}, out_), RxVerdict::consumed);
  EXPECT_EQ(stack_->counters().udp_drop_bad_checksum, 1u);
  EXPECT_EQ(stack_->counters().ipv4_drop_bad_checksum, 1u);
}

TEST_F(RxTest, BadIpv4HeadersAreDroppedAndCounted) {
  Bytes bad_sum = sip4(kInvite);
  bad_sum[14 + 10] ^= 0xff;
  EXPECT_EQ(feed(bad_sum), RxVerdict::consumed);
  EXPECT_EQ(stack_->counters().ipv4_drop_bad_checksum, 1u);

  Bytes version = sip4(kInvite);
  version[14] = 0x55;
  EXPECT_EQ(feed(version), RxVerdict::consumed);
  Bytes ihl = sip4(kInvite);
  ihl[14] = 0x44;
  EXPECT_EQ(feed(ihl), RxVerdict::consumed);
  Bytes lying = sip4(kInvite);  // total length beyond the frame; checksum fixed so only the length is wrong
  lying[14 + 2] = 0x05;
  lying[14 + 10] = lying[14 + 11] = 0;
  const Bytes hdr(lying.begin() + 14, lying.begin() + 34);
  const std::uint16_t c = inet_checksum(hdr);
  lying[14 + 10] = static_cast<std::uint8_t>(c >> 8);
  lying[14 + 11] = static_cast<std::uint8_t>(c);
  EXPECT_EQ(feed(lying), RxVerdict::consumed);
  EXPECT_EQ(stack_->counters().ipv4_drop_malformed, 3u);
}

TEST_F(RxTest, Ipv4OptionsAreSkipped) {
  Bytes ip = ipv4(kPeer4, kOur4, 17, udp4(kPeer4, kOur4, 5070, 5060, kInvite));
  // Insert a 4-byte NOP option block: IHL 6, total length + 4, new checksum.
  ip.insert(ip.begin() + 20, {1, 1, 1, 0});
  ip[0] = 0x46;
  const std::uint16_t total = static_cast<std::uint16_t>(ip.size());
  ip[2] = static_cast<std::uint8_t>(total >> 8);
  ip[3] = static_cast<std::uint8_t>(total);
  ip[10] = ip[11] = 0;
  const std::uint16_t c = inet_checksum(Bytes(ip.begin(), ip.begin() + 24));
  ip[10] = static_cast<std::uint8_t>(c >> 8);
  ip[11] = static_cast<std::uint8_t>(c);
  ASSERT_EQ(feed(cat(ether(kOurMac, kPeerMac, 0x0800), ip)), RxVerdict::sip);
  EXPECT_EQ(out_.offset, 14u + 24u + 8u);
  EXPECT_EQ(bytes_of(out_.m, out_.offset, out_.len), kInvite);
}

TEST_F(RxTest, UdpLengthFieldMustFitTheIpPayload) {
  Bytes frame = sip4(kInvite);
  frame[14 + 20 + 4] = 0x7f;  // UDP length far beyond the IP payload
  EXPECT_EQ(feed(frame), RxVerdict::consumed);
  Bytes tiny = sip4(kInvite);
  tiny[14 + 20 + 4] = 0;
  tiny[14 + 20 + 5] = 7;  // shorter than the header itself
  EXPECT_EQ(feed(tiny), RxVerdict::consumed);
  EXPECT_EQ(stack_->counters().udp_drop_malformed, 2u);
}

TEST_F(RxTest, NonSipTrafficGoesToTheKernelUntouched) {
  Bytes tcp_seg(20, 0);
  tcp_seg[12] = 0x50;
  const Bytes tcp = cat(ether(kOurMac, kPeerMac, 0x0800), ipv4(kPeer4, kOur4, 6, tcp_seg));
  ASSERT_EQ(feed(tcp), RxVerdict::to_kernel);
  EXPECT_EQ(bytes_of(out_.m), tcp);
  EXPECT_EQ(feed(sip4(kInvite, 53)), RxVerdict::to_kernel);  // another UDP port
  const Bytes lldp = cat(ether({0x01, 0x80, 0xc2, 0, 0, 0x0e}, kPeerMac, 0x88cc), Bytes(46, 0));
  EXPECT_EQ(feed(lldp), RxVerdict::to_kernel);
  const Bytes tcp6 = cat(ether(kOurMac, kPeerMac, 0x86dd), ipv6(peer6(), our6(), 6, tcp_seg));
  EXPECT_EQ(feed(tcp6), RxVerdict::to_kernel);
  EXPECT_EQ(stack_->counters().rx_to_kernel, 4u);
  EXPECT_EQ(stack_->tx_pending(), 0u);
}

TEST_F(RxTest, UnicastForOtherAddressesOrMacsIsDropped) {
  const Ip4 other{192, 0, 2, 99};
  EXPECT_EQ(feed(cat(ether(kOurMac, kPeerMac, 0x0800), ipv4(kPeer4, other, 17, udp4(kPeer4, other, 1, 5060, kInvite)))),
            RxVerdict::consumed);
  EXPECT_EQ(stack_->counters().ipv4_drop_not_ours, 1u);
  const Ip6 other6 = ip6("2001:db8::99");
  EXPECT_EQ(feed(cat(ether(kOurMac, kPeerMac, 0x86dd), ipv6(peer6(), other6, 17, udp6(peer6(), other6, 1, 5060, kInvite)))),
            RxVerdict::consumed);
  EXPECT_EQ(stack_->counters().ipv6_drop_not_ours, 1u);
  Bytes to_other_mac = sip4(kInvite);
  to_other_mac[5] = 0x77;
  EXPECT_EQ(feed(to_other_mac), RxVerdict::consumed);
  EXPECT_EQ(stack_->counters().rx_drop_not_our_mac, 1u);
}

TEST_F(RxTest, BroadcastAndMulticastGoToTheKernel) {
  const Ip4 bcast{192, 0, 2, 255};
  EXPECT_EQ(feed(cat(ether(kBroadcast, kPeerMac, 0x0800), ipv4(kPeer4, bcast, 17, udp4(kPeer4, bcast, 68, 67, {1})))),
            RxVerdict::to_kernel);
  const Ip4 mcast{224, 0, 0, 251};
  EXPECT_EQ(feed(cat(ether({1, 0, 0x5e, 0, 0, 0xfb}, kPeerMac, 0x0800), ipv4(kPeer4, mcast, 17, udp4(kPeer4, mcast, 5353, 5353, {1})))),
            RxVerdict::to_kernel);
}

TEST_F(RxTest, SourcesThatCannotBeAnsweredAreDropped) {
  const Ip4 bcast{255, 255, 255, 255};
  EXPECT_EQ(feed(cat(ether(kOurMac, kPeerMac, 0x0800), ipv4(bcast, kOur4, 17, udp4(bcast, kOur4, 5060, 5060, kInvite)))),
            RxVerdict::consumed);
  EXPECT_EQ(stack_->counters().ipv4_drop_bad_source, 1u);
  EXPECT_EQ(feed(cat(ether(kOurMac, kPeerMac, 0x0800), ipv4(kPeer4, kOur4, 17, udp4(kPeer4, kOur4, 0, 5060, kInvite)))),
            RxVerdict::consumed);
  EXPECT_EQ(stack_->counters().udp_drop_malformed, 1u);
}

class VlanTest : public NetStackTest {
 protected:
  void SetUp() override {
    NetStackTest::SetUp();
    if (IsSkipped()) return;
    NetConfig c = default_config();
    c.vlan = 100;
    make_stack(c);
  }
};

TEST_F(VlanTest, OurVlanInTheFrameOrStrippedIsAccepted) {
  const Bytes l3 = ipv4(kPeer4, kOur4, 17, udp4(kPeer4, kOur4, 5070, 5060, kInvite));
  ASSERT_EQ(feed(cat(ether(kOurMac, kPeerMac, 0x0800, 100), l3)), RxVerdict::sip);
  EXPECT_EQ(out_.offset, 18u + 20u + 8u);
  rte_mbuf* m = exact_mbuf(cat(ether(kOurMac, kPeerMac, 0x0800), l3), 16);
  m->ol_flags |= RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED;
  m->vlan_tci = 100;
  ASSERT_EQ(stack_->receive(m, sip::Millis{0}, out_), RxVerdict::sip);
  keep_.push_back(out_.m);
  EXPECT_EQ(out_.offset, 14u + 20u + 8u);
}

TEST_F(VlanTest, UntaggedOrOtherVlanIsDropped) {
  const Bytes l3 = ipv4(kPeer4, kOur4, 17, udp4(kPeer4, kOur4, 5070, 5060, kInvite));
  EXPECT_EQ(feed(cat(ether(kOurMac, kPeerMac, 0x0800), l3)), RxVerdict::consumed);
  EXPECT_EQ(feed(cat(ether(kOurMac, kPeerMac, 0x0800, 200), l3)), RxVerdict::consumed);
  EXPECT_EQ(feed(cat(ether(kOurMac, kPeerMac, 0x8100, 100), cat(Bytes{0, 100, 0x08, 0}, l3))), RxVerdict::consumed);  // QinQ
  EXPECT_EQ(stack_->counters().rx_drop_wrong_vlan, 3u);
}

TEST_F(VlanTest, RepliesCarryTheTag) {
  ASSERT_EQ(feed(cat(ether(kBroadcast, kPeerMac, 0x0806, 100), arp(1, kPeerMac, kPeer4, Mac{}, kOur4))), RxVerdict::consumed);
  auto tx = drain_tx();
  ASSERT_EQ(tx.size(), 1u);
  EXPECT_EQ(be16(tx[0], 12), 0x8100);
  EXPECT_EQ(be16(tx[0], 14) & 0x0fff, 100);
  EXPECT_EQ(be16(tx[0], 16), 0x0806);
  EXPECT_EQ(be16(tx[0], 18 + 6), 2);  // ARP reply
}

TEST_F(RxTest, TaggedFrameWithoutVlanConfiguredIsDropped) {
  EXPECT_EQ(feed(cat(ether(kOurMac, kPeerMac, 0x0800, 100), ipv4(kPeer4, kOur4, 17, udp4(kPeer4, kOur4, 5070, 5060, kInvite)))),
            RxVerdict::consumed);
  EXPECT_EQ(stack_->counters().rx_drop_wrong_vlan, 1u);
  // A priority tag (VLAN 0) is untagged traffic.
  EXPECT_EQ(feed(cat(ether(kOurMac, kPeerMac, 0x0800, 0x2000), ipv4(kPeer4, kOur4, 17, udp4(kPeer4, kOur4, 5070, 5060, kInvite)))),
            RxVerdict::sip);
}

// Every prefix of a set of valid frames: never a crash, never read past the
// end (the buffers are exactly the frame: run under ASan), never delivered.
TEST_F(RxTest, TruncatedFramesAtEveryLengthAreSafe) {
  Bytes ns_body = {0, 0, 0, 0};
  const Ip6 target = our6();
  ns_body.insert(ns_body.end(), target.begin(), target.end());
  ns_body = cat(ns_body, cat(Bytes{1, 1}, Bytes(kPeerMac.begin(), kPeerMac.end())));
  const Ip6 snm = ip6("ff02::1:ff00:10");
  Bytes echo = {8, 0, 0, 0, 0x12, 0x34, 0, 1, 'p', 'i', 'n', 'g'};
  const std::uint16_t ec = inet_checksum(echo);
  echo[2] = static_cast<std::uint8_t>(ec >> 8);
  echo[3] = static_cast<std::uint8_t>(ec);
  Bytes hbh = {17, 0, 1, 4, 0, 0, 0, 0};
  const std::vector<Bytes> frames = {
      sip4(kInvite),
      sip6(kInvite),
      cat(ether(kOurMac, kPeerMac, 0x86dd), ipv6(peer6(), our6(), 0, cat(hbh, udp6(peer6(), our6(), 5070, 5060, kInvite)))),
      cat(ether(kBroadcast, kPeerMac, 0x0806), arp(1, kPeerMac, kPeer4, Mac{}, kOur4)),
      cat(ether({0x33, 0x33, 0xff, 0, 0, 0x10}, kPeerMac, 0x86dd), ipv6(peer6(), snm, 58, icmp6(peer6(), snm, 135, 0, ns_body), 255)),
      cat(ether(kOurMac, kPeerMac, 0x0800), ipv4(kPeer4, kOur4, 1, echo)),
      cat(ether(kOurMac, kPeerMac, 0x0800, 0), ipv4(kPeer4, kOur4, 17, udp4(kPeer4, kOur4, 5070, 5060, kInvite), 7, 0x2000)),
      cat(ether(kOurMac, kPeerMac, 0x86dd), ipv6(peer6(), our6(), 44, cat(Bytes{17, 0, 0, 1, 0, 0, 0, 9}, Bytes(64, 'f')))),
  };
  for (const auto& full : frames) {
    for (std::size_t len = 0; len < full.size(); ++len) {
      SCOPED_TRACE(len);
      const Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
      rte_mbuf* m = exact_mbuf(cut, 0);
      const RxVerdict v = stack_->receive(m, sip::Millis{0}, out_);
      EXPECT_NE(v, RxVerdict::sip);
      if (v == RxVerdict::to_kernel) rte_pktmbuf_free(out_.m);
    }
  }
  drain_tx();
  stack_->on_timer(sip::Millis{1000000});
  EXPECT_EQ(stack_->counters().rx_sip, 0u);
}

}  // namespace
}  // namespace sigrelay::dataplane::net::test
