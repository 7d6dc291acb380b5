// IP fragments: reassembly of incoming datagrams (in and out of order,
// timeout, invalid pieces) and fragmentation of outgoing ones, checked by
// reassembling the bytes here, independently of the code under test.
#include <algorithm>
#include <cstring>
#include <map>
#include <string>

#include "tests/dataplane/net/net_test_support.hpp"

namespace sigrelay::dataplane::net::test {
namespace {

IpAddress v4(const Ip4& a) { return IpAddress::from_v4(a.data()); }
IpAddress v6(const Ip6& a) { return IpAddress::from_v6(a.data()); }
Bytes slice(const Bytes& b, std::size_t at, std::size_t n) {
  return Bytes(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(at + n));
}

Bytes invite_of(std::size_t size) {
  std::string s = "INVITE sip:bob@example.com SIP/2.0\r\n";
  while (s.size() < size) s += static_cast<char>('A' + s.size() % 26);
  s.resize(size);
  return text(s);
}

// RFC 791 fragments of an IPv4 payload, `per` bytes each (a multiple of 8).
std::vector<Bytes> fragments4(const Bytes& l4, std::size_t per, std::uint16_t id) {
  std::vector<Bytes> out;
  for (std::size_t off = 0; off < l4.size(); off += per) {
    const std::size_t n = std::min(per, l4.size() - off);
    const bool more = off + n < l4.size();
    const auto frag = static_cast<std::uint16_t>((more ? 0x2000 : 0) | (off / 8));
    out.push_back(cat(ether(kOurMac, kPeerMac, 0x0800), ipv4(kPeer4, kOur4, 17, slice(l4, off, n), id, frag)));
  }
  return out;
}

// RFC 8200 §4.5 fragments.
std::vector<Bytes> fragments6(const Bytes& l4, std::size_t per, std::uint32_t id) {
  std::vector<Bytes> out;
  for (std::size_t off = 0; off < l4.size(); off += per) {
    const std::size_t n = std::min(per, l4.size() - off);
    const bool more = off + n < l4.size();
    const auto field = static_cast<std::uint16_t>(off | (more ? 1 : 0));
    Bytes fh = {17, 0, static_cast<std::uint8_t>(field >> 8), static_cast<std::uint8_t>(field),
                static_cast<std::uint8_t>(id >> 24), static_cast<std::uint8_t>(id >> 16), static_cast<std::uint8_t>(id >> 8),
                static_cast<std::uint8_t>(id)};
    out.push_back(cat(ether(kOurMac, kPeerMac, 0x86dd), ipv6(peer6(), our6(), 44, cat(fh, slice(l4, off, n)))));
  }
  return out;
}

using FragmentTest = NetStackTest;

TEST_F(FragmentTest, Ipv4FragmentsInOrderBecomeOneSipDatagram) {
  const Bytes payload = invite_of(3000);
  const auto frags = fragments4(udp4(kPeer4, kOur4, 5070, 5060, payload), 1480, 0x4242);
  ASSERT_EQ(frags.size(), 3u);
  EXPECT_EQ(feed(frags[0]), RxVerdict::consumed);
  EXPECT_EQ(feed(frags[1]), RxVerdict::consumed);
  ASSERT_EQ(feed(frags[2]), RxVerdict::sip);
  EXPECT_EQ(out_.len, payload.size());
  EXPECT_EQ(bytes_of(out_.m, out_.offset, out_.len), payload);
  EXPECT_EQ(out_.m->nb_segs, 3u);
  EXPECT_EQ(stack_->counters().frag_reassembled, 1u);
}

TEST_F(FragmentTest, Ipv4FragmentsOutOfOrderBecomeOneSipDatagram) {
  const Bytes payload = invite_of(3000);
  const auto frags = fragments4(udp4(kPeer4, kOur4, 5070, 5060, payload), 1024, 7);
  ASSERT_EQ(frags.size(), 3u);
  EXPECT_EQ(feed(frags[2]), RxVerdict::consumed);
  EXPECT_EQ(feed(frags[0]), RxVerdict::consumed);
  ASSERT_EQ(feed(frags[1]), RxVerdict::sip);
  EXPECT_EQ(bytes_of(out_.m, out_.offset, out_.len), payload);
}

TEST_F(FragmentTest, Ipv6FragmentsInAnyOrderBecomeOneSipDatagram) {
  const Bytes payload = invite_of(3000);
  const auto frags = fragments6(udp6(peer6(), our6(), 5070, 5060, payload), 1232, 0xabcdef01);
  ASSERT_EQ(frags.size(), 3u);
  EXPECT_EQ(feed(frags[0]), RxVerdict::consumed);
  EXPECT_EQ(feed(frags[1]), RxVerdict::consumed);
  ASSERT_EQ(feed(frags[2]), RxVerdict::sip);
  EXPECT_EQ(bytes_of(out_.m, out_.offset, out_.len), payload);

  const auto again = fragments6(udp6(peer6(), our6(), 5070, 5060, payload), 1232, 0xabcdef02);
  EXPECT_EQ(feed(again[1]), RxVerdict::consumed);
  EXPECT_EQ(feed(again[2]), RxVerdict::consumed);
  ASSERT_EQ(feed(again[0]), RxVerdict::sip);
  EXPECT_EQ(bytes_of(out_.m, out_.offset, out_.len), payload);
  sockaddr_in6 src;
  std::memcpy(&src, &out_.source, sizeof(src));
  EXPECT_EQ(ntohs(src.sin6_port), 5070);
}

TEST_F(FragmentTest, ReassembledDatagramWithBadUdpChecksumIsDropped) {
  Bytes l4 = udp4(kPeer4, kOur4, 5070, 5060, invite_of(3000));
  l4[2000] ^= 0x20;
  for (const auto& f : fragments4(l4, 1480, 9)) EXPECT_EQ(feed(f), RxVerdict::consumed);
  EXPECT_EQ(stack_->counters().udp_drop_bad_checksum, 1u);
}

TEST_F(FragmentTest, IncompleteDatagramsExpire) {
  const auto frags = fragments4(udp4(kPeer4, kOur4, 5070, 5060, invite_of(3000)), 1480, 11);
  EXPECT_EQ(feed(frags[0], 100), RxVerdict::consumed);
  EXPECT_EQ(feed(frags[2], 100), RxVerdict::consumed);
  stack_->on_timer(sip::Millis{2000});
  EXPECT_EQ(stack_->counters().frag_mbufs_dropped, 0u);
  stack_->on_timer(sip::Millis{2101});
  EXPECT_EQ(stack_->counters().frag_mbufs_dropped, 2u);
  // The late middle piece starts a new, incomplete datagram: nothing delivered.
  EXPECT_EQ(feed(frags[1], 2200), RxVerdict::consumed);
  EXPECT_EQ(stack_->counters().rx_sip, 0u);
}

TEST_F(FragmentTest, InvalidFragmentsAreDropped) {
  const Bytes l4 = udp4(kPeer4, kOur4, 5070, 5060, invite_of(100));
  // More-fragments set but a length that is not a multiple of 8.
  EXPECT_EQ(feed(cat(ether(kOurMac, kPeerMac, 0x0800), ipv4(kPeer4, kOur4, 17, slice(l4, 0, 50), 3, 0x2000))),
            RxVerdict::consumed);
  // Offset + length beyond 65535.
  EXPECT_EQ(feed(cat(ether(kOurMac, kPeerMac, 0x0800), ipv4(kPeer4, kOur4, 17, slice(l4, 0, 64), 3, 0x1fff))),
            RxVerdict::consumed);
  // IPv6: a Destination Options header before the Fragment header.
  Bytes dopt = {44, 0, 1, 4, 0, 0, 0, 0};
  Bytes fh = {17, 0, 0, 1, 0, 0, 0, 5};
  EXPECT_EQ(feed(cat(ether(kOurMac, kPeerMac, 0x86dd), ipv6(peer6(), our6(), 60, cat(cat(dopt, fh), slice(l4, 0, 64))))),
            RxVerdict::consumed);
  EXPECT_EQ(stack_->counters().frag_drop_malformed, 3u);
}

TEST_F(FragmentTest, ReassembledNonSipGoesToTheKernelAsOneChain) {
  Bytes big(3000, 0x11);
  Bytes echo = {8, 0, 0, 0, 0, 1, 0, 1};
  echo = cat(echo, big);
  const std::uint16_t c = inet_checksum(echo);
  echo[2] = static_cast<std::uint8_t>(c >> 8);
  echo[3] = static_cast<std::uint8_t>(c);
  std::vector<Bytes> frags;
  for (std::size_t off = 0; off < echo.size(); off += 1480) {
    const std::size_t n = std::min<std::size_t>(1480, echo.size() - off);
    const auto frag = static_cast<std::uint16_t>((off + n < echo.size() ? 0x2000 : 0) | (off / 8));
    frags.push_back(cat(ether(kOurMac, kPeerMac, 0x0800), ipv4(kPeer4, kOur4, 1, slice(echo, off, n), 77, frag)));
  }
  EXPECT_EQ(feed(frags[0]), RxVerdict::consumed);
  EXPECT_EQ(feed(frags[1]), RxVerdict::consumed);
  ASSERT_EQ(feed(frags[2]), RxVerdict::to_kernel);
  const Bytes whole = bytes_of(out_.m);
  EXPECT_EQ(whole, cat(ether(kOurMac, kPeerMac, 0x0800), ipv4(kPeer4, kOur4, 1, echo, 77, 0)));
}

class FragmentTxTest : public NetStackTest {
 protected:
  void SetUp() override {
    NetStackTest::SetUp();
    if (IsSkipped()) return;
    Bytes f = cat(ether(kOurMac, kPeerMac, 0x0806), arp(2, kPeerMac, kPeer4, kOurMac, kOur4));
    f.resize(60, 0);
    feed(f);
  }
  std::vector<Bytes> send(const IpAddress& from, const IpAddress& to, const Bytes& payload) {
    const sip::Segment seg{reinterpret_cast<const char*>(payload.data()), payload.size()};
    sockaddr_storage f, t;
    to_sockaddr(from, 5060, f);
    to_sockaddr(to, 5090, t);
    EXPECT_TRUE(stack_->send_udp(f, t, {&seg, 1}, sip::Millis{0}));
    return drain_tx();
  }
};

TEST_F(FragmentTxTest, LargeIpv4DatagramIsFragmentedAtTheMtu) {
  const Bytes payload = invite_of(4000);
  const auto frames = send(v4(kOur4), v4(kPeer4), payload);
  ASSERT_EQ(frames.size(), 3u);
  std::map<std::size_t, Bytes> pieces;
  std::uint16_t id = 0;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const Bytes& f = frames[i];
    const std::size_t total = be16(f, 16);
    EXPECT_LE(total, 1500u);
    EXPECT_EQ(inet_checksum(slice(f, 14, 20)), 0);
    const std::uint16_t field = be16(f, 20);
    const bool more = field & 0x2000;
    EXPECT_EQ(more, i + 1 < frames.size());
    EXPECT_FALSE(field & 0x4000);  // DF clear
    if (i == 0) id = be16(f, 18);
    EXPECT_EQ(be16(f, 18), id);
    const Bytes data = slice(f, 34, total - 20);
    if (more) {
      EXPECT_EQ(data.size() % 8, 0u);
    }
    pieces[(field & 0x1fff) * 8u] = data;
  }
  Bytes udp;
  for (const auto& [off, data] : pieces) {
    ASSERT_EQ(off, udp.size());  // contiguous, no overlap
    udp = cat(udp, data);
  }
  ASSERT_EQ(udp.size(), 8u + payload.size());
  EXPECT_EQ(be16(udp, 4), udp.size());
  Bytes pseudo(kOur4.begin(), kOur4.end());
  pseudo.insert(pseudo.end(), kPeer4.begin(), kPeer4.end());
  pseudo.insert(pseudo.end(), {0, 17, static_cast<std::uint8_t>(udp.size() >> 8), static_cast<std::uint8_t>(udp.size())});
  EXPECT_EQ(inet_checksum(cat(pseudo, udp)), 0);
  EXPECT_EQ(slice(udp, 8, payload.size()), payload);
  EXPECT_EQ(stack_->counters().tx_fragments, 3u);
}

TEST_F(FragmentTxTest, LargeIpv6DatagramGetsFragmentHeaders) {
  // Resolve the peer over ND first.
  const Bytes payload = invite_of(4000);
  sockaddr_storage f, t;
  to_sockaddr(v6(our6()), 5060, f);
  to_sockaddr(v6(peer6()), 5090, t);
  const sip::Segment seg{reinterpret_cast<const char*>(payload.data()), payload.size()};
  ASSERT_TRUE(stack_->send_udp(f, t, {&seg, 1}, sip::Millis{0}));
  drain_tx();  // the NS
  Bytes body = {0x60, 0, 0, 0};
  body.insert(body.end(), peer6().begin(), peer6().end());
  body = cat(body, cat(Bytes{2, 1}, Bytes(kPeerMac.begin(), kPeerMac.end())));
  feed(cat(ether(kOurMac, kPeerMac, 0x86dd), ipv6(peer6(), our6(), 58, icmp6(peer6(), our6(), 136, 0, body), 255)));
  const auto frames = drain_tx();
  ASSERT_EQ(frames.size(), 3u);
  std::map<std::size_t, Bytes> pieces;
  std::uint32_t id = 0;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const Bytes& fr = frames[i];
    EXPECT_EQ(fr[14 + 6], 44);
    const std::size_t plen = be16(fr, 18);
    EXPECT_LE(40 + plen, 1500u);
    EXPECT_EQ(fr[54], 17);
    const std::uint16_t field = be16(fr, 56);
    EXPECT_EQ(static_cast<bool>(field & 1), i + 1 < frames.size());
    if (i == 0) id = be32(fr, 58);
    EXPECT_EQ(be32(fr, 58), id);
    pieces[field & 0xfff8] = slice(fr, 62, plen - 8);
  }
  Bytes udp;
  for (const auto& [off, data] : pieces) {
    ASSERT_EQ(off, udp.size());
    udp = cat(udp, data);
  }
  ASSERT_EQ(udp.size(), 8u + payload.size());
  EXPECT_EQ(slice(udp, 8, payload.size()), payload);
  // Checksum over the RFC 8200 pseudo-header.
  Bytes pseudo(our6().begin(), our6().end());
  pseudo.insert(pseudo.end(), peer6().begin(), peer6().end());
  pseudo.insert(pseudo.end(), {0, 0, static_cast<std::uint8_t>(udp.size() >> 8), static_cast<std::uint8_t>(udp.size()), 0, 0, 0, 17});
  EXPECT_EQ(inet_checksum(cat(pseudo, udp)), 0);
}

// Our own fragments, fed to a stack that holds the peer's address, come out
// as the datagram that was sent.
TEST_F(FragmentTxTest, OurFragmentsReassembleInAPeerStack) {
  const Bytes payload = invite_of(4000);
  const auto frames = send(v4(kOur4), v4(kPeer4), payload);
  ASSERT_EQ(frames.size(), 3u);
  NetConfig pc = default_config();
  std::memcpy(pc.mac.addr_bytes, kPeerMac.data(), 6);
  Prefix::parse("192.0.2.20/24", pc.addresses[0]);
  pc.addresses.resize(1);
  pc.sip_ports = {5090};
  NetError err = NetError::ok;
  auto peer = NetStack::create(pc, test_pool(), err);
  ASSERT_NE(peer, nullptr);
  SipDatagram d{};
  EXPECT_EQ(peer->receive(exact_mbuf(frames[1], 16), sip::Millis{0}, d), RxVerdict::consumed);
  EXPECT_EQ(peer->receive(exact_mbuf(frames[2], 16), sip::Millis{0}, d), RxVerdict::consumed);
  ASSERT_EQ(peer->receive(exact_mbuf(frames[0], 16), sip::Millis{0}, d), RxVerdict::sip);
  EXPECT_EQ(bytes_of(d.m, d.offset, d.len), payload);
  rte_pktmbuf_free(d.m);
}

}  // namespace
}  // namespace sigrelay::dataplane::net::test
