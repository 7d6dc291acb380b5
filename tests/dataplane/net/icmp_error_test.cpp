// ICMP errors about SIP datagrams we sent: ICMPv4 destination unreachable
// (RFC 792; "fragmentation needed" excepted) and parameter problem, ICMPv6
// destination unreachable and parameter problem (RFC 4443 §3.1, §3.4), the
// quote limits of RFC 792 / RFC 1812 §4.3.2.3 / RFC 4443 §2.4(c) and the
// RFC 4884 length attribute; what take_unreachable() hands to the SIP layer.
#include <arpa/inet.h>

#include <cstring>

#include "tests/dataplane/net/net_test_support.hpp"

namespace sigrelay::dataplane::net::test {
namespace {

const std::string kInviteHead =
    "INVITE sip:+15551230000@203.0.113.5 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-r1-abcdef\r\n"
    "Max-Forwards: 69\r\n";
const Bytes kInvite = text(kInviteHead + "\r\n");
constexpr std::uint16_t kSipPort = 5060;
constexpr std::uint16_t kCarrierPort = 5080;
const Ip4 kRouter4{203, 0, 113, 1};

const Ip6& far6() {
  static const Ip6 a = ip6("2001:db8:1::7");
  return a;
}
const Ip6& router6() {
  static const Ip6 a = ip6("2001:db8:ff::1");
  return a;
}

Bytes slice(const Bytes& b, std::size_t at, std::size_t n) {
  return Bytes(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(at + n));
}

Bytes big_invite() {
  std::string s = kInviteHead;
  for (int i = 0; s.size() < 1200; ++i) s += "X-Pad-" + std::to_string(i) + ": 0123456789abcdef0123456789\r\n";
  return text(s + "\r\n");
}

// The IPv4 datagram we sent, as a router would quote it (untruncated).
Bytes sent4(const Bytes& payload, std::uint16_t sport = kSipPort, const Ip4& src = kOur4, std::uint16_t dport = kCarrierPort) {
  return ipv4(src, kFar4, 17, udp4(src, kFar4, sport, dport, payload));
}

Bytes sent6(const Bytes& payload, std::uint16_t sport = kSipPort, const Ip6& src = our6()) {
  return ipv6(src, far6(), 17, udp6(src, far6(), sport, kCarrierPort, payload));
}

// An ICMPv4 message: type, code, 4 type-specific bytes, quote; checksum set.
Bytes icmp4(std::uint8_t type, std::uint8_t code, const Bytes& quote, const Bytes& rest = {0, 0, 0, 0}) {
  Bytes m = cat(cat(Bytes{type, code, 0, 0}, rest), quote);
  const std::uint16_t c = inet_checksum(m);
  m[2] = static_cast<std::uint8_t>(c >> 8);
  m[3] = static_cast<std::uint8_t>(c);
  return m;
}

Bytes frame4(const Bytes& icmp) {
  return cat(ether(kOurMac, kGatewayMac, 0x0800), ipv4(kRouter4, kOur4, 1, icmp, 4242));
}

Bytes error4(std::uint8_t type, std::uint8_t code, const Bytes& quote) { return frame4(icmp4(type, code, quote)); }

Bytes error6(std::uint8_t type, std::uint8_t code, const Bytes& quote, const Bytes& rest = {0, 0, 0, 0}) {
  return cat(ether(kOurMac, kGatewayMac, 0x86dd),
             ipv6(router6(), our6(), 58, icmp6(router6(), our6(), type, code, cat(rest, quote))));
}

struct Report {
  Bytes payload;
  sockaddr_storage destination{};
};

class IcmpErrorTest : public NetStackTest {
 protected:
  std::vector<Report> take_all() {
    std::vector<Report> v;
    char buf[2048];
    Report r;
    while (const std::size_t n = stack_->take_unreachable(buf, sizeof buf, r.destination)) {
      r.payload.assign(buf, buf + n);
      v.push_back(r);
      r = Report{};
    }
    return v;
  }
  void expect_nothing_reported() {
    EXPECT_TRUE(take_all().empty());
    EXPECT_EQ(stack_->counters().icmp_unreachable, 0u);
  }
};

void expect_v4(const sockaddr_storage& ss, const Ip4& ip, std::uint16_t port) {
  ASSERT_EQ(ss.ss_family, AF_INET);
  sockaddr_in sin;
  std::memcpy(&sin, &ss, sizeof sin);
  EXPECT_EQ(std::memcmp(&sin.sin_addr, ip.data(), 4), 0);
  EXPECT_EQ(ntohs(sin.sin_port), port);
}

void expect_v6(const sockaddr_storage& ss, const Ip6& ip, std::uint16_t port) {
  ASSERT_EQ(ss.ss_family, AF_INET6);
  sockaddr_in6 sin6;
  std::memcpy(&sin6, &ss, sizeof sin6);
  EXPECT_EQ(std::memcmp(&sin6.sin6_addr, ip.data(), 16), 0);
  EXPECT_EQ(ntohs(sin6.sin6_port), port);
}

TEST_F(IcmpErrorTest, Ipv4PortUnreachableReportsPayloadAndDestination) {
  ASSERT_EQ(feed(error4(3, 3, sent4(kInvite))), RxVerdict::consumed);
  const auto reports = take_all();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].payload, kInvite);
  expect_v4(reports[0].destination, kFar4, kCarrierPort);
  EXPECT_EQ(stack_->counters().icmp_unreachable, 1u);
  EXPECT_EQ(stack_->counters().rx_to_kernel, 0u);
  EXPECT_EQ(stack_->tx_pending(), 0u);  // never an ICMP error about an ICMP error (RFC 1122 §3.2.2)
}

TEST_F(IcmpErrorTest, Ipv6PortUnreachableReportsPayloadAndDestination) {
  ASSERT_EQ(feed(error6(1, 4, sent6(kInvite))), RxVerdict::consumed);
  const auto reports = take_all();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].payload, kInvite);
  expect_v6(reports[0].destination, far6(), kCarrierPort);
  EXPECT_EQ(stack_->counters().icmp_unreachable, 1u);
  EXPECT_EQ(stack_->counters().rx_to_kernel, 0u);
}

TEST_F(IcmpErrorTest, TransportFailuresAreReportedOtherErrorsGoToTheKernel) {
  // RFC 3261 §18.4: network, host, port, protocol unreachable (and the
  // administratively prohibited kind) and parameter problem are transport
  // failures.
  for (std::uint8_t code : {0, 1, 2, 3, 9, 10, 13}) {
    SCOPED_TRACE(static_cast<int>(code));
    EXPECT_EQ(feed(error4(3, code, sent4(kInvite))), RxVerdict::consumed);
  }
  EXPECT_EQ(feed(frame4(icmp4(12, 0, sent4(kInvite), {20, 0, 0, 0}))), RxVerdict::consumed);  // pointer to byte 20
  for (std::uint8_t code : {0, 1, 3, 4, 5, 6}) {
    SCOPED_TRACE(static_cast<int>(code));
    EXPECT_EQ(feed(error6(1, code, sent6(kInvite))), RxVerdict::consumed);
  }
  EXPECT_EQ(feed(error6(4, 0, sent6(kInvite), {0, 0, 0, 6})), RxVerdict::consumed);
  EXPECT_EQ(stack_->counters().icmp_unreachable, 7u + 1 + 6 + 1);
  EXPECT_EQ(take_all().size(), 15u);

  // Fragmentation needed / packet too big only lower the path MTU; time
  // exceeded is not a failure of the destination.
  const Bytes frag_needed = frame4(icmp4(3, 4, sent4(kInvite), {0, 0, 0x05, 0xdc}));
  ASSERT_EQ(feed(frag_needed), RxVerdict::to_kernel);
  EXPECT_EQ(bytes_of(out_.m), frag_needed);
  EXPECT_EQ(feed(error4(11, 0, sent4(kInvite))), RxVerdict::to_kernel);
  EXPECT_EQ(feed(error6(2, 0, sent6(kInvite), {0, 0, 0x05, 0x00})), RxVerdict::to_kernel);
  EXPECT_EQ(feed(error6(3, 0, sent6(kInvite))), RxVerdict::to_kernel);
  EXPECT_TRUE(take_all().empty());
  EXPECT_EQ(stack_->counters().icmp_unreachable, 15u);
  EXPECT_EQ(stack_->counters().rx_to_kernel, 4u);
}

TEST_F(IcmpErrorTest, EveryConfiguredSipPortCounts) {
  NetConfig c = default_config();
  c.sip_ports = {5060, 5062};
  make_stack(c);
  ASSERT_EQ(feed(error4(3, 3, sent4(kInvite, 5062))), RxVerdict::consumed);
  ASSERT_EQ(feed(error6(1, 4, sent6(kInvite, 5062))), RxVerdict::consumed);
  EXPECT_EQ(take_all().size(), 2u);
}

TEST_F(IcmpErrorTest, QuotesOfDatagramsWeDidNotSendAreLeftToTheKernel) {
  const Ip4 other4{192, 0, 2, 99};
  const Bytes tcp_seg = cat(Bytes{0x13, 0xc4, 0x13, 0xd8, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff}, Bytes(4, 0));
  const std::vector<Bytes> frames = {
      error4(3, 3, sent4(kInvite, 5070)),                     // not a SIP port (the kernel's own socket)
      error4(3, 3, sent4(kInvite, kSipPort, other4)),         // not our address
      error4(3, 3, ipv4(kOur4, kFar4, 6, tcp_seg)),           // TCP: the kernel's connection
      error6(1, 4, sent6(kInvite, 5070)),
      error6(1, 4, sent6(kInvite, kSipPort, ip6("2001:db8::99"))),
      error6(1, 4, ipv6(our6(), far6(), 6, tcp_seg)),
  };
  for (const auto& f : frames) {
    ASSERT_EQ(feed(f), RxVerdict::to_kernel);
    EXPECT_EQ(bytes_of(out_.m), f);  // untouched
  }
  expect_nothing_reported();
  EXPECT_EQ(stack_->counters().icmp_error_drop_malformed, 0u);
}

TEST_F(IcmpErrorTest, BadChecksumIsDropped) {
  Bytes v4 = error4(3, 3, sent4(kInvite));
  v4[v4.size() - 3] ^= 0x20;  // a quoted byte changed after the checksum
  EXPECT_EQ(feed(v4), RxVerdict::consumed);
  Bytes v6 = error6(1, 4, sent6(kInvite));
  v6[14 + 40 + 2] ^= 0x01;
  EXPECT_EQ(feed(v6), RxVerdict::consumed);
  // ICMPv6 covers the pseudo-header (RFC 4443 §2.3): a checksum computed for
  // another source is wrong.
  const Bytes msg = icmp6(peer6(), our6(), 1, 4, cat(Bytes(4, 0), sent6(kInvite)));
  EXPECT_EQ(feed(cat(ether(kOurMac, kGatewayMac, 0x86dd), ipv6(router6(), our6(), 58, msg))), RxVerdict::consumed);
  EXPECT_EQ(stack_->counters().icmp_error_drop_malformed, 3u);
  expect_nothing_reported();
}

TEST_F(IcmpErrorTest, ShorterThanTheIcmpHeaderIsDropped) {
  EXPECT_EQ(feed(frame4(Bytes{3, 3, 0xfc, 0xfc})), RxVerdict::consumed);
  EXPECT_EQ(stack_->counters().icmp_error_drop_malformed, 1u);
}

TEST_F(IcmpErrorTest, QuoteOfOnlyTheUdpHeaderIsCountedAsUnquoted) {
  // RFC 792 asks for the IP header and 64 bits of the datagram, no more.
  EXPECT_EQ(feed(error4(3, 1, slice(sent4(kInvite), 0, 28))), RxVerdict::consumed);
  EXPECT_EQ(feed(error6(1, 3, slice(sent6(kInvite), 0, 48))), RxVerdict::consumed);
  EXPECT_EQ(stack_->counters().icmp_unreachable, 2u);
  EXPECT_EQ(stack_->counters().icmp_unreachable_unquoted, 2u);
  EXPECT_TRUE(take_all().empty());
}

TEST_F(IcmpErrorTest, Ipv4QuoteCutAt576BytesGivesTheStartOfTheMessage) {
  const Bytes big = big_invite();
  // RFC 1812 §4.3.2.3: the whole error at most 576 bytes.
  const Bytes quote = slice(sent4(big), 0, 576 - 20 - 8);
  const Bytes frame = error4(3, 3, quote);
  ASSERT_EQ(frame.size(), 14u + 576u);
  ASSERT_EQ(feed(frame), RxVerdict::consumed);
  const auto reports = take_all();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].payload, slice(big, 0, 576 - 56));
}

TEST_F(IcmpErrorTest, Ipv6QuoteCutAt1280BytesGivesTheStartOfTheMessage) {
  const Bytes big = big_invite();
  const Bytes quote = slice(sent6(big), 0, 1280 - 48);  // RFC 4443 §2.4(c)
  ASSERT_EQ(feed(error6(1, 4, quote)), RxVerdict::consumed);
  const auto reports = take_all();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].payload, slice(big, 0, 1280 - 96));
}

TEST_F(IcmpErrorTest, FirstFragmentsAreOursLaterOnesCannotBeTold) {
  const Bytes big = big_invite();
  const Bytes udp = udp4(kOur4, kFar4, kSipPort, kCarrierPort, big);
  // IPv4, MTU 576: the first fragment carries the UDP header and 544 bytes.
  const Bytes first = ipv4(kOur4, kFar4, 17, slice(udp, 0, 552), 77, 0x2000);
  ASSERT_EQ(feed(error4(3, 1, slice(first, 0, 548))), RxVerdict::consumed);
  // A later fragment has no UDP header, even when its data happens to look
  // like ours (port 5060 to 5080, length 512).
  const Bytes lookalike = cat(Bytes{0x13, 0xc4, 0x13, 0xd8, 0x02, 0x00, 0, 0}, slice(udp, 560, 544));
  const Bytes later = ipv4(kOur4, kFar4, 17, lookalike, 77, 0x2000 | 69);
  EXPECT_EQ(feed(error4(3, 1, slice(later, 0, 548))), RxVerdict::to_kernel);
  // IPv6: the Fragment header sits between the fixed header and UDP.
  const Bytes udp6_bytes = udp6(our6(), far6(), kSipPort, kCarrierPort, big);
  const Bytes first6 = ipv6(our6(), far6(), 44, cat(Bytes{17, 0, 0x00, 0x01, 0, 0, 0, 9}, slice(udp6_bytes, 0, 600)));
  ASSERT_EQ(feed(error6(1, 3, first6)), RxVerdict::consumed);
  const Bytes later6 = ipv6(our6(), far6(), 44, cat(Bytes{17, 0, 0x02, 0x59, 0, 0, 0, 9}, slice(lookalike, 0, 200)));
  EXPECT_EQ(feed(error6(1, 3, later6)), RxVerdict::to_kernel);
  const auto reports = take_all();
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].payload, slice(big, 0, 548 - 28));
  expect_v4(reports[0].destination, kFar4, kCarrierPort);
  EXPECT_EQ(reports[1].payload, slice(big, 0, 600 - 8));
  expect_v6(reports[1].destination, far6(), kCarrierPort);
}

TEST_F(IcmpErrorTest, Rfc4884ExtensionsAreNotTakenForSipText) {
  const Bytes big = big_invite();
  // An MPLS label stack object behind a 128-byte quote (RFC 4884 §4.1, RFC 4950).
  Bytes ext = {0x20, 0, 0, 0, 0, 8, 1, 1, 0x00, 0x01, 0x41, 0xff};
  const std::uint16_t c = inet_checksum(ext);
  ext[2] = static_cast<std::uint8_t>(c >> 8);
  ext[3] = static_cast<std::uint8_t>(c);
  // ICMPv4: length in 32-bit words in the sixth byte.
  ASSERT_EQ(feed(frame4(icmp4(3, 1, cat(slice(sent4(big), 0, 128), ext), {0, 128 / 4, 0, 0}))), RxVerdict::consumed);
  // ICMPv6: length in 64-bit words in the fifth byte.
  ASSERT_EQ(feed(error6(1, 0, cat(slice(sent6(big), 0, 128), ext), {128 / 8, 0, 0, 0})), RxVerdict::consumed);
  const auto reports = take_all();
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].payload, slice(big, 0, 128 - 28));
  EXPECT_EQ(reports[1].payload, slice(big, 0, 128 - 48));
}

TEST_F(IcmpErrorTest, WholeDatagramQuotedEndsAtTheUdpLength) {
  // A short datagram padded to 128 bytes (RFC 4884 §5.5 without a length
  // attribute from an older router): the padding is not part of the message.
  Bytes quote = sent4(text("OPTIONS sip:x SIP/2.0\r\n\r\n"));
  quote.resize(128, 0);
  ASSERT_EQ(feed(error4(3, 3, quote)), RxVerdict::consumed);
  const auto reports = take_all();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].payload, text("OPTIONS sip:x SIP/2.0\r\n\r\n"));
}

TEST_F(IcmpErrorTest, ChainedFrameIsGathered) {
  const Bytes big = big_invite();
  const Bytes frame = error4(3, 3, slice(sent4(big), 0, 548));
  rte_mbuf* m = pool_mbuf(frame, 100);  // headers in the first segment, the quote spread over six
  ASSERT_GT(m->nb_segs, 5);
  ASSERT_EQ(stack_->receive(m, sip::Millis{0}, out_), RxVerdict::consumed);
  const auto reports = take_all();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].payload, slice(big, 0, 520));
}

TEST_F(IcmpErrorTest, FullRingCountsAndDropsThenRecovers) {
  constexpr unsigned kSlots = 64;
  for (unsigned i = 0; i <= kSlots; ++i) {
    EXPECT_EQ(feed(error4(3, 3, sent4(kInvite, kSipPort, kOur4, static_cast<std::uint16_t>(6000 + i)))), RxVerdict::consumed);
  }
  EXPECT_EQ(stack_->counters().icmp_unreachable, kSlots + 1);
  EXPECT_EQ(stack_->counters().icmp_unreachable_dropped, 1u);
  auto reports = take_all();
  ASSERT_EQ(reports.size(), kSlots);
  for (unsigned i = 0; i < kSlots; ++i) expect_v4(reports[i].destination, kFar4, static_cast<std::uint16_t>(6000 + i));
  EXPECT_EQ(feed(error4(3, 3, sent4(kInvite, kSipPort, kOur4, 7000))), RxVerdict::consumed);
  reports = take_all();
  ASSERT_EQ(reports.size(), 1u);
  expect_v4(reports[0].destination, kFar4, 7000);
  EXPECT_EQ(stack_->counters().icmp_unreachable_dropped, 1u);
}

TEST_F(IcmpErrorTest, SmallBufferGetsTheStartZeroCapacityTakesNothing) {
  ASSERT_EQ(feed(error4(3, 3, sent4(kInvite))), RxVerdict::consumed);
  char buf[16];
  sockaddr_storage dst{};
  EXPECT_EQ(stack_->take_unreachable(buf, 0, dst), 0u);
  ASSERT_EQ(stack_->take_unreachable(buf, 10, dst), 10u);
  EXPECT_EQ(Bytes(buf, buf + 10), slice(kInvite, 0, 10));
  expect_v4(dst, kFar4, kCarrierPort);
  EXPECT_EQ(stack_->take_unreachable(buf, sizeof buf, dst), 0u);
}

// A valid error whose quote stops at every length: short of the IP and UDP
// headers it cannot be tied to us, with exactly them it is unquoted, beyond
// them it reports what is there. The frames are exactly their size (ASan).
TEST_F(IcmpErrorTest, QuoteCutAtEveryLength) {
  struct Case {
    Bytes sent;
    std::size_t headers;
    bool v6;
  };
  const Case cases[] = {{sent4(kInvite), 20 + 8, false}, {sent6(kInvite), 40 + 8, true}};
  std::uint64_t unquoted = 0;
  for (const auto& c : cases) {
    for (std::size_t n = 0; n <= c.sent.size(); ++n) {
      SCOPED_TRACE(n);
      const Bytes quote = slice(c.sent, 0, n);
      const RxVerdict v = feed(c.v6 ? error6(1, 4, quote) : error4(3, 3, quote));
      const auto reports = take_all();
      if (n < c.headers) {
        EXPECT_EQ(v, RxVerdict::to_kernel);
        EXPECT_TRUE(reports.empty());
        continue;
      }
      EXPECT_EQ(v, RxVerdict::consumed);
      if (n == c.headers) {
        EXPECT_TRUE(reports.empty());
        ++unquoted;
      } else {
        ASSERT_EQ(reports.size(), 1u);
        EXPECT_EQ(reports[0].payload, slice(kInvite, 0, n - c.headers));
      }
    }
  }
  EXPECT_EQ(stack_->counters().icmp_unreachable_unquoted, unquoted);
  EXPECT_EQ(unquoted, 2u);
  EXPECT_EQ(stack_->counters().icmp_error_drop_malformed, 0u);
}

// Every prefix of whole error frames: never a crash, never a read past the
// end (exact buffers under ASan), never a report: a cut frame is shorter
// than its IP header says.
TEST_F(IcmpErrorTest, TruncatedFramesAtEveryLengthAreSafe) {
  const Bytes big = big_invite();
  const Bytes udp6_bytes = udp6(our6(), far6(), kSipPort, kCarrierPort, big);
  Bytes ext = {0x20, 0, 0, 0, 0, 8, 1, 1, 0x00, 0x01, 0x41, 0xff};
  const std::vector<Bytes> frames = {
      error4(3, 3, sent4(kInvite)),
      error4(3, 3, slice(sent4(kInvite), 0, 28)),
      frame4(icmp4(12, 0, sent4(kInvite), {20, 0, 0, 0})),
      frame4(icmp4(3, 1, cat(slice(sent4(big), 0, 128), ext), {0, 32, 0, 0})),
      error6(1, 4, sent6(kInvite)),
      error6(4, 0, sent6(kInvite), {0, 0, 0, 6}),
      error6(1, 3, ipv6(our6(), far6(), 44, cat(Bytes{17, 0, 0, 1, 0, 0, 0, 9}, slice(udp6_bytes, 0, 200)))),
  };
  for (const auto& full : frames) {
    for (std::size_t len = 0; len < full.size(); ++len) {
      SCOPED_TRACE(len);
      rte_mbuf* m = exact_mbuf(slice(full, 0, len), 0);
      const RxVerdict v = stack_->receive(m, sip::Millis{0}, out_);
      EXPECT_NE(v, RxVerdict::sip);
      if (v == RxVerdict::to_kernel) rte_pktmbuf_free(out_.m);
    }
  }
  expect_nothing_reported();
  EXPECT_EQ(stack_->counters().rx_sip, 0u);
  EXPECT_EQ(stack_->tx_pending(), 0u);
}

}  // namespace
}  // namespace sigrelay::dataplane::net::test
