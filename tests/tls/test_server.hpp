// A SIP-over-stream server for the pool tests: listens on a kernel-chosen
// loopback port, accepts into server-side StreamConnections (TCP or TLS)
// and records what arrives. It runs in the test's thread; service() does
// whatever is ready without waiting.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/tls/loopback.hpp"
#include "tls/stream_connection.hpp"

namespace sigrelay::tls::testing {

class TestServer {
 public:
  // listening = false: the port is bound but refuses connections until listen().
  explicit TestServer(ssl_ctx_st* tls = nullptr, bool listening = true);
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  std::uint16_t port() const { return listener_ ? listener_->port() : port_; }
  bool listen() { return listener_ && listener_->listen(); }
  // Closes the listener and every connection: the port refuses from now on.
  void stop();
  // Closes every accepted connection, keeps listening.
  void close_connections();
  void service(Millis now);
  std::vector<int> fds() const;
  std::size_t connections_up() const;

  std::vector<std::string> received;
  // Called for each message after it is recorded, e.g. to answer it.
  std::function<void(StreamConnection& from, std::string_view message)> on_message;
  std::vector<std::unique_ptr<StreamConnection>> connections;

 private:
  ssl_ctx_st* tls_;
  std::unique_ptr<Listener> listener_;
  std::vector<std::pair<std::size_t, std::size_t>> unanswered_;  // (connection, message) indexes
  std::uint16_t port_ = 0;
};

}  // namespace sigrelay::tls::testing
