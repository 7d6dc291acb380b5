// UpstreamPool against in-process servers on loopback: failover and
// failback, the reconnect schedule (driven by an injected clock), DNS
// re-resolution, call stickiness, keepalive, the failure counters, and
// changing the target list while running (replace_targets, draining).
#include "tls/upstream_pool.hpp"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "tests/tls/connection_pair.hpp"
#include "tests/tls/loopback.hpp"
#include "tests/tls/pool_driver.hpp"
#include "tests/tls/test_pki.hpp"
#include "tests/tls/test_server.hpp"
#include "tls/tls_context.hpp"

namespace sigrelay::tls {
namespace {

using testing::drive;
using testing::FakeClock;
using testing::kWaitLimitMs;
using testing::Listener;
using testing::shared_pki;
using testing::sip_request;
using testing::sip_response;
using testing::TestServer;

struct Change {
  std::size_t target;
  std::size_t connection;
  bool up;
  std::string reason;
};

struct Recorder {
  std::vector<std::string> messages;
  std::vector<Change> changes;

  UpstreamCallbacks callbacks() {
    UpstreamCallbacks cb;
    cb.on_message = [this](std::string_view m) { messages.emplace_back(m); };
    cb.on_state_change = [this](std::size_t t, std::size_t c, bool up, std::string_view reason) {
      changes.push_back({t, c, up, std::string(reason)});
    };
    return cb;
  }
  bool saw_down_containing(std::size_t target, std::string_view text) const {
    return std::any_of(changes.begin(), changes.end(), [&](const Change& c) {
      return c.target == target && !c.up && c.reason.find(text) != std::string::npos;
    });
  }
};

UpstreamTarget tcp_target(std::uint16_t port, std::string host = "127.0.0.1") {
  return {.host = std::move(host), .port = port, .tls = false, .server_name = {}};
}

UpstreamPoolOptions base_options(std::vector<UpstreamTarget> targets, std::size_t per_target = 1) {
  UpstreamPoolOptions o;
  o.targets = std::move(targets);
  o.connections_per_target = per_target;
  o.backoff_min = Millis{100};
  o.backoff_max = Millis{1600};
  o.connect_timeout = Millis{5000};
  o.keepalive_interval = Millis{0};
  o.jitter_seed = 12345;
  return o;
}

bool slots_waiting(const UpstreamPool& pool, std::size_t target) {
  for (std::size_t i = 0; i < pool.connections_per_target(); ++i) {
    const auto s = pool.slot_status(target, i);
    if (s.state != SlotState::waiting || s.failures == 0) return false;
  }
  return true;
}

// A CANCEL for the request sip_request(tag) made (RFC 3261 §9.1: same
// Call-ID, CSeq number and branch).
std::string sip_cancel(std::string_view tag) {
  std::string m = "CANCEL sip:relay@127.0.0.1:5061;transport=tls SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK-";
  m += tag;
  m += "\r\nMax-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: ";
  m += tag;
  m += "@test\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n";
  return m;
}

std::vector<ConnectionInfo> in_state(const UpstreamPool& pool, ConnectionState state) {
  std::vector<ConnectionInfo> out;
  for (auto& c : pool.connections()) {
    if (c.state == state) out.push_back(c);
  }
  return out;
}

// Which of a target's connections a send() went over, from the change in
// their messages_out; npos when none or more than one moved.
std::size_t moved_connection(const UpstreamPool& pool, std::size_t target, const std::vector<std::uint64_t>& before) {
  std::size_t found = std::string::npos;
  for (std::size_t i = 0; i < before.size(); ++i) {
    if (pool.connection(target, i)->counters().messages_out == before[i]) continue;
    if (found != std::string::npos) return std::string::npos;
    found = i;
  }
  return found;
}

std::vector<std::uint64_t> messages_out(const UpstreamPool& pool, std::size_t target) {
  std::vector<std::uint64_t> out;
  for (std::size_t i = 0; i < pool.connections_per_target(); ++i) out.push_back(pool.connection(target, i)->counters().messages_out);
  return out;
}

Millis latest_attempt(const UpstreamPool& pool, std::size_t target) {
  Millis t = Millis::min();
  for (std::size_t i = 0; i < pool.connections_per_target(); ++i)
    t = std::max(t, pool.slot_status(target, i).next_attempt);
  return t;
}

// A certificate file's notAfter in unix seconds, by OpenSSL's own day
// count from the epoch (not the code under test); -1 when unreadable.
std::int64_t file_not_after(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return -1;
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (cert == nullptr) return -1;
  ASN1_TIME* epoch = ASN1_TIME_set(nullptr, 0);
  int days = 0;
  int seconds = 0;
  const int ok = ASN1_TIME_diff(&days, &seconds, epoch, X509_get0_notAfter(cert));
  ASN1_TIME_free(epoch);
  X509_free(cert);
  return ok == 1 ? std::int64_t{days} * 86400 + seconds : -1;
}

TEST(BackoffCeiling, DoublesFromMinimumUpToMaximum) {
  const Millis min{100};
  const Millis max{1000};
  EXPECT_EQ(backoff_ceiling(0, min, max), Millis{0});
  EXPECT_EQ(backoff_ceiling(1, min, max), Millis{100});
  EXPECT_EQ(backoff_ceiling(2, min, max), Millis{200});
  EXPECT_EQ(backoff_ceiling(3, min, max), Millis{400});
  EXPECT_EQ(backoff_ceiling(4, min, max), Millis{800});
  EXPECT_EQ(backoff_ceiling(5, min, max), Millis{1000});
  EXPECT_EQ(backoff_ceiling(60, min, max), Millis{1000});
  EXPECT_EQ(backoff_ceiling(4000000000U, min, max), Millis{1000});
  EXPECT_EQ(backoff_ceiling(3, Millis{500}, Millis{200}), Millis{200});
}

TEST(UpstreamPool, RefusesToStartWithoutTargets) {
  Recorder r;
  UpstreamPool pool(base_options({}), nullptr, r.callbacks());
  EXPECT_FALSE(pool.error().empty());
}

TEST(UpstreamPool, SendFailsWhileNothingIsUp) {
  TestServer refusing(nullptr, false);
  Recorder r;
  FakeClock clock;
  UpstreamPool pool(base_options({tcp_target(refusing.port())}), nullptr, r.callbacks());
  EXPECT_FALSE(pool.send(1, sip_request("early")));  // before the first poll
  ASSERT_TRUE(drive(pool, clock, {}, [&] { return slots_waiting(pool, 0); }));
  std::size_t target = 0;
  EXPECT_FALSE(pool.send(1, sip_request("refused"), &target));
  EXPECT_EQ(target, UpstreamPool::kNoTarget);
  EXPECT_FALSE(pool.send_to_target(0, 1, sip_request("refused")));
  EXPECT_FALSE(pool.send_to_target(7, 1, sip_request("no such target")));
  EXPECT_EQ(pool.counters().send_no_connection, 4U);
  EXPECT_EQ(pool.connections_up(), 0U);
  EXPECT_EQ(pool.active_target(), UpstreamPool::kNoTarget);
  EXPECT_TRUE(r.saw_down_containing(0, "connect failed: Connection refused"));
}

TEST(UpstreamPool, FailsOverToTheNextTargetAndBack) {
  TestServer first(nullptr, false);  // refuses until listen()
  TestServer second;
  Recorder r;
  FakeClock clock;
  UpstreamPool pool(base_options({tcp_target(first.port()), tcp_target(second.port())}, 2), nullptr, r.callbacks());

  ASSERT_TRUE(drive(pool, clock, {&second}, [&] { return pool.connections_up() == 2 && slots_waiting(pool, 0); }));
  EXPECT_EQ(pool.active_target(), 1U);
  EXPECT_GE(pool.counters().connect_failures, 2U);
  EXPECT_TRUE(r.saw_down_containing(0, "Connection refused"));
  std::size_t target = UpstreamPool::kNoTarget;
  ASSERT_TRUE(pool.send(7, sip_request("call-1"), &target));
  EXPECT_EQ(target, 1U);
  ASSERT_TRUE(drive(pool, clock, {&second}, [&] { return second.received.size() == 1; }));

  // The first target comes back: new calls return to it once it is up.
  ASSERT_TRUE(first.listen());
  clock.now = latest_attempt(pool, 0);
  ASSERT_TRUE(drive(pool, clock, {&first, &second}, [&] { return pool.connections_up() == 4; }));
  EXPECT_EQ(pool.active_target(), 0U);
  EXPECT_EQ(pool.counters().failbacks, 1U);
  ASSERT_TRUE(pool.send(8, sip_request("call-2"), &target));
  EXPECT_EQ(target, 0U);
  // A call already under way on the second target stays there.
  ASSERT_TRUE(pool.send_to_target(1, 7, sip_request("call-1-cancel")));
  ASSERT_TRUE(
      drive(pool, clock, {&first, &second}, [&] { return first.received.size() == 1 && second.received.size() == 2; }));
  EXPECT_NE(first.received[0].find("call-2@"), std::string::npos);
  EXPECT_NE(second.received[1].find("call-1-cancel@"), std::string::npos);

  // The first target goes away for good: traffic moves to the second.
  first.stop();
  ASSERT_TRUE(drive(pool, clock, {&second}, [&] { return pool.active_target() == 1U; }));
  EXPECT_EQ(pool.counters().failovers, 1U);
  EXPECT_GE(pool.counters().disconnects, 2U);
  ASSERT_TRUE(pool.send(9, sip_request("call-3"), &target));
  EXPECT_EQ(target, 1U);
}

TEST(UpstreamPool, OutageWhenEveryTargetIsDown) {
  TestServer only;
  Recorder r;
  FakeClock clock;
  UpstreamPool pool(base_options({tcp_target(only.port())}), nullptr, r.callbacks());
  ASSERT_TRUE(drive(pool, clock, {&only}, [&] { return pool.connections_up() == 1; }));
  only.stop();
  ASSERT_TRUE(drive(pool, clock, {}, [&] { return pool.connections_up() == 0; }));
  EXPECT_EQ(pool.active_target(), UpstreamPool::kNoTarget);
  EXPECT_EQ(pool.counters().outages, 1U);
  EXPECT_TRUE(r.saw_down_containing(0, "closed by peer"));
}

TEST(UpstreamPool, ReconnectDelayGrowsIsCappedAndResetsWhenUp) {
  TestServer refusing(nullptr, false);
  Recorder r;
  FakeClock clock;
  UpstreamPool pool(base_options({tcp_target(refusing.port())}), nullptr, r.callbacks());
  // min 100 ms doubling per failure, capped at 1600 ms.
  const Millis expected[] = {Millis{100},  Millis{200},  Millis{400}, Millis{800},
                             Millis{1600}, Millis{1600}, Millis{1600}};
  std::uint32_t failures = 0;
  for (const Millis ceiling : expected) {
    ++failures;
    ASSERT_TRUE(drive(pool, clock, {},
                      [&] {
                        const auto s = pool.slot_status(0, 0);
                        return s.state == SlotState::waiting && s.failures == failures;
                      }))
        << "failure " << failures;
    const auto s = pool.slot_status(0, 0);
    EXPECT_EQ(s.backoff_ceiling, ceiling) << "failure " << failures;
    EXPECT_GE(s.last_delay, Millis{0});
    EXPECT_LE(s.last_delay, ceiling);
    EXPECT_EQ(s.next_attempt, clock.now + s.last_delay);
    EXPECT_EQ(pool.counters().reconnects, failures - 1);
    // Nothing happens before the delay is over.
    const auto attempts = pool.counters().connect_attempts;
    if (s.last_delay > Millis{0}) {
      pool.poll(clock.now + s.last_delay - Millis{1});
      EXPECT_EQ(pool.counters().connect_attempts, attempts);
    }
    clock.now = s.next_attempt;
  }
  // Up again: the count of failures starts over.
  ASSERT_TRUE(refusing.listen());
  ASSERT_TRUE(drive(pool, clock, {&refusing}, [&] { return pool.connections_up() == 1; }));
  EXPECT_EQ(pool.slot_status(0, 0).failures, 0U);
  refusing.close_connections();
  ASSERT_TRUE(drive(pool, clock, {&refusing}, [&] { return pool.connections_up() == 0; }));
  EXPECT_EQ(pool.slot_status(0, 0).backoff_ceiling, Millis{100});
}

TEST(UpstreamPool, JitterDrawsDifferentDelays) {
  // Many connections refused at the same moment must not retry in lockstep.
  TestServer refusing(nullptr, false);
  Recorder r;
  FakeClock clock;
  auto options = base_options({tcp_target(refusing.port())}, 16);
  options.backoff_min = Millis{1000};
  UpstreamPool pool(options, nullptr, r.callbacks());
  ASSERT_TRUE(drive(pool, clock, {}, [&] { return slots_waiting(pool, 0); }));
  std::set<Millis::rep> delays;
  for (std::size_t i = 0; i < 16; ++i) delays.insert(pool.slot_status(0, i).last_delay.count());
  EXPECT_GT(delays.size(), 8U);
}

TEST(UpstreamPool, ResolvesTheHostNameAgainForEveryReconnect) {
  TestServer server;
  Recorder r;
  FakeClock clock;
  auto options = base_options({tcp_target(server.port(), "localhost")});
  options.address_family = AF_INET;
  UpstreamPool pool(options, nullptr, r.callbacks());
  ASSERT_TRUE(drive(pool, clock, {&server}, [&] { return pool.connections_up() == 1; }));
  EXPECT_EQ(pool.counters().resolutions, 1U);
  ASSERT_FALSE(r.changes.empty());
  EXPECT_TRUE(r.changes.back().up);
  EXPECT_NE(r.changes.back().reason.find("127.0.0.1:" + std::to_string(server.port())), std::string::npos);

  server.close_connections();
  ASSERT_TRUE(drive(pool, clock, {&server}, [&] { return pool.connections_up() == 0; }));
  clock.now = pool.slot_status(0, 0).next_attempt;
  ASSERT_TRUE(drive(pool, clock, {&server}, [&] { return pool.connections_up() == 1; }));
  EXPECT_EQ(pool.counters().resolutions, 2U);
  EXPECT_EQ(pool.counters().reconnects, 1U);
}

TEST(UpstreamPool, UnresolvableHostIsReportedAndRetried) {
  Recorder r;
  FakeClock clock;
  // RFC 6761 §6.4: ".invalid" never resolves.
  UpstreamPool pool(base_options({tcp_target(5060, "sigrelay-test.invalid")}), nullptr, r.callbacks());
  if (!drive(pool, clock, {}, [&] { return pool.slot_status(0, 0).failures >= 1; })) {
    GTEST_SKIP() << "the system resolver gave no answer within " << kWaitLimitMs << " ms";
  }
  EXPECT_EQ(pool.counters().resolve_failures, 1U);
  EXPECT_EQ(pool.slot_status(0, 0).last_error.rfind("cannot resolve sigrelay-test.invalid: ", 0), 0U)
      << pool.slot_status(0, 0).last_error;
  EXPECT_EQ(pool.counters().connect_attempts, 0U);
}

TEST(UpstreamPool, SameCallHashAlwaysTakesTheSameConnection) {
  TestServer server;
  Recorder r;
  FakeClock clock;
  UpstreamPool pool(base_options({tcp_target(server.port())}, 4), nullptr, r.callbacks());
  ASSERT_TRUE(drive(pool, clock, {&server}, [&] { return pool.connections_up() == 4; }));
  std::set<std::size_t> used;
  for (std::uint64_t hash = 0; hash < 64; ++hash) {
    std::vector<std::uint64_t> before;
    for (std::size_t i = 0; i < 4; ++i) before.push_back(pool.connection(0, i)->counters().messages_out);
    for (int k = 0; k < 3; ++k) ASSERT_TRUE(pool.send(hash * 0x100000001ULL, sip_request("h" + std::to_string(hash))));
    int touched = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      const auto delta = pool.connection(0, i)->counters().messages_out - before[i];
      if (delta == 0) continue;
      ++touched;
      EXPECT_EQ(delta, 3U) << "hash " << hash;
      used.insert(i);
    }
    EXPECT_EQ(touched, 1) << "hash " << hash;
  }
  EXPECT_EQ(used.size(), 4U);  // and calls spread over all connections
  pool.flush(clock.now);
  ASSERT_TRUE(drive(pool, clock, {&server}, [&] { return server.received.size() == 64 * 3; }));
}

TEST(UpstreamPool, KeepalivePingIsAnsweredAndTheConnectionStays) {
  TestServer server;
  Recorder r;
  FakeClock clock;
  auto options = base_options({tcp_target(server.port())});
  options.keepalive_interval = Millis{1000};
  options.keepalive_timeout = Millis{500};
  UpstreamPool pool(options, nullptr, r.callbacks());
  ASSERT_TRUE(drive(pool, clock, {&server}, [&] { return pool.connections_up() == 1; }));
  const Millis up = clock.now;
  pool.poll(up + Millis{999});
  EXPECT_EQ(pool.counters().keepalive_pings, 0U);
  clock.now = up + Millis{1000};
  ASSERT_TRUE(drive(pool, clock, {&server}, [&] { return pool.connection(0, 0)->counters().pongs_in == 1; }));
  EXPECT_EQ(pool.counters().keepalive_pings, 1U);
  clock.now += Millis{600};
  pool.poll(clock.now);
  EXPECT_EQ(pool.connections_up(), 1U);
  EXPECT_EQ(pool.counters().keepalive_timeouts, 0U);
  EXPECT_EQ(pool.counters().keepalive_pings, 1U);  // the pong reset the idle time
}

TEST(UpstreamPool, UnansweredKeepaliveClosesAndReconnects) {
  Listener silent;  // completes TCP handshakes, never reads or answers
  Recorder r;
  FakeClock clock;
  auto options = base_options({tcp_target(silent.port())});
  options.keepalive_interval = Millis{1000};
  options.keepalive_timeout = Millis{500};
  UpstreamPool pool(options, nullptr, r.callbacks());
  ASSERT_TRUE(drive(pool, clock, {}, [&] { return pool.connections_up() == 1; }));
  clock.now += Millis{1000};
  pool.poll(clock.now);
  EXPECT_EQ(pool.counters().keepalive_pings, 1U);
  clock.now += Millis{499};
  pool.poll(clock.now);
  EXPECT_EQ(pool.connections_up(), 1U);
  clock.now += Millis{1};
  pool.poll(clock.now);
  EXPECT_EQ(pool.connections_up(), 0U);
  EXPECT_EQ(pool.counters().keepalive_timeouts, 1U);
  EXPECT_TRUE(r.saw_down_containing(0, "keepalive timeout"));
  EXPECT_EQ(pool.slot_status(0, 0).state, SlotState::waiting);
}

class UpstreamPoolTls : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(shared_pki().error.empty()) << shared_pki().error;
    auto c = make_client_context({.ca_file = shared_pki().ca_cert});
    auto s = make_server_context({.cert = shared_pki().server_cert, .key = shared_pki().server_key});
    ASSERT_TRUE(c) << c.error;
    ASSERT_TRUE(s) << s.error;
    client_ctx = std::move(c.ctx);
    server_ctx = std::move(s.ctx);
  }
  static UpstreamTarget tls_target(std::uint16_t port, std::string server_name = "localhost") {
    return {.host = "127.0.0.1", .port = port, .tls = true, .server_name = std::move(server_name)};
  }
  SslCtxPtr client_ctx;
  SslCtxPtr server_ctx;
};

TEST_F(UpstreamPoolTls, ExchangesMessagesAndBatchesRecords) {
  TestServer server(server_ctx.get());
  server.on_message = [&](StreamConnection& from, std::string_view) { from.queue(sip_response("answer")); };
  Recorder r;
  FakeClock clock;
  UpstreamPool pool(base_options({tls_target(server.port())}), client_ctx.get(), r.callbacks());
  ASSERT_TRUE(drive(pool, clock, {&server}, [&] { return pool.connections_up() == 1; }));
  ASSERT_FALSE(r.changes.empty());
  EXPECT_EQ(r.changes.back().reason.rfind("TLSv1.3 ", 0), 0U) << r.changes.back().reason;
  EXPECT_EQ(pool.counters().connections_up, 1U);

  const auto records = pool.connection(0, 0)->counters().records_written;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(pool.send(5, sip_request("batch-" + std::to_string(i))));
  pool.flush(clock.now);
  EXPECT_EQ(pool.connection(0, 0)->counters().records_written - records, 1U);
  ASSERT_TRUE(drive(pool, clock, {&server}, [&] { return r.messages.size() == 3; }));
  EXPECT_EQ(server.received.size(), 3U);
  EXPECT_EQ(r.messages[0], sip_response("answer"));
}

TEST_F(UpstreamPoolTls, HandshakeFailureIsCountedWithItsReason) {
  TestServer server(server_ctx.get());
  Recorder r;
  FakeClock clock;
  UpstreamPool pool(base_options({tls_target(server.port(), "sip.example.net")}), client_ctx.get(), r.callbacks());
  ASSERT_TRUE(drive(pool, clock, {&server}, [&] { return pool.counters().handshake_failures == 1; }));
  EXPECT_EQ(pool.counters().tls_failures[static_cast<std::size_t>(TlsFailure::name_mismatch)], 1U);
  EXPECT_EQ(pool.connections_up(), 0U);
  EXPECT_TRUE(r.saw_down_containing(0, "TLS handshake failed: certificate verify failed: hostname mismatch"));
  EXPECT_EQ(pool.slot_status(0, 0).state, SlotState::waiting);
}

TEST_F(UpstreamPoolTls, HandshakeThatNeverCompletesTimesOut) {
  Listener mute;  // accepts TCP (kernel backlog), never speaks TLS
  Recorder r;
  FakeClock clock;
  UpstreamPool pool(base_options({tls_target(mute.port())}), client_ctx.get(), r.callbacks());
  ASSERT_TRUE(drive(pool, clock, {}, [&] {
    const auto* c = pool.connection(0, 0);
    return c != nullptr && c->state() == StreamState::handshaking && !c->wants_write();
  }));
  clock.now += Millis{4999};
  pool.poll(clock.now);
  EXPECT_EQ(pool.counters().connect_timeouts, 0U);
  clock.now += Millis{1};
  pool.poll(clock.now);
  EXPECT_EQ(pool.counters().connect_timeouts, 1U);
  EXPECT_TRUE(r.saw_down_containing(0, "connect timeout"));
}

TEST_F(UpstreamPoolTls, UpstreamSendingUnframeableBytesIsCounted) {
  TestServer server(server_ctx.get());
  server.on_message = [&](StreamConnection& from, std::string_view) {
    from.queue("SIP/2.0 200 OK\r\nCall-ID: x\r\n\r\n");  // no Content-Length (RFC 3261 §18.3)
  };
  Recorder r;
  FakeClock clock;
  UpstreamPool pool(base_options({tls_target(server.port())}), client_ctx.get(), r.callbacks());
  ASSERT_TRUE(drive(pool, clock, {&server}, [&] { return pool.connections_up() == 1; }));
  ASSERT_TRUE(pool.send(1, sip_request("provoke")));
  ASSERT_TRUE(drive(pool, clock, {&server}, [&] { return pool.counters().framing_errors == 1; }));
  EXPECT_TRUE(r.messages.empty());
  EXPECT_TRUE(r.saw_down_containing(0, "SIP framing error"));
}

TEST_F(UpstreamPoolTls, PlainTcpTargetNeedsNoTlsContext) {
  TestServer server;
  Recorder r;
  FakeClock clock;
  UpstreamPool pool(base_options({tcp_target(server.port())}), nullptr, r.callbacks());
  ASSERT_TRUE(drive(pool, clock, {&server}, [&] { return pool.connections_up() == 1; }));
  EXPECT_EQ(r.changes.back().reason.rfind("TCP ", 0), 0U);
  EXPECT_FALSE(pool.connection(0, 0)->is_tls());
}

TEST_F(UpstreamPoolTls, TlsTargetWithoutContextFailsClearly) {
  TestServer server(server_ctx.get());
  Recorder r;
  FakeClock clock;
  UpstreamPool pool(base_options({tls_target(server.port())}), nullptr, r.callbacks());
  ASSERT_TRUE(drive(pool, clock, {&server}, [&] { return pool.slot_status(0, 0).failures == 1; }));
  EXPECT_NE(pool.slot_status(0, 0).last_error.find("no TLS context"), std::string::npos);
}


// ---------------------------------------------------------------------------
// Changing the targets while running (hot reload).

TEST(UpstreamPoolReplace, AddingATargetKeepsTheConnectionsThatStay) {
  TestServer a;
  TestServer b;
  Recorder r;
  FakeClock clock;
  auto options = base_options({tcp_target(a.port())}, 2);
  UpstreamPool pool(options, nullptr, r.callbacks());
  ASSERT_TRUE(drive(pool, clock, {&a}, [&] { return pool.connections_up() == 2 && a.connections_up() == 2; }));
  const StreamConnection* kept0 = pool.connection(0, 0);
  const StreamConnection* kept1 = pool.connection(0, 1);
  ASSERT_TRUE(pool.send(11, sip_request("call-11")));

  const auto attempts = pool.counters().connect_attempts;
  options.targets = {tcp_target(a.port()), tcp_target(b.port())};
  std::string error;
  ASSERT_TRUE(pool.replace_targets(options, clock.now, Millis{5000}, error)) << error;
  // The new target's connections are opened at once, before any poll().
  EXPECT_EQ(pool.counters().connect_attempts, attempts + 2);
  EXPECT_EQ(pool.target_count(), 2U);
  EXPECT_EQ(pool.connection(0, 0), kept0);
  EXPECT_EQ(pool.connection(0, 1), kept1);
  EXPECT_EQ(pool.active_target(), 0U);
  EXPECT_EQ(pool.connections_draining(), 0U);
  ASSERT_TRUE(drive(pool, clock, {&a, &b}, [&] { return pool.connections_up() == 4 && b.connections_up() == 2; }));
  EXPECT_EQ(a.connections.size(), 2U);  // the target that stayed was not reconnected
  EXPECT_EQ(pool.counters().replacements, 1U);
  EXPECT_EQ(pool.counters().drains_started, 0U);

  // New failover order: b first. New calls go to b; the call already on a
  // keeps its connection there.
  options.targets = {tcp_target(b.port()), tcp_target(a.port())};
  ASSERT_TRUE(pool.replace_targets(options, clock.now, Millis{5000}, error)) << error;
  EXPECT_EQ(pool.connection(1, 0), kept0);
  EXPECT_EQ(pool.connection(1, 1), kept1);
  EXPECT_EQ(pool.active_target(), 0U);
  EXPECT_EQ(pool.target(0).port, b.port());
  std::size_t target = 9;
  ASSERT_TRUE(pool.send(12, sip_request("call-12"), &target));
  EXPECT_EQ(target, 0U);
  ASSERT_TRUE(pool.send(11, sip_cancel("call-11"), &target));
  EXPECT_EQ(target, 1U);
  ASSERT_TRUE(drive(pool, clock, {&a, &b}, [&] { return a.received.size() == 2 && b.received.size() == 1; }));
  EXPECT_EQ(a.received[1], sip_cancel("call-11"));
  EXPECT_EQ(b.received[0], sip_request("call-12"));
  EXPECT_EQ(a.connections.size(), 2U);
  EXPECT_EQ(b.connections.size(), 2U);
  EXPECT_EQ(pool.counters().drains_started, 0U);
}

TEST(UpstreamPoolReplace, ChangingConnectionsPerTargetKeepsCallsOnTheirConnection) {
  TestServer a;
  Recorder r;
  FakeClock clock;
  auto options = base_options({tcp_target(a.port())}, 2);
  UpstreamPool pool(options, nullptr, r.callbacks());
  ASSERT_TRUE(drive(pool, clock, {&a}, [&] { return pool.connections_up() == 2 && a.connections_up() == 2; }));
  const StreamConnection* first = pool.connection(0, 0);
  const auto hash = [](std::uint64_t call) { return call * 0x9E3779B97F4A7C15ULL + 1; };
  constexpr std::uint64_t kCalls = 32;
  std::vector<std::size_t> where;
  for (std::uint64_t c = 0; c < kCalls; ++c) {
    const auto before = messages_out(pool, 0);
    ASSERT_TRUE(pool.send(hash(c), sip_request("invite-" + std::to_string(c))));
    where.push_back(moved_connection(pool, 0, before));
    ASSERT_NE(where.back(), std::string::npos);
  }
  ASSERT_EQ(std::count(where.begin(), where.end(), 0U) + std::count(where.begin(), where.end(), 1U), 32);

  // Three per target: a third connection opens, the two others stay, and
  // every call's CANCEL takes the connection its INVITE took.
  options.connections_per_target = 3;
  std::string error;
  ASSERT_TRUE(pool.replace_targets(options, clock.now, Millis{5000}, error)) << error;
  ASSERT_TRUE(drive(pool, clock, {&a}, [&] { return pool.connections_up() == 3 && a.connections_up() == 3; }));
  EXPECT_EQ(pool.connection(0, 0), first);
  EXPECT_EQ(a.connections.size(), 3U);
  for (std::uint64_t c = 0; c < kCalls; ++c) {
    const auto before = messages_out(pool, 0);
    ASSERT_TRUE(pool.send(hash(c), sip_cancel("invite-" + std::to_string(c))));
    EXPECT_EQ(moved_connection(pool, 0, before), where[c]) << "call " << c;
  }
  // New calls use the third connection too.
  bool third = false;
  for (std::uint64_t c = kCalls; c < 2 * kCalls; ++c) {
    const auto before = messages_out(pool, 0);
    ASSERT_TRUE(pool.send(hash(c), sip_request("invite-" + std::to_string(c))));
    third = third || moved_connection(pool, 0, before) == 2;
  }
  EXPECT_TRUE(third);

  // One per target: connections 1 and 2 drain; calls on 1 still reach it.
  const auto second_before = pool.connection(0, 1)->counters().messages_out;
  options.connections_per_target = 1;
  ASSERT_TRUE(pool.replace_targets(options, clock.now, Millis{5000}, error)) << error;
  EXPECT_EQ(pool.connections_up(), 1U);
  EXPECT_EQ(pool.connections_draining(), 2U);
  EXPECT_EQ(pool.counters().drains_started, 2U);
  EXPECT_EQ(pool.connection(0, 0), first);
  std::uint64_t on_second = 0;
  for (std::uint64_t c = 0; c < kCalls; ++c) {
    const auto draining_sends = pool.counters().draining_sends;
    const auto before = first->counters().messages_out;
    ASSERT_TRUE(pool.send(hash(c), sip_request("ack-" + std::to_string(c))));
    if (where[c] == 1) {
      ++on_second;
      EXPECT_EQ(pool.counters().draining_sends, draining_sends + 1) << "call " << c;
      EXPECT_EQ(first->counters().messages_out, before) << "call " << c;
    } else {
      EXPECT_EQ(pool.counters().draining_sends, draining_sends) << "call " << c;
      EXPECT_EQ(first->counters().messages_out, before + 1) << "call " << c;
    }
  }
  EXPECT_GT(on_second, 0U);
  const auto draining = in_state(pool, ConnectionState::draining);
  ASSERT_EQ(draining.size(), 2U);
  for (const auto& d : draining) {
    EXPECT_EQ(d.target_index, UpstreamPool::kNoTarget);
    if (d.index == 1) {
      EXPECT_EQ(d.messages_out, second_before + on_second);
    }
  }
}

TEST_F(UpstreamPoolTls, RemovedTargetStillDeliversAnswersThenClosesAfterTheDrain) {
  TestServer leaving(server_ctx.get());  // answers only when the test says so
  TestServer staying(server_ctx.get());
  Recorder r;
  FakeClock clock;
  UpstreamPool pool(base_options({tls_target(leaving.port()), tls_target(staying.port())}, 2), client_ctx.get(),
                    r.callbacks());
  ASSERT_TRUE(drive(pool, clock, {&leaving, &staying}, [&] {
    return pool.connections_up() == 4 && leaving.connections_up() == 2 && staying.connections_up() == 2;
  }));
  constexpr std::uint64_t kInvite = 0xfeed;
  std::size_t target = 9;
  ASSERT_TRUE(pool.send(kInvite, sip_request("invite"), &target));
  EXPECT_EQ(target, 0U);
  ASSERT_TRUE(drive(pool, clock, {&leaving, &staying}, [&] { return leaving.received.size() == 1; }));
  StreamConnection* carrier = nullptr;
  for (auto& c : leaving.connections) {
    if (c->counters().messages_in == 1) carrier = c.get();
  }
  ASSERT_NE(carrier, nullptr);

  const Millis reload = clock.now;
  constexpr Millis kDrain{5000};
  std::string error;
  ASSERT_TRUE(pool.replace_targets(base_options({tls_target(staying.port())}, 2), reload, kDrain, error)) << error;
  EXPECT_EQ(pool.target_count(), 1U);
  EXPECT_EQ(pool.connections_up(), 2U);
  EXPECT_EQ(pool.connections_draining(), 2U);
  EXPECT_EQ(pool.active_target(), 0U);
  EXPECT_EQ(pool.counters().drains_started, 2U);

  // The CANCEL follows its INVITE over the same, draining, connection.
  ASSERT_TRUE(pool.send(kInvite, sip_cancel("invite"), &target));
  EXPECT_EQ(target, UpstreamPool::kNoTarget);
  EXPECT_EQ(pool.counters().draining_sends, 1U);
  // A call started after the reload goes to the target that stays, and so
  // does its CANCEL: that its hash once led to the leaving target does not matter.
  ASSERT_TRUE(pool.send(0xbeef, sip_request("new-call"), &target));
  EXPECT_EQ(target, 0U);
  ASSERT_TRUE(pool.send(0xbeef, sip_cancel("new-call"), &target));
  EXPECT_EQ(target, 0U);
  ASSERT_TRUE(drive(pool, clock, {&leaving, &staying},
                    [&] { return leaving.received.size() == 2 && staying.received.size() == 2; }));
  EXPECT_EQ(carrier->counters().messages_in, 2U);
  EXPECT_EQ(leaving.received[1], sip_cancel("invite"));
  EXPECT_EQ(staying.received[0], sip_request("new-call"));
  EXPECT_EQ(staying.received[1], sip_cancel("new-call"));

  // The answer to the INVITE comes back over the draining connection.
  ASSERT_TRUE(carrier->send(sip_response("invite"), clock.now));
  ASSERT_TRUE(drive(pool, clock, {&leaving, &staying}, [&] { return r.messages.size() == 1; }));
  EXPECT_EQ(r.messages[0], sip_response("invite"));

  // Open until the drain is over, then closed, counted and not reopened.
  const auto attempts = pool.counters().connect_attempts;
  clock.now = reload + kDrain - Millis{1};
  pool.poll(clock.now);
  EXPECT_EQ(pool.connections_draining(), 2U);
  clock.now = reload + kDrain;
  pool.poll(clock.now);
  EXPECT_EQ(pool.connections_draining(), 0U);
  EXPECT_EQ(pool.counters().connections_drained, 2U);
  EXPECT_EQ(pool.counters().drains_cut_short, 0U);
  EXPECT_EQ(pool.counters().disconnects, 0U);
  ASSERT_TRUE(drive(pool, clock, {&leaving, &staying}, [&] { return leaving.connections_up() == 0; }));
  EXPECT_EQ(carrier->close_reason(), CloseReason::peer_closed);  // our close_notify
  EXPECT_EQ(leaving.connections.size(), 2U);
  EXPECT_EQ(pool.counters().connect_attempts, attempts);
  EXPECT_EQ(pool.connections().size(), 2U);
  // That call is over; its hash is a new call's now and goes to the target in the list.
  ASSERT_TRUE(pool.send(kInvite, sip_request("invite-again"), &target));
  EXPECT_EQ(target, 0U);
}

TEST(UpstreamPoolReplace, DrainingConnectionClosedByThePeerIsNotReopened) {
  TestServer leaving;
  TestServer staying;
  Recorder r;
  FakeClock clock;
  UpstreamPool pool(base_options({tcp_target(leaving.port()), tcp_target(staying.port())}), nullptr, r.callbacks());
  ASSERT_TRUE(drive(pool, clock, {&leaving, &staying},
                    [&] { return pool.connections_up() == 2 && leaving.connections_up() == 1; }));
  std::string error;
  ASSERT_TRUE(pool.replace_targets(base_options({tcp_target(staying.port())}), clock.now, Millis{5000}, error));
  EXPECT_EQ(pool.connections_draining(), 1U);
  const auto attempts = pool.counters().connect_attempts;
  leaving.close_connections();
  ASSERT_TRUE(drive(pool, clock, {&leaving, &staying}, [&] { return pool.connections_draining() == 0; }));
  EXPECT_EQ(pool.counters().drains_cut_short, 1U);
  EXPECT_EQ(pool.counters().connections_drained, 0U);
  EXPECT_EQ(pool.counters().connect_attempts, attempts);
  EXPECT_EQ(leaving.connections.size(), 1U);
  EXPECT_EQ(pool.connections().size(), 1U);
}

TEST(UpstreamPoolReplace, NewCallsUseDrainingConnectionsUntilANewTargetIsUp) {
  TestServer old_server;
  TestServer new_server(nullptr, false);  // refuses until listen()
  Recorder r;
  FakeClock clock;
  UpstreamPool pool(base_options({tcp_target(old_server.port())}), nullptr, r.callbacks());
  ASSERT_TRUE(drive(pool, clock, {&old_server}, [&] { return pool.connections_up() == 1; }));
  const Millis reload = clock.now;
  constexpr Millis kDrain{1000};
  std::string error;
  ASSERT_TRUE(pool.replace_targets(base_options({tcp_target(new_server.port())}), reload, kDrain, error)) << error;
  ASSERT_TRUE(drive(pool, clock, {&old_server}, [&] { return slots_waiting(pool, 0); }));
  EXPECT_EQ(pool.connections_up(), 0U);
  EXPECT_EQ(pool.active_target(), UpstreamPool::kNoTarget);

  // Nothing in the new list is up: new calls stay on the old connection
  // instead of being turned away, each keeping it open a whole drain longer.
  std::size_t target = 9;
  ASSERT_TRUE(pool.send(21, sip_request("call-21"), &target));
  EXPECT_EQ(target, UpstreamPool::kNoTarget);
  clock.now = reload + Millis{800};
  pool.poll(clock.now);
  ASSERT_TRUE(pool.send(22, sip_request("call-22")));
  EXPECT_EQ(pool.counters().drain_fallback_calls, 2U);
  ASSERT_TRUE(pool.send(22, sip_cancel("call-22")));  // not a new call
  EXPECT_EQ(pool.counters().drain_fallback_calls, 2U);
  EXPECT_EQ(pool.counters().draining_sends, 1U);
  const auto draining = in_state(pool, ConnectionState::draining);
  ASSERT_EQ(draining.size(), 1U);
  EXPECT_EQ(draining[0].drain_until, reload + Millis{800} + kDrain);
  ASSERT_TRUE(drive(pool, clock, {&old_server}, [&] { return old_server.received.size() == 3; }));

  clock.now = reload + Millis{800} + kDrain - Millis{1};
  pool.poll(clock.now);
  EXPECT_EQ(pool.connections_draining(), 1U);
  clock.now += Millis{1};
  pool.poll(clock.now);
  EXPECT_EQ(pool.connections_draining(), 0U);
  EXPECT_EQ(pool.counters().connections_drained, 1U);
  // Nothing left at all: the caller answers locally (fail open).
  const auto refused = pool.counters().send_no_connection;
  EXPECT_FALSE(pool.send(23, sip_request("call-23")));
  EXPECT_EQ(pool.counters().send_no_connection, refused + 1);

  ASSERT_TRUE(new_server.listen());
  clock.now = std::max(clock.now, pool.slot_status(0, 0).next_attempt);
  ASSERT_TRUE(drive(pool, clock, {&new_server}, [&] { return pool.connections_up() == 1; }));
  ASSERT_TRUE(pool.send(24, sip_request("call-24"), &target));
  EXPECT_EQ(target, 0U);
  EXPECT_EQ(pool.counters().drain_fallback_calls, 2U);
}

TEST(UpstreamPoolReplace, InvalidOptionsAreRefusedAndChangeNothing) {
  TestServer a;
  Recorder r;
  FakeClock clock;
  UpstreamPool pool(base_options({tcp_target(a.port())}, 2), nullptr, r.callbacks());
  ASSERT_TRUE(drive(pool, clock, {&a}, [&] { return pool.connections_up() == 2; }));
  const StreamConnection* kept = pool.connection(0, 1);
  const auto attempts = pool.counters().connect_attempts;

  const std::string a_text = "sip:127.0.0.1:" + std::to_string(a.port()) + ";transport=tcp";
  auto too_many = base_options({tcp_target(a.port())}, kMaxConnectionsPerTarget + 1);
  auto none = base_options({tcp_target(a.port())}, 1);
  none.connections_per_target = 0;
  const UpstreamTarget tls_one{.host = "127.0.0.1", .port = 5061, .tls = true, .server_name = {}};
  struct Case {
    UpstreamPoolOptions options;
    Millis drain;
    std::string why;
  };
  const std::vector<Case> cases = {
      {base_options({}), Millis{1000}, "no upstream targets"},
      {none, Millis{1000}, "connections_per_target is 0"},
      {too_many, Millis{1000}, "is over the limit of 1024"},
      {base_options({tcp_target(0)}), Millis{1000}, "target 1 (sip:127.0.0.1:0;transport=tcp) has port 0"},
      {base_options({tcp_target(a.port()), tcp_target(5060, "[]")}), Millis{1000}, "target 2 has no host"},
      {base_options({tcp_target(a.port()), tcp_target(5060), tcp_target(a.port())}), Millis{1000},
       "target 3 (" + a_text + ") is the same as target 1"},
      {base_options({tcp_target(5060, "sip.example.com"), tcp_target(5060, "SIP.Example.COM")}), Millis{1000},
       "target 2 (sip:SIP.Example.COM:5060;transport=tcp) is the same as target 1"},
      {base_options({tls_one}), Millis{1000}, "needs TLS but the pool has no TLS context"},
      {base_options({tcp_target(a.port())}), Millis{-1}, "negative drain time"},
  };
  for (const auto& c : cases) {
    std::string error;
    EXPECT_FALSE(pool.replace_targets(c.options, clock.now, c.drain, error)) << c.why;
    EXPECT_NE(error.find(c.why), std::string::npos) << "got: " << error;
  }
  EXPECT_EQ(pool.counters().replace_rejected, cases.size());
  EXPECT_EQ(pool.counters().replacements, 0U);
  EXPECT_EQ(pool.target_count(), 1U);
  EXPECT_EQ(pool.target(0).port, a.port());
  EXPECT_EQ(pool.connections_per_target(), 2U);
  EXPECT_EQ(pool.connection(0, 1), kept);
  EXPECT_EQ(pool.connections_up(), 2U);
  EXPECT_EQ(pool.connections_draining(), 0U);
  EXPECT_EQ(pool.counters().connect_attempts, attempts);
  ASSERT_TRUE(pool.send(1, sip_request("still-works")));
  ASSERT_TRUE(drive(pool, clock, {&a}, [&] { return a.received.size() == 1; }));
}

TEST(UpstreamPoolReplace, RefusedFromInsideACallback) {
  TestServer a;
  TestServer b;
  a.on_message = [](StreamConnection& from, std::string_view) { from.queue(sip_response("answer")); };
  FakeClock clock;
  UpstreamPool* self = nullptr;
  bool called = false;
  bool accepted = true;
  std::string error;
  UpstreamCallbacks cb;
  cb.on_message = [&](std::string_view) {
    called = true;
    accepted = self->replace_targets(base_options({tcp_target(b.port())}), clock.now, Millis{1000}, error);
  };
  UpstreamPool pool(base_options({tcp_target(a.port())}), nullptr, cb);
  self = &pool;
  ASSERT_TRUE(drive(pool, clock, {&a}, [&] { return pool.connections_up() == 1; }));
  ASSERT_TRUE(pool.send(1, sip_request("provoke")));
  ASSERT_TRUE(drive(pool, clock, {&a}, [&] { return called; }));
  EXPECT_FALSE(accepted);
  EXPECT_NE(error.find("inside a pool callback"), std::string::npos) << error;
  EXPECT_EQ(pool.target(0).port, a.port());
  EXPECT_EQ(pool.connections_up(), 1U);
}

TEST(UpstreamPoolReplace, RefusedFromACallbackThatReplaceTargetsRuns) {
  TestServer a;
  TestServer b;
  FakeClock clock;
  UpstreamPool* self = nullptr;
  std::vector<std::string> downs;
  bool accepted = true;
  std::string nested_error;
  UpstreamCallbacks cb;
  cb.on_state_change = [&](std::size_t, std::size_t, bool up, std::string_view reason) {
    if (up) return;
    downs.emplace_back(reason);
    accepted = self->replace_targets(base_options({tcp_target(b.port())}), clock.now, Millis{1000}, nested_error);
  };
  auto options = base_options({tcp_target(a.port())});
  options.address_family = AF_INET;
  UpstreamPool pool(options, nullptr, cb);
  self = &pool;
  ASSERT_TRUE(drive(pool, clock, {&a}, [&] { return pool.connections_up() == 1; }));
  // An IPv6 literal while only IPv4 is allowed has no address: its first
  // attempt fails inside replace_targets() itself, and reports it.
  options.targets.push_back(tcp_target(5060, "::1"));
  std::string error;
  ASSERT_TRUE(pool.replace_targets(options, clock.now, Millis{1000}, error)) << error;
  ASSERT_EQ(downs.size(), 1U);
  EXPECT_EQ(downs[0], "no usable address for ::1");
  EXPECT_FALSE(accepted);
  EXPECT_NE(nested_error.find("inside a pool callback"), std::string::npos) << nested_error;
  EXPECT_EQ(pool.target_count(), 2U);
  EXPECT_EQ(pool.target(0).port, a.port());
  EXPECT_EQ(pool.counters().replacements, 1U);
}

TEST_F(UpstreamPoolTls, ConnectionsReportWhatAnOperatorNeeds) {
  TestServer good(server_ctx.get());
  good.on_message = [](StreamConnection& from, std::string_view) { from.queue(sip_response("answer")); };
  TestServer refusing(nullptr, false);
  Listener mute;  // accepts TCP, never speaks TLS
  Recorder r;
  FakeClock clock;
  const Millis t0 = clock.now;
  UpstreamPool pool(
      base_options({tls_target(good.port()), tcp_target(refusing.port()), tls_target(mute.port(), "127.0.0.1")}),
      client_ctx.get(), r.callbacks());
  ASSERT_TRUE(drive(pool, clock, {&good}, [&] {
    const auto* c = pool.connection(2, 0);
    return pool.connections_up() == 1 && pool.slot_status(1, 0).failures >= 1 && c != nullptr &&
           c->state() == StreamState::handshaking && !c->wants_write();
  }));
  ASSERT_TRUE(pool.send(1, sip_request("ask")));
  ASSERT_TRUE(drive(pool, clock, {&good}, [&] { return r.messages.size() == 1; }));

  const std::string good_text = "sip:127.0.0.1:" + std::to_string(good.port()) + ";transport=tls (verify localhost)";
  auto info = pool.connections();
  ASSERT_EQ(info.size(), 3U);
  EXPECT_EQ(info[0].target, good_text);
  EXPECT_EQ(info[0].target_index, 0U);
  EXPECT_EQ(info[0].index, 0U);
  EXPECT_EQ(info[0].state, ConnectionState::up);
  EXPECT_EQ(info[0].since, t0);
  EXPECT_EQ(info[0].address, "127.0.0.1:" + std::to_string(good.port()));
  EXPECT_EQ(info[0].tls_version, "TLSv1.3");
  EXPECT_EQ(info[0].cipher.rfind("TLS_", 0), 0U) << info[0].cipher;
  EXPECT_EQ(info[0].messages_out, 1U);
  EXPECT_EQ(info[0].messages_in, 1U);
  EXPECT_EQ(info[0].bytes_out, sip_request("ask").size());
  EXPECT_EQ(info[0].failures, 0U);
  EXPECT_EQ(info[1].target, "sip:127.0.0.1:" + std::to_string(refusing.port()) + ";transport=tcp");
  EXPECT_EQ(info[1].target_index, 1U);
  EXPECT_EQ(info[1].state, ConnectionState::down);
  EXPECT_NE(info[1].last_error.find("Connection refused"), std::string::npos) << info[1].last_error;
  EXPECT_GE(info[1].failures, 1U);
  EXPECT_TRUE(info[1].tls_version.empty());
  // An IP literal checked as such: nothing added to the text.
  EXPECT_EQ(info[2].target, "sip:127.0.0.1:" + std::to_string(mute.port()) + ";transport=tls");
  EXPECT_EQ(info[2].state, ConnectionState::handshaking);
  EXPECT_EQ(info[2].since, t0);
  EXPECT_TRUE(info[2].tls_version.empty());

  // A reload removes the good target: its connection shows as draining,
  // after the targets of the new list.
  clock.now = t0 + Millis{100};
  std::string error;
  ASSERT_TRUE(pool.replace_targets(base_options({tls_target(mute.port(), "127.0.0.1"), tcp_target(refusing.port())}),
                                   clock.now, Millis{3000}, error))
      << error;
  info = pool.connections();
  ASSERT_EQ(info.size(), 3U);
  EXPECT_EQ(info[0].state, ConnectionState::handshaking);  // kept as it was
  EXPECT_EQ(info[0].since, t0);
  EXPECT_EQ(info[0].target_index, 0U);
  EXPECT_EQ(info[1].target_index, 1U);
  EXPECT_EQ(info[2].target, good_text);
  EXPECT_EQ(info[2].state, ConnectionState::draining);
  EXPECT_EQ(info[2].target_index, UpstreamPool::kNoTarget);
  EXPECT_EQ(info[2].since, t0 + Millis{100});
  EXPECT_EQ(info[2].drain_until, t0 + Millis{3100});
  EXPECT_EQ(info[2].tls_version, "TLSv1.3");
  EXPECT_EQ(info[2].messages_in, 1U);

  // Still the service's certificate while draining.
  EXPECT_EQ(info[2].peer_not_after, file_not_after(shared_pki().server_cert));
  EXPECT_EQ(to_string(ConnectionState::down), "down");
  EXPECT_EQ(to_string(ConnectionState::resolving), "resolving");
  EXPECT_EQ(to_string(ConnectionState::connecting), "connecting");
  EXPECT_EQ(to_string(ConnectionState::handshaking), "handshaking");
  EXPECT_EQ(to_string(ConnectionState::up), "up");
  EXPECT_EQ(to_string(ConnectionState::draining), "draining");
}

// The service's certificate expiry, for the daemon's 30-day alarm: known
// once a TLS connection is up, none for TCP, none before the handshake,
// and gone with the connection.
TEST_F(UpstreamPoolTls, ConnectionsReportTheServicesCertificateExpiry) {
  const std::int64_t server_not_after = file_not_after(shared_pki().server_cert);
  ASSERT_GT(server_not_after, 0);
  TestServer tls_server(server_ctx.get());
  TestServer tcp_server;
  Listener mute;  // accepts TCP, never speaks TLS
  Recorder r;
  FakeClock clock;
  UpstreamPool pool(
      base_options({tls_target(tls_server.port()), tcp_target(tcp_server.port()), tls_target(mute.port(), "127.0.0.1")}),
      client_ctx.get(), r.callbacks());
  auto info = pool.connections();
  ASSERT_EQ(info.size(), 3U);
  for (const auto& c : info) EXPECT_EQ(c.peer_not_after, 0) << c.target;

  ASSERT_TRUE(drive(pool, clock, {&tls_server, &tcp_server}, [&] {
    const auto* c = pool.connection(2, 0);
    return pool.connections_up() == 2 && c != nullptr && c->state() == StreamState::handshaking && !c->wants_write();
  }));
  info = pool.connections();
  ASSERT_EQ(info.size(), 3U);
  ASSERT_EQ(info[0].state, ConnectionState::up);
  EXPECT_EQ(info[0].peer_not_after, server_not_after);
  EXPECT_EQ(info[0].peer_subject, "CN=localhost");
  ASSERT_EQ(info[1].state, ConnectionState::up);
  EXPECT_EQ(info[1].peer_not_after, 0);  // TCP
  EXPECT_TRUE(info[1].peer_subject.empty());
  ASSERT_EQ(info[2].state, ConnectionState::handshaking);
  EXPECT_EQ(info[2].peer_not_after, 0);
  EXPECT_TRUE(info[2].peer_subject.empty());

  // The service goes away: no certificate until a connection is up again.
  tls_server.stop();
  ASSERT_TRUE(drive(pool, clock, {&tcp_server}, [&] { return pool.connections_up() == 1; }));
  info = pool.connections();
  ASSERT_EQ(info[0].state, ConnectionState::down);
  EXPECT_EQ(info[0].peer_not_after, 0);
  EXPECT_TRUE(info[0].peer_subject.empty());
}

}  // namespace
}  // namespace sigrelay::tls
