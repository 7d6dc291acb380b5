// A client and a server StreamConnection joined over loopback TCP, each
// collecting the messages it receives. TLS on both sides when contexts are
// given, plain TCP otherwise.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tests/tls/loopback.hpp"
#include "tls/stream_connection.hpp"

namespace sigrelay::tls::testing {

struct PairOptions {
  ssl_ctx_st* client_tls = nullptr;
  ssl_ctx_st* server_tls = nullptr;
  std::string peer_name = "localhost";
  StreamOptions client{};
  StreamOptions server{};
};

class ConnectionPair {
 public:
  explicit ConnectionPair(const PairOptions& options, Millis now = FakeClock{}.now);
  ConnectionPair(const ConnectionPair&) = delete;
  ConnectionPair& operator=(const ConnectionPair&) = delete;

  // Drives both sides until both are up or one has closed; true when both are up.
  bool handshake();
  // Drives both sides until the condition holds (bounded); see pump().
  bool run_until(const std::function<bool()>& done) { return pump({client.get(), server.get()}, done, now); }

  Millis now;
  std::vector<std::string> client_got;
  std::vector<std::string> server_got;
  std::unique_ptr<StreamConnection> client;
  std::unique_ptr<StreamConnection> server;
};

// A well-formed SIP request of exactly `total` bytes (padded with a body),
// or the smallest one possible when total is 0. `tag` goes into the Call-ID.
std::string sip_request(std::string_view tag, std::size_t total = 0);
// A 200 OK response with the given tag in its Call-ID.
std::string sip_response(std::string_view tag);

}  // namespace sigrelay::tls::testing
