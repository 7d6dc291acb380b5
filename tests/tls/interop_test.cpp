// Peers we did not write: `openssl s_server` as the upstream for handshake,
// exchange and verification; stunnel terminating TLS in front of a plain
// TCP SIP responder, reached through UpstreamPool.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "tests/tls/child_process.hpp"
#include "tests/tls/connection_pair.hpp"
#include "tests/tls/loopback.hpp"
#include "tests/tls/pool_driver.hpp"
#include "tests/tls/test_pki.hpp"
#include "tests/tls/test_server.hpp"
#include "tls/stream_connection.hpp"
#include "tls/tls_context.hpp"
#include "tls/upstream_pool.hpp"

namespace sigrelay::tls {
namespace {

using testing::ChildProcess;
using testing::find_program;
using testing::kWaitLimitMs;
using testing::shared_pki;
using testing::sip_request;
using testing::sip_response;

SslCtxPtr client_context() {
  auto r = make_client_context({.ca_file = shared_pki().ca_cert});
  EXPECT_TRUE(r) << r.error;
  return std::move(r.ctx);
}

// `openssl s_server` on a kernel-chosen port; it prints "ACCEPT host:port"
// once listening, forwards its stdin to the client and prints what the
// client sends.
class SServer {
 public:
  explicit SServer(std::vector<std::string> extra_args = {}) {
    openssl_ = find_program("openssl");
    if (openssl_.empty()) return;
    std::vector<std::string> argv = {openssl_,   "s_server",
                                     "-accept",  "127.0.0.1:0",
                                     "-naccept", "1",
                                     "-cert",    shared_pki().server_cert,
                                     "-key",     shared_pki().server_key};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    process_ = std::make_unique<ChildProcess>(argv, ChildProcess::Stdio{.pipe_stdin = true, .pipe_stdout = true});
    constexpr std::string_view kAccept = "ACCEPT 127.0.0.1:";
    std::string out = process_->read_until(std::string(kAccept), kWaitLimitMs);
    const auto at = out.find(kAccept);
    if (at == std::string::npos) return;
    out = process_->read_until("\n", kWaitLimitMs, at);
    port_ = static_cast<std::uint16_t>(std::stoi(out.substr(at + kAccept.size())));
  }
  bool found() const { return !openssl_.empty(); }
  std::uint16_t port() const { return port_; }
  ChildProcess& process() { return *process_; }

 private:
  std::string openssl_;
  std::unique_ptr<ChildProcess> process_;
  std::uint16_t port_ = 0;
};

std::unique_ptr<StreamConnection> connect_client(std::uint16_t port, ssl_ctx_st* ctx, std::string_view name,
                                                 std::vector<std::string>& got) {
  const auto c = testing::connect_loopback(port);
  StreamConnection::Params p;
  p.fd = c.fd;
  p.tls = ctx;
  p.peer_name = name;
  p.connect_in_progress = c.in_progress;
  p.on_message = [&got](std::string_view m) { got.emplace_back(m); };
  return std::make_unique<StreamConnection>(std::move(p), Millis{0});
}

class OpenSslSServer : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(shared_pki().error.empty()) << shared_pki().error;
    if (find_program("openssl").empty()) GTEST_SKIP() << "the openssl command is not installed";
  }
};

TEST_F(OpenSslSServer, HandshakeAndSipBothWays) {
  SServer server;
  ASSERT_NE(server.port(), 0) << "s_server did not report its port";
  auto ctx = client_context();
  std::vector<std::string> got;
  auto client = connect_client(server.port(), ctx.get(), "localhost", got);
  ASSERT_TRUE(testing::pump(
      {client.get()},
      [&] { return client->state() != StreamState::connecting && client->state() != StreamState::handshaking; },
      Millis{0}));
  ASSERT_EQ(client->state(), StreamState::up) << client->close_detail();
  EXPECT_EQ(client->tls_version(), "TLSv1.3");

  // s_server -> us: what we write to its stdin arrives as one framed message.
  const std::string from_server = sip_request("from-s-server");
  ASSERT_TRUE(server.process().write_stdin(from_server));
  ASSERT_TRUE(testing::pump(
      {client.get()}, [&] { return !got.empty(); }, Millis{0}));
  EXPECT_EQ(got[0], from_server);

  // us -> s_server: it prints what it decrypted.
  const std::string to_server = sip_request("to-s-server");
  ASSERT_TRUE(client->send(to_server, Millis{0}));
  const std::string out = server.process().read_until("Call-ID: to-s-server@test", kWaitLimitMs);
  EXPECT_NE(out.find("Call-ID: to-s-server@test"), std::string::npos) << out;
}

TEST_F(OpenSslSServer, HostnameMismatchIsReported) {
  SServer server;
  ASSERT_NE(server.port(), 0);
  auto ctx = client_context();
  std::vector<std::string> got;
  auto client = connect_client(server.port(), ctx.get(), "sip.example.org", got);
  ASSERT_TRUE(testing::pump(
      {client.get()}, [&] { return client->state() == StreamState::closed; }, Millis{0}));
  EXPECT_EQ(client->close_reason(), CloseReason::handshake_failed);
  EXPECT_EQ(client->tls_failure(), TlsFailure::name_mismatch);
  EXPECT_EQ(client->close_detail(), "certificate verify failed: hostname mismatch");
}

TEST_F(OpenSslSServer, UntrustedServerIsReported) {
  // Our CA is not in the system store: with the default paths, verification fails.
  SServer server;
  ASSERT_NE(server.port(), 0);
  auto r = make_client_context({});
  ASSERT_TRUE(r) << r.error;
  std::vector<std::string> got;
  auto client = connect_client(server.port(), r.ctx.get(), "localhost", got);
  ASSERT_TRUE(testing::pump(
      {client.get()}, [&] { return client->state() == StreamState::closed; }, Millis{0}));
  EXPECT_EQ(client->tls_failure(), TlsFailure::unknown_ca) << client->close_detail();
}

TEST_F(OpenSslSServer, Tls10OnlyServerIsRefused) {
  SServer server({"-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"});
  if (server.port() == 0) GTEST_SKIP() << "this openssl cannot serve TLS 1.0";
  auto ctx = client_context();
  std::vector<std::string> got;
  auto client = connect_client(server.port(), ctx.get(), "localhost", got);
  ASSERT_TRUE(testing::pump(
      {client.get()}, [&] { return client->state() == StreamState::closed; }, Millis{0}));
  EXPECT_EQ(client->close_reason(), CloseReason::handshake_failed);
  EXPECT_EQ(client->tls_failure(), TlsFailure::protocol_version) << client->close_detail();
}

// stunnel in inetd mode: we accept the pool's TCP connection ourselves and
// hand the socket to a new stunnel process as its stdin/stdout; stunnel
// does the TLS server side and connects on to our plain TCP responder.
TEST(Stunnel, PoolExchangesSipThroughStunnel) {
  ASSERT_TRUE(shared_pki().error.empty()) << shared_pki().error;
  std::string stunnel = find_program("stunnel4");
  if (stunnel.empty()) stunnel = find_program("stunnel");
  if (stunnel.empty()) GTEST_SKIP() << "stunnel is not installed (Debian: apt-get install stunnel4)";

  testing::TestServer responder;  // plain TCP behind stunnel
  responder.on_message = [](StreamConnection& from, std::string_view) { from.queue(sip_response("via-stunnel")); };
  const std::string conf = shared_pki().dir + "/stunnel.conf";
  const std::string log = shared_pki().dir + "/stunnel.log";
  {
    std::ofstream f(conf);
    f << "foreground = yes\npid =\nsyslog = no\ndebug = 5\n"
      << "connect = 127.0.0.1:" << responder.port() << "\n"
      << "cert = " << shared_pki().server_cert << "\nkey = " << shared_pki().server_key << "\n";
  }
  testing::Listener front;
  std::vector<std::unique_ptr<ChildProcess>> tunnels;
  const auto hand_over = [&] {
    for (int fd : front.accept_pending()) {
      tunnels.push_back(std::make_unique<ChildProcess>(std::vector<std::string>{stunnel, conf},
                                                       ChildProcess::Stdio{.socket = fd, .stderr_file = log}));
      ::close(fd);
    }
  };

  auto ctx = client_context();
  UpstreamPoolOptions options;
  options.targets = {{.host = "127.0.0.1", .port = front.port(), .tls = true, .server_name = "localhost"}};
  options.connections_per_target = 1;
  options.keepalive_interval = Millis{1000};
  options.keepalive_timeout = Millis{5000};
  std::vector<std::string> got;
  std::string last_change;
  UpstreamCallbacks cb;
  cb.on_message = [&](std::string_view m) { got.emplace_back(m); };
  cb.on_state_change = [&](std::size_t, std::size_t, bool, std::string_view reason) { last_change = reason; };
  UpstreamPool pool(options, ctx.get(), cb);
  testing::FakeClock clock;
  const auto stunnel_log = [&] {
    std::ifstream in(log);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };

  ASSERT_TRUE(testing::drive(
      pool, clock, {&responder}, [&] { return pool.connections_up() == 1; }, {front.fd()}, hand_over))
      << last_change << "\n"
      << stunnel_log();
  EXPECT_EQ(tunnels.size(), 1U);
  EXPECT_FALSE(pool.connection(0, 0)->tls_version().empty());

  const std::string request = sip_request("through-stunnel");
  ASSERT_TRUE(pool.send(99, request));
  ASSERT_TRUE(testing::drive(
      pool, clock, {&responder}, [&] { return !got.empty(); }, {front.fd()}, hand_over))
      << last_change << "\n"
      << stunnel_log();
  ASSERT_EQ(responder.received.size(), 1U);
  EXPECT_EQ(responder.received[0], request);
  EXPECT_EQ(got[0], sip_response("via-stunnel"));

  // A keepalive ping crosses stunnel and the responder's pong comes back.
  clock.now += options.keepalive_interval;
  ASSERT_TRUE(testing::drive(
      pool, clock, {&responder}, [&] { return pool.connection(0, 0)->counters().pongs_in == 1; }, {front.fd()},
      hand_over));
  EXPECT_EQ(pool.counters().keepalive_pings, 1U);
  EXPECT_EQ(pool.connections_up(), 1U);
}

}  // namespace
}  // namespace sigrelay::tls
