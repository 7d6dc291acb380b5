// StreamConnection against itself over loopback: handshake, SIP framing in
// both directions, batching into records, keepalives, limits and closes.
#include "tls/stream_connection.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "tests/tls/connection_pair.hpp"
#include "tests/tls/test_pki.hpp"
#include "tls/tls_context.hpp"

namespace sigrelay::tls {
namespace {

using testing::ConnectionPair;
using testing::PairOptions;
using testing::shared_pki;
using testing::sip_request;
using testing::sip_response;

// RFC 8446 §5.1 (and RFC 5246 §6.2.1): at most 2^14 plaintext bytes per record.
constexpr std::size_t kMaxRecord = 16384;

struct Contexts {
  SslCtxPtr client;
  SslCtxPtr server;
};

Contexts make_contexts(int max_version = 0) {
  const auto& pki = shared_pki();
  Contexts c;
  auto client = make_client_context({.ca_file = pki.ca_cert});
  auto server = make_server_context({.cert = pki.server_cert, .key = pki.server_key});
  EXPECT_TRUE(client) << client.error;
  EXPECT_TRUE(server) << server.error;
  c.client = std::move(client.ctx);
  c.server = std::move(server.ctx);
  if (max_version != 0 && c.client) SSL_CTX_set_max_proto_version(c.client.get(), max_version);
  return c;
}

class TlsVersionTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override { ASSERT_TRUE(shared_pki().error.empty()) << shared_pki().error; }
};

TEST_P(TlsVersionTest, HandshakeThenMessagesBothWays) {
  const Contexts ctx = make_contexts(GetParam());
  ConnectionPair p({.client_tls = ctx.client.get(), .server_tls = ctx.server.get()});
  ASSERT_TRUE(p.handshake()) << p.client->close_detail() << " / " << p.server->close_detail();
  EXPECT_EQ(p.client->tls_version(), GetParam() == TLS1_2_VERSION ? "TLSv1.2" : "TLSv1.3");
  EXPECT_EQ(p.server->tls_version(), p.client->tls_version());
  // Our policy: ECDHE + AEAD for 1.2 (the server key is ECDSA), any 1.3 suite.
  const std::string cipher(p.client->cipher());
  if (GetParam() == TLS1_2_VERSION) {
    EXPECT_EQ(cipher.rfind("ECDHE-ECDSA-", 0), 0U) << cipher;
    EXPECT_TRUE(cipher.find("GCM") != std::string::npos || cipher.find("CHACHA20") != std::string::npos) << cipher;
  } else {
    EXPECT_EQ(cipher.rfind("TLS_", 0), 0U) << cipher;
  }

  const std::string request = sip_request("up");
  ASSERT_TRUE(p.client->send(request, p.now));
  ASSERT_TRUE(p.run_until([&] { return !p.server_got.empty(); }));
  ASSERT_EQ(p.server_got.size(), 1U);
  EXPECT_EQ(p.server_got[0], request);

  const std::string response = sip_response("down");
  ASSERT_TRUE(p.server->send(response, p.now));
  ASSERT_TRUE(p.run_until([&] { return !p.client_got.empty(); }));
  ASSERT_EQ(p.client_got.size(), 1U);
  EXPECT_EQ(p.client_got[0], response);
  EXPECT_EQ(p.client->counters().messages_out, 1U);
  EXPECT_EQ(p.client->counters().messages_in, 1U);
  EXPECT_EQ(p.client->counters().bytes_out, request.size());
  EXPECT_EQ(p.client->counters().bytes_in, response.size());
}

TEST_P(TlsVersionTest, QueuedMessagesLeaveInOneRecordAndOneSend) {
  const Contexts ctx = make_contexts(GetParam());
  ConnectionPair p({.client_tls = ctx.client.get(), .server_tls = ctx.server.get()});
  ASSERT_TRUE(p.handshake());
  const auto before = p.client->counters();
  const std::vector<std::string> batch = {sip_request("a"), sip_request("b"), sip_request("c")};
  for (const auto& m : batch) ASSERT_TRUE(p.client->queue(m));
  p.client->flush(p.now);
  EXPECT_EQ(p.client->counters().records_written - before.records_written, 1U);
  EXPECT_EQ(p.client->counters().write_calls - before.write_calls, 1U);
  ASSERT_TRUE(p.run_until([&] { return p.server_got.size() == batch.size(); }));
  EXPECT_EQ(p.server_got, batch);
}

TEST_P(TlsVersionTest, LargeBatchIsCutIntoFullRecords) {
  const Contexts ctx = make_contexts(GetParam());
  ConnectionPair p({.client_tls = ctx.client.get(), .server_tls = ctx.server.get()});
  ASSERT_TRUE(p.handshake());
  const auto before = p.client->counters();
  std::vector<std::string> batch;
  std::size_t total = 0;
  for (int i = 0; i < 40; ++i) {
    batch.push_back(sip_request("m" + std::to_string(i), 1000));
    total += batch.back().size();
    ASSERT_TRUE(p.client->queue(batch.back()));
  }
  p.client->flush(p.now);
  ASSERT_TRUE(p.run_until([&] { return p.server_got.size() == batch.size(); }));
  EXPECT_EQ(p.server_got, batch);
  EXPECT_EQ(p.client->counters().records_written - before.records_written, (total + kMaxRecord - 1) / kMaxRecord);
}

TEST_P(TlsVersionTest, MessageSplitAcrossManyRecordsAndReads) {
  const Contexts ctx = make_contexts(GetParam());
  ConnectionPair p({.client_tls = ctx.client.get(), .server_tls = ctx.server.get()});
  ASSERT_TRUE(p.handshake());
  const std::string response = sip_response("split");
  const auto records_before = p.server->counters().records_written;
  for (std::size_t i = 0; i < response.size(); ++i) {
    ASSERT_TRUE(p.server->send(std::string_view(response).substr(i, 1), p.now));
    // Wait for each byte, so the client reads (and frames) one record at a time.
    ASSERT_TRUE(p.run_until([&] { return p.client->counters().bytes_in == i + 1; }));
    if (i + 1 < response.size()) {
      ASSERT_TRUE(p.client_got.empty()) << "delivered before the last byte";
    }
  }
  EXPECT_EQ(p.server->counters().records_written - records_before, response.size());
  ASSERT_EQ(p.client_got.size(), 1U);
  EXPECT_EQ(p.client_got[0], response);
}

TEST_P(TlsVersionTest, LargestAllowedMessageSpansRecords) {
  const Contexts ctx = make_contexts(GetParam());
  ConnectionPair p({.client_tls = ctx.client.get(), .server_tls = ctx.server.get()});
  ASSERT_TRUE(p.handshake());
  const std::string big = sip_request("max", 65535);  // StreamOptions' default maximum
  ASSERT_EQ(big.size(), 65535U);
  ASSERT_TRUE(p.client->send(big, p.now));
  ASSERT_TRUE(p.run_until([&] { return !p.server_got.empty(); }));
  EXPECT_EQ(p.server_got[0], big);
  EXPECT_EQ(p.server->state(), StreamState::up);
}

TEST_P(TlsVersionTest, PingIsAnsweredWithPong) {
  const Contexts ctx = make_contexts(GetParam());
  ConnectionPair p({.client_tls = ctx.client.get(), .server_tls = ctx.server.get()});
  ASSERT_TRUE(p.handshake());
  EXPECT_EQ(p.client->last_pong(), Millis::min());
  p.now += Millis{5};
  ASSERT_TRUE(p.client->send_ping(p.now));
  ASSERT_TRUE(p.run_until([&] { return p.client->counters().pongs_in == 1; }));
  EXPECT_EQ(p.server->counters().pings_in, 1U);
  EXPECT_EQ(p.server->counters().pongs_out, 1U);
  EXPECT_EQ(p.client->counters().pings_out, 1U);
  EXPECT_EQ(p.client->last_pong(), p.now);
  // Keepalives are not messages.
  EXPECT_TRUE(p.server_got.empty());
  EXPECT_TRUE(p.client_got.empty());
  EXPECT_EQ(p.client->counters().messages_out, 0U);
}

TEST_P(TlsVersionTest, PeerCloseIsSeenAsOrderly) {
  const Contexts ctx = make_contexts(GetParam());
  ConnectionPair p({.client_tls = ctx.client.get(), .server_tls = ctx.server.get()});
  ASSERT_TRUE(p.handshake());
  p.server->close(CloseReason::local);
  ASSERT_TRUE(p.run_until([&] { return p.client->state() == StreamState::closed; }));
  EXPECT_EQ(p.client->close_reason(), CloseReason::peer_closed) << p.client->close_detail();
}

TEST_P(TlsVersionTest, PeerVanishingWithoutCloseNotifyIsPeerClosed) {
  const Contexts ctx = make_contexts(GetParam());
  ConnectionPair p({.client_tls = ctx.client.get(), .server_tls = ctx.server.get()});
  ASSERT_TRUE(p.handshake());
  p.server->close(CloseReason::io_error);  // no close_notify for error closes: a bare FIN
  ASSERT_TRUE(p.run_until([&] { return p.client->state() == StreamState::closed; }));
  EXPECT_EQ(p.client->close_reason(), CloseReason::peer_closed);
  EXPECT_EQ(p.client->tls_failure(), TlsFailure::peer_closed);
  EXPECT_NE(p.client->close_detail().find("without close_notify"), std::string::npos) << p.client->close_detail();
}

TEST_P(TlsVersionTest, BytesTheSocketCannotTakeWaitForWritability) {
  const Contexts ctx = make_contexts(GetParam());
  StreamOptions big;
  big.write_buffer_limit = 40 << 20;
  ConnectionPair p({.client_tls = ctx.client.get(), .server_tls = ctx.server.get(), .client = big});
  ASSERT_TRUE(p.handshake());
  // 32 MB: more than loopback socket buffers hold while the server does not read.
  constexpr int kCount = 500;
  for (int i = 0; i < kCount; ++i) ASSERT_TRUE(p.client->queue(sip_request("bulk" + std::to_string(i), 64000)));
  p.client->flush(p.now);
  EXPECT_GT(p.client->write_queued(), 0U);
  EXPECT_TRUE(p.client->wants_write());
  ASSERT_TRUE(p.run_until([&] { return p.server_got.size() == kCount; }));
  EXPECT_EQ(p.client->write_queued(), 0U);
  EXPECT_FALSE(p.client->wants_write());
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(p.server_got[static_cast<std::size_t>(i)], sip_request("bulk" + std::to_string(i), 64000)) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Versions, TlsVersionTest, ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return info.param == TLS1_2_VERSION ? std::string("TLS12") : std::string("TLS13");
                         });

TEST(StreamConnectionTcp, MessagesBothWaysAndSplitReads) {
  ConnectionPair p({});
  ASSERT_TRUE(p.handshake());
  EXPECT_FALSE(p.client->is_tls());
  EXPECT_TRUE(p.client->tls_version().empty());
  const std::string request = sip_request("tcp");
  ASSERT_TRUE(p.client->send(request, p.now));
  ASSERT_TRUE(p.run_until([&] { return !p.server_got.empty(); }));
  EXPECT_EQ(p.server_got[0], request);
  const std::string response = sip_response("tcp");
  for (std::size_t i = 0; i < response.size(); ++i) {
    ASSERT_TRUE(p.server->send(std::string_view(response).substr(i, 1), p.now));
    ASSERT_TRUE(p.run_until([&] { return p.client->counters().bytes_in == i + 1; }));
  }
  ASSERT_EQ(p.client_got.size(), 1U);
  EXPECT_EQ(p.client_got[0], response);
  EXPECT_EQ(p.client->counters().records_written, 0U);
}

TEST(StreamConnectionTcp, QueuedMessagesLeaveInOneSend) {
  ConnectionPair p({});
  ASSERT_TRUE(p.handshake());
  const std::vector<std::string> batch = {sip_request("1"), sip_request("2"), sip_request("3"), sip_request("4")};
  for (const auto& m : batch) ASSERT_TRUE(p.client->queue(m));
  EXPECT_EQ(p.client->counters().write_calls, 0U);
  p.client->flush(p.now);
  EXPECT_EQ(p.client->counters().write_calls, 1U);
  ASSERT_TRUE(p.run_until([&] { return p.server_got.size() == batch.size(); }));
  EXPECT_EQ(p.server_got, batch);
}

TEST(StreamConnectionTcp, GatheredSegmentsFormOneMessage) {
  ConnectionPair p({});
  ASSERT_TRUE(p.handshake());
  const std::string request = sip_request("gather");
  const std::size_t cut = request.size() / 3;
  const iovec segments[] = {
      {const_cast<char*>(request.data()), cut},
      {const_cast<char*>(request.data()) + cut, 0},
      {const_cast<char*>(request.data()) + cut, request.size() - cut},
  };
  ASSERT_TRUE(p.client->send(std::span<const iovec>(segments), p.now));
  ASSERT_TRUE(p.run_until([&] { return !p.server_got.empty(); }));
  EXPECT_EQ(p.server_got[0], request);
  EXPECT_EQ(p.client->counters().messages_out, 1U);
}

TEST(StreamConnectionTcp, MessageOverTheSizeLimitClosesWithFramingError) {
  StreamOptions small;
  small.max_message_size = 4096;
  ConnectionPair p({.server = small});
  ASSERT_TRUE(p.handshake());
  const std::string at_limit = sip_request("limit", 4096);
  ASSERT_TRUE(p.client->send(at_limit, p.now));
  ASSERT_TRUE(p.run_until([&] { return !p.server_got.empty(); }));
  EXPECT_EQ(p.server_got[0], at_limit);
  ASSERT_TRUE(p.client->send(sip_request("over", 4097), p.now));
  ASSERT_TRUE(p.run_until([&] { return p.server->state() == StreamState::closed; }));
  EXPECT_EQ(p.server->close_reason(), CloseReason::framing_error);
  EXPECT_EQ(p.server_got.size(), 1U);
}

TEST(StreamConnectionTcp, UnframeableBytesCloseWithFramingError) {
  ConnectionPair p({});
  ASSERT_TRUE(p.handshake());
  // RFC 3261 §18.3: over a stream, Content-Length is mandatory.
  ASSERT_TRUE(p.client->send("OPTIONS sip:x SIP/2.0\r\nCall-ID: a\r\n\r\n", p.now));
  ASSERT_TRUE(p.run_until([&] { return p.server->state() == StreamState::closed; }));
  EXPECT_EQ(p.server->close_reason(), CloseReason::framing_error);
  EXPECT_FALSE(p.server->close_detail().empty());
  EXPECT_TRUE(p.server_got.empty());
  // The client then sees the connection go away.
  ASSERT_TRUE(p.run_until([&] { return p.client->state() == StreamState::closed; }));
  EXPECT_EQ(p.client->close_reason(), CloseReason::peer_closed);
}

TEST(StreamConnectionTcp, LoneCrlfOnTheServerSideWaitsForTheRestOfThePing) {
  ConnectionPair p({});
  ASSERT_TRUE(p.handshake());
  // RFC 5626 §3.5.1: the client pings with a double CRLF; a server must not
  // take its first half for a pong.
  ASSERT_TRUE(p.client->send("\r\n", p.now));
  ASSERT_TRUE(p.run_until([&] { return p.server->counters().bytes_in == 2; }));
  EXPECT_EQ(p.server->counters().pongs_in, 0U);
  EXPECT_EQ(p.server->counters().pings_in, 0U);
  ASSERT_TRUE(p.client->send("\r\n", p.now));
  ASSERT_TRUE(p.run_until([&] { return p.client->counters().pongs_in == 1; }));
  EXPECT_EQ(p.server->counters().pings_in, 1U);
}

TEST(StreamConnectionTcp, WriteBufferIsBoundedAndRefusalsCounted) {
  StreamOptions tiny;
  tiny.write_buffer_limit = 1000;
  ConnectionPair p({.client = tiny});
  ASSERT_TRUE(p.handshake());
  ASSERT_TRUE(p.client->queue(std::string(600, 'a')));
  EXPECT_FALSE(p.client->queue(std::string(600, 'b')));
  EXPECT_EQ(p.client->counters().send_refused, 1U);
  EXPECT_EQ(p.client->write_queued(), 600U);
  EXPECT_TRUE(p.client->queue(std::string(400, 'c')));
  EXPECT_EQ(p.client->write_queued(), 1000U);
  p.client->flush(p.now);
  EXPECT_EQ(p.client->write_queued(), 0U);
  // Room again once written.
  EXPECT_TRUE(p.client->queue(std::string(1000, 'd')));
}

TEST(StreamConnectionTcp, QueueBeforeConnectedIsSentOnceUp) {
  testing::Listener listener;
  const auto c = testing::connect_loopback(listener.port());
  StreamConnection::Params params;
  params.fd = c.fd;
  params.connect_in_progress = c.in_progress;
  StreamConnection client(std::move(params), Millis{0});
  const std::string request = sip_request("early");
  ASSERT_TRUE(client.queue(request));
  const int accepted = listener.accept();
  ASSERT_GE(accepted, 0);
  std::string got;
  StreamConnection::Params sp;
  sp.fd = accepted;
  sp.role = StreamRole::server;
  sp.on_message = [&](std::string_view m) { got = m; };
  StreamConnection server(std::move(sp), Millis{0});
  ASSERT_TRUE(testing::pump(
      {&client, &server}, [&] { return !got.empty(); }, Millis{0}));
  EXPECT_EQ(got, request);
}

TEST(StreamConnectionTcp, ClosedConnectionRefusesToQueue) {
  ConnectionPair p({});
  ASSERT_TRUE(p.handshake());
  p.client->close(CloseReason::local, "test");
  EXPECT_EQ(p.client->state(), StreamState::closed);
  EXPECT_EQ(p.client->close_reason(), CloseReason::local);
  EXPECT_EQ(p.client->close_detail(), "test");
  EXPECT_FALSE(p.client->queue(sip_request("late")));
  EXPECT_FALSE(p.client->wants_write());
  p.client->close(CloseReason::io_error);  // idempotent: the first reason stays
  EXPECT_EQ(p.client->close_reason(), CloseReason::local);
}

TEST(StreamConnectionTcp, ConnectToClosedPortFails) {
  testing::Listener bound_only(false);
  const auto c = testing::connect_loopback(bound_only.port());
  StreamConnection::Params params;
  params.fd = c.fd;
  params.connect_in_progress = c.in_progress;
  if (!c.in_progress) {
    // Some kernels refuse synchronously; then there is no connection to drive.
    ::close(c.fd);
    GTEST_SKIP() << "connect() failed synchronously";
  }
  StreamConnection client(std::move(params), Millis{0});
  ASSERT_TRUE(testing::pump(
      {&client}, [&] { return client.state() == StreamState::closed; }, Millis{0}));
  EXPECT_EQ(client.close_reason(), CloseReason::connect_failed);
  EXPECT_EQ(client.close_detail(), std::strerror(ECONNREFUSED));
}

}  // namespace
}  // namespace sigrelay::tls
