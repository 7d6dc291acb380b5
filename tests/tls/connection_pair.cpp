#include "tests/tls/connection_pair.hpp"

namespace sigrelay::tls::testing {
namespace {

std::string build(std::string_view start_line, std::string_view tag, std::size_t body_size) {
  std::string m(start_line);
  m += "\r\n";
  m += "Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK-";
  m += tag;
  m += "\r\nMax-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: ";
  m += tag;
  m += "@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: ";
  m += std::to_string(body_size);
  m += "\r\n\r\n";
  m.append(body_size, 'x');
  return m;
}

}  // namespace

ConnectionPair::ConnectionPair(const PairOptions& options, Millis start) : now(start) {
  Listener listener;
  const Connecting c = connect_loopback(listener.port());
  const int accepted = listener.accept();
  StreamConnection::Params cp;
  cp.fd = c.fd;
  cp.role = StreamRole::client;
  cp.tls = options.client_tls;
  cp.peer_name = options.peer_name;
  cp.connect_in_progress = c.in_progress;
  cp.options = options.client;
  cp.on_message = [this](std::string_view m) { client_got.emplace_back(m); };
  client = std::make_unique<StreamConnection>(std::move(cp), now);
  StreamConnection::Params sp;
  sp.fd = accepted;
  sp.role = StreamRole::server;
  sp.tls = options.server_tls;
  sp.options = options.server;
  sp.on_message = [this](std::string_view m) { server_got.emplace_back(m); };
  server = std::make_unique<StreamConnection>(std::move(sp), now);
}

bool ConnectionPair::handshake() {
  const auto settled = [this] {
    const auto c = client->state();
    const auto s = server->state();
    return (c == StreamState::up && s == StreamState::up) || c == StreamState::closed || s == StreamState::closed;
  };
  run_until(settled);
  return client->state() == StreamState::up && server->state() == StreamState::up;
}

std::string sip_request(std::string_view tag, std::size_t total) {
  const std::string start = "OPTIONS sip:relay@127.0.0.1:5061;transport=tls SIP/2.0";
  std::string m = build(start, tag, 0);
  if (total <= m.size()) return m;
  // The Content-Length digits grow with the body; settle on a fixed point.
  std::size_t body = total - m.size();
  for (int i = 0; i < 4; ++i) {
    m = build(start, tag, body);
    if (m.size() == total) break;
    body -= m.size() - total;
  }
  return m;
}

std::string sip_response(std::string_view tag) { return build("SIP/2.0 200 OK", tag, 0); }

}  // namespace sigrelay::tls::testing
