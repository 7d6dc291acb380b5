#include "tests/tls/test_server.hpp"

#include <poll.h>

namespace sigrelay::tls::testing {

TestServer::TestServer(ssl_ctx_st* tls, bool listening) : tls_(tls), listener_(std::make_unique<Listener>(listening)) {
  port_ = listener_->port();
}

TestServer::~TestServer() = default;

void TestServer::stop() {
  connections.clear();
  listener_.reset();
}

void TestServer::close_connections() {
  for (auto& c : connections) c->close(CloseReason::local);
}

void TestServer::service(Millis now) {
  if (listener_) {
    for (int fd : listener_->accept_pending()) {
      StreamConnection::Params p;
      p.fd = fd;
      p.role = StreamRole::server;
      p.tls = tls_;
      // Recorded now, answered below once the read is over (the handler
      // must not be called from inside the connection's own read).
      const std::size_t index = connections.size();
      p.on_message = [this, index](std::string_view m) {
        received.emplace_back(m);
        unanswered_.emplace_back(index, received.size() - 1);
      };
      connections.push_back(std::make_unique<StreamConnection>(std::move(p), now));
    }
  }
  std::vector<pollfd> fds;
  std::vector<StreamConnection*> owners;
  for (auto& c : connections) {
    if (c->state() != StreamState::closed && c->input_pending()) c->on_readable(now);
    if (c->state() == StreamState::closed) continue;
    fds.push_back({c->fd(), static_cast<short>(POLLIN | (c->wants_write() ? POLLOUT : 0)), 0});
    owners.push_back(c.get());
  }
  if (!fds.empty() && ::poll(fds.data(), fds.size(), 0) > 0) {
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if ((fds[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0) owners[i]->on_readable(now);
      if ((fds[i].revents & (POLLOUT | POLLERR | POLLHUP)) != 0 && owners[i]->state() != StreamState::closed) {
        owners[i]->on_writable(now);
      }
    }
  }
  for (const auto& [index, message] : unanswered_) {
    StreamConnection& from = *connections[index];
    if (on_message && from.state() != StreamState::closed) on_message(from, received[message]);
    from.flush(now);
  }
  unanswered_.clear();
}

std::vector<int> TestServer::fds() const {
  std::vector<int> out;
  if (listener_) out.push_back(listener_->fd());
  for (const auto& c : connections) {
    if (c->state() != StreamState::closed) out.push_back(c->fd());
  }
  return out;
}

std::size_t TestServer::connections_up() const {
  std::size_t n = 0;
  for (const auto& c : connections) n += c->state() == StreamState::up ? 1 : 0;
  return n;
}

}  // namespace sigrelay::tls::testing
