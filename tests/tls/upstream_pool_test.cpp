// UpstreamPool against in-process servers on loopback: failover and
// failback, the reconnect schedule (driven by an injected clock), DNS
// re-resolution, call stickiness, keepalive and the failure counters.
#include "tls/upstream_pool.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
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

Millis latest_attempt(const UpstreamPool& pool, std::size_t target) {
  Millis t = Millis::min();
  for (std::size_t i = 0; i < pool.connections_per_target(); ++i)
    t = std::max(t, pool.slot_status(target, i).next_attempt);
  return t;
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

}  // namespace
}  // namespace sigrelay::tls
