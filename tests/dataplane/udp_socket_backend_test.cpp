#include "dataplane/udp_socket_backend.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/socket_address.hpp"

namespace sigrelay::dataplane {
namespace {

using Clock = std::chrono::steady_clock;
// Loopback answers within microseconds; this only bounds a broken run.
constexpr auto kPatience = std::chrono::seconds(5);

UdpListen loopback(int family, std::uint16_t port = 0) {
  UdpListen l;
  if (family == AF_INET6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    a.sin6_port = htons(port);
    std::memcpy(&l.addr, &a, sizeof a);
    l.len = sizeof a;
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    std::memcpy(&l.addr, &a, sizeof a);
    l.len = sizeof a;
  }
  return l;
}

// A plain UDP socket on loopback: the far end of a test.
class Peer {
 public:
  explicit Peer(int family) : fd_(socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    UdpListen l = loopback(family);
    if (fd_ >= 0 && bind(fd_, reinterpret_cast<const sockaddr*>(&l.addr), l.len) == 0) {
      address_.len = sizeof address_.addr;
      getsockname(fd_, reinterpret_cast<sockaddr*>(&address_.addr), &address_.len);
      bound_ = true;
    }
  }
  ~Peer() {
    if (fd_ >= 0) close(fd_);
  }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  bool bound() const { return bound_; }
  int fd() const { return fd_; }
  const UdpListen& address() const { return address_; }
  // Closes the socket: its port then answers with ICMP port unreachable.
  void close_now() {
    close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
  bool bound_ = false;
  UdpListen address_;
};

// Waits (bounded) until poll reports one of `events` on fd.
bool wait_until(int fd, short events) {
  const auto deadline = Clock::now() + kPatience;
  while (Clock::now() < deadline) {
    pollfd p{fd, events, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (poll(&p, 1, static_cast<int>(left.count()) + 1) > 0 && (p.revents & events) != 0) return true;
  }
  return false;
}

// An INVITE as the in-line proxy sends it to a destination: our Via on top,
// then the headers the worker needs to find the transaction.
std::string invite(std::string_view branch, std::size_t body_bytes = 0) {
  const std::string body(body_bytes, 'x');
  return std::string("INVITE sip:+12025550123@198.51.100.7:5060 SIP/2.0\r\n") +
         "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=" + std::string(branch) + "\r\n" +
         "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKswitch1\r\n"
         "Max-Forwards: 69\r\n"
         "From: <sip:+12025550100@192.0.2.1>;tag=f00d\r\n"
         "To: <sip:+12025550123@198.51.100.7>\r\n"
         "Call-ID: 7c1e4a2b@192.0.2.1\r\n"
         "CSeq: 1 INVITE\r\n"
         "Contact: <sip:192.0.2.1:5060>\r\n"
         "Content-Type: application/sdp\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

void queue(UdpSocketBackend& b, const UdpListen& to, std::string_view text) {
  SwitchPeer p;
  p.addr = to.addr;
  p.addr_len = to.len;
  p.transport = Transport::udp;
  p.local = 0;
  const sip::Segment seg{text.data(), text.size()};
  ASSERT_TRUE(b.send(p, std::span<const sip::Segment>(&seg, 1), sip::Millis{0}));
}

void send_now(UdpSocketBackend& b, const UdpListen& to, std::string_view text) {
  queue(b, to, text);
  b.flush();
}

struct Taken {
  std::string payload;
  sockaddr_storage destination{};
};

class UdpSocketBackendTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override { make_backend(UdpSocketBackend::kUnreachableSlots); }

  void make_backend(std::size_t slots) {
    Peer probe(GetParam());
    if (!probe.bound()) GTEST_SKIP() << "loopback for this address family cannot be bound here";
    backend_ = std::make_unique<UdpSocketBackend>(std::vector<UdpListen>{loopback(GetParam())}, slots);
    std::string error;
    ASSERT_TRUE(backend_->open(-1, error)) << error;
  }

  // A loopback port nothing listens on (bound once to learn a free one).
  UdpListen closed_port() {
    Peer p(GetParam());
    EXPECT_TRUE(p.bound());
    return p.address();
  }

  // The worker's loop turn, repeated until a refused datagram is reported or
  // kPatience passes. Datagrams that arrive meanwhile go to `received_`.
  bool wait_unreachable(Taken& out) {
    const auto deadline = Clock::now() + kPatience;
    while (Clock::now() < deadline) {
      if (take(out)) return true;
      turn();
      if (take(out)) return true;
      backend_->idle(sip::Millis{100});
    }
    return false;
  }

  // Like wait_unreachable, but without taking: until `count` ICMP transport
  // failures were counted.
  bool wait_icmp_count(std::uint64_t count) {
    const auto deadline = Clock::now() + kPatience;
    while (Clock::now() < deadline) {
      turn();
      if (backend_->icmp_unreachable() >= count) return true;
      backend_->idle(sip::Millis{100});
    }
    return false;
  }

  void turn() {
    Packet* batch[8];
    const unsigned n = backend_->receive(pool_, batch, sip::Millis{0});
    for (unsigned k = 0; k < n; ++k) {
      received_.emplace_back(batch[k]->view());
      pool_.put(batch[k]);
    }
    backend_->service(sip::Millis{0});
  }

  bool take(Taken& out, std::size_t capacity = sizeof buf_) {
    const std::size_t len = backend_->take_unreachable(buf_, capacity, out.destination);
    out.payload.assign(buf_, len);
    return len > 0;
  }

  PacketPool pool_{0, 16, 4096};
  std::unique_ptr<UdpSocketBackend> backend_;
  std::vector<std::string> received_;
  char buf_[4096];
};

TEST_P(UdpSocketBackendTest, NothingReportedBeforeAnyError) {
  Taken t;
  EXPECT_FALSE(take(t));
  EXPECT_EQ(backend_->icmp_unreachable(), 0u);
}

TEST_P(UdpSocketBackendTest, PortUnreachableReportsThePayloadAndWhereItWent) {
  const UdpListen dead = closed_port();
  const std::string sent = invite("z9hG4bKsr1.dead");
  send_now(*backend_, dead, sent);

  Taken t;
  ASSERT_TRUE(wait_unreachable(t));
  EXPECT_EQ(t.payload, sent);
  EXPECT_EQ(t.destination.ss_family, GetParam());
  EXPECT_EQ(address_text(t.destination), address_text(dead.addr));
  EXPECT_EQ(backend_->icmp_unreachable(), 1u);
  EXPECT_EQ(backend_->unreachable_dropped(), 0u);
  EXPECT_EQ(backend_->send_errors(), 0u);
  // Each refusal is reported once.
  EXPECT_FALSE(take(t));
}

TEST_P(UdpSocketBackendTest, LongDatagramIsReportedAsTheQuotedPrefix) {
  // ICMP quotes at most 576 (IPv4, RFC 1812 §4.3.2.3) or 1280 (IPv6, RFC 4443
  // §2.4) bytes in all, so a 1400-byte payload cannot come back whole; the
  // top Via and the Call-ID near the start must.
  const UdpListen dead = closed_port();
  const std::string sent = invite("z9hG4bKsr1.long", 1400);
  send_now(*backend_, dead, sent);

  Taken t;
  ASSERT_TRUE(wait_unreachable(t));
  ASSERT_GT(t.payload.size(), 0u);
  EXPECT_LT(t.payload.size(), sent.size());
  EXPECT_EQ(t.payload, sent.substr(0, t.payload.size()));
  EXPECT_NE(t.payload.find("branch=z9hG4bKsr1.long"), std::string::npos);
  EXPECT_NE(t.payload.find("Call-ID: 7c1e4a2b@192.0.2.1"), std::string::npos);
}

TEST_P(UdpSocketBackendTest, DatagramQueuedBehindAnErrorIsReceivedInTheSameTurn) {
  Peer sw(GetParam());
  ASSERT_TRUE(sw.bound());
  const UdpListen dead = closed_port();
  const std::string sent = invite("z9hG4bKsr1.behind");
  send_now(*backend_, dead, sent);
  // The ICMP error is now pending on our socket...
  ASSERT_TRUE(wait_until(backend_->fds()[0], POLLERR));
  // ...and a switch's datagram waits behind it.
  const std::string options = "OPTIONS sip:relay@127.0.0.1 SIP/2.0\r\nCall-ID: behind\r\nContent-Length: 0\r\n\r\n";
  const UdpListen us = backend_->bound(0);
  ASSERT_EQ(sendto(sw.fd(), options.data(), options.size(), 0, reinterpret_cast<const sockaddr*>(&us.addr), us.len),
            static_cast<ssize_t>(options.size()));
  ASSERT_TRUE(wait_until(backend_->fds()[0], POLLIN));

  // One receive: the error must neither hide the datagram nor lose it.
  Packet* batch[8];
  const unsigned n = backend_->receive(pool_, batch, sip::Millis{0});
  ASSERT_EQ(n, 1u);
  EXPECT_EQ(batch[0]->view(), options);
  EXPECT_EQ(address_text(batch[0]->peer.addr), address_text(sw.address().addr));
  pool_.put(batch[0]);

  Taken t;
  ASSERT_TRUE(wait_unreachable(t));
  EXPECT_EQ(t.payload, sent);
  EXPECT_EQ(address_text(t.destination), address_text(dead.addr));
  EXPECT_TRUE(received_.empty());
}

TEST_P(UdpSocketBackendTest, SendAfterAnErrorStillReachesItsPeer) {
  Peer sw(GetParam());
  ASSERT_TRUE(sw.bound());
  const UdpListen dead = closed_port();
  const std::string sent = invite("z9hG4bKsr1.first");
  send_now(*backend_, dead, sent);
  ASSERT_TRUE(wait_until(backend_->fds()[0], POLLERR));

  // The kernel reports an earlier ICMP error on the next send, whatever its
  // destination; this response to a live switch must still leave.
  const std::string response = "SIP/2.0 100 Trying\r\nCall-ID: other\r\nContent-Length: 0\r\n\r\n";
  send_now(*backend_, sw.address(), response);
  ASSERT_TRUE(wait_until(sw.fd(), POLLIN));
  char got[512];
  const ssize_t len = recv(sw.fd(), got, sizeof got, MSG_DONTWAIT);
  ASSERT_GT(len, 0);
  EXPECT_EQ(std::string_view(got, static_cast<std::size_t>(len)), response);
  EXPECT_EQ(backend_->send_errors(), 0u);
  EXPECT_EQ(backend_->datagrams_sent(), 2u);

  Taken t;
  ASSERT_TRUE(wait_unreachable(t));
  EXPECT_EQ(t.payload, sent);
  EXPECT_EQ(address_text(t.destination), address_text(dead.addr));
  EXPECT_FALSE(take(t));
}

TEST_P(UdpSocketBackendTest, ErrorIsCollectedWhenNoPacketIsFreeToReceive) {
  // With the pool empty, receive() never reaches the socket; idle() still
  // sees EPOLLERR and must collect the report.
  PacketPool empty(0, 0, 64);
  const UdpListen dead = closed_port();
  const std::string sent = invite("z9hG4bKsr1.nopool");
  send_now(*backend_, dead, sent);
  ASSERT_TRUE(wait_until(backend_->fds()[0], POLLERR));

  Taken t;
  const auto deadline = Clock::now() + kPatience;
  bool found = false;
  while (!found && Clock::now() < deadline) {
    Packet* batch[8];
    EXPECT_EQ(backend_->receive(empty, batch, sip::Millis{0}), 0u);
    backend_->idle(sip::Millis{100});
    found = take(t);
  }
  ASSERT_TRUE(found);
  EXPECT_EQ(t.payload, sent);
  EXPECT_GT(backend_->pool_empty(), 0u);
}

TEST_P(UdpSocketBackendTest, SmallBufferGetsThePayloadsStart) {
  const UdpListen dead = closed_port();
  const std::string sent = invite("z9hG4bKsr1.small");
  send_now(*backend_, dead, sent);

  Taken t;
  const auto deadline = Clock::now() + kPatience;
  bool found = false;
  while (!found && Clock::now() < deadline) {
    turn();
    found = take(t, 16);
    if (!found) backend_->idle(sip::Millis{100});
  }
  ASSERT_TRUE(found);
  EXPECT_EQ(t.payload, sent.substr(0, 16));
  EXPECT_EQ(address_text(t.destination), address_text(dead.addr));
  // Taken whole, even though only a part fitted.
  EXPECT_FALSE(take(t));
}

TEST_P(UdpSocketBackendTest, FullRingKeepsTheOldestAndCountsTheRest) {
  make_backend(2);
  const UdpListen dead = closed_port();
  const std::string sent[] = {invite("z9hG4bKsr1.r0"), invite("z9hG4bKsr1.r1"), invite("z9hG4bKsr1.r2"),
                              invite("z9hG4bKsr1.r3")};
  for (const auto& s : sent) queue(*backend_, dead, s);
  backend_->flush();

  ASSERT_TRUE(wait_icmp_count(4));
  EXPECT_EQ(backend_->icmp_unreachable(), 4u);
  EXPECT_EQ(backend_->unreachable_dropped(), 2u);
  // Errors from earlier datagrams of the batch cost none of the later ones.
  EXPECT_EQ(backend_->datagrams_sent(), 4u);
  EXPECT_EQ(backend_->send_errors(), 0u);

  std::set<std::string> taken;
  Taken t;
  while (take(t)) {
    EXPECT_EQ(address_text(t.destination), address_text(dead.addr));
    taken.insert(t.payload);
  }
  ASSERT_EQ(taken.size(), 2u);
  for (const auto& p : taken) EXPECT_NE(std::find(std::begin(sent), std::end(sent), p), std::end(sent));
}

INSTANTIATE_TEST_SUITE_P(Loopback, UdpSocketBackendTest, ::testing::Values(AF_INET, AF_INET6),
                         [](const ::testing::TestParamInfo<int>& info) { return info.param == AF_INET6 ? "ipv6" : "ipv4"; });

TEST(UdpSocketBackend, SendRefusedByTheKernelIsReportedAtOnce) {
  // A destination the kernel will not send to (limited broadcast without
  // SO_BROADCAST: EACCES, nothing leaves the host) fails the same way as an
  // ICMP unreachable, without waiting for the network.
  UdpSocketBackend b({loopback(AF_INET)});
  std::string error;
  ASSERT_TRUE(b.open(-1, error)) << error;
  UdpListen broadcast = loopback(AF_INET, 9);
  reinterpret_cast<sockaddr_in*>(&broadcast.addr)->sin_addr.s_addr = htonl(INADDR_BROADCAST);
  const std::string sent = invite("z9hG4bKsr1.bcast");
  send_now(b, broadcast, sent);

  char out[4096];
  sockaddr_storage destination{};
  const std::size_t len = b.take_unreachable(out, sizeof out, destination);
  EXPECT_EQ(std::string_view(out, len), sent);
  EXPECT_EQ(address_text(destination), "255.255.255.255:9");
  EXPECT_EQ(b.send_refused(), 1u);
  EXPECT_EQ(b.send_errors(), 1u);
  EXPECT_EQ(b.datagrams_sent(), 0u);
  EXPECT_EQ(b.take_unreachable(out, sizeof out, destination), 0u);
}

}  // namespace
}  // namespace sigrelay::dataplane
