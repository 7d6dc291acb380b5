#include "tests/tls/loopback.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

namespace sigrelay::tls::testing {
namespace {

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

}  // namespace

Listener::Listener(bool listening) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  sockaddr_in a = loopback(0);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
  socklen_t len = sizeof a;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  if (listening) listen();
}

Listener::~Listener() {
  if (fd_ >= 0) ::close(fd_);
}

bool Listener::listen() { return ::listen(fd_, 64) == 0; }

int Listener::accept(int wait_ms) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, wait_ms) <= 0) return -1;
  return ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

std::vector<int> Listener::accept_pending() {
  std::vector<int> fds;
  for (;;) {
    const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) break;
    fds.push_back(fd);
  }
  return fds;
}

Connecting connect_loopback(std::uint16_t port) {
  Connecting c;
  c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in a = loopback(port);
  if (::connect(c.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) c.in_progress = errno == EINPROGRESS;
  return c;
}

bool pump(std::initializer_list<StreamConnection*> connections, const std::function<bool()>& done, Millis now) {
  using Clock = std::chrono::steady_clock;
  auto last_progress = Clock::now();
  while (!done()) {
    std::vector<pollfd> fds;
    std::vector<StreamConnection*> owners;
    bool busy = false;
    for (auto* c : connections) {
      if (c->state() == StreamState::closed) continue;
      // Bytes may already sit inside OpenSSL: read them without waiting.
      if (c->input_pending()) {
        c->on_readable(now);
        busy = true;
      }
      if (c->state() == StreamState::closed) continue;
      fds.push_back({c->fd(), static_cast<short>(POLLIN | (c->wants_write() ? POLLOUT : 0)), 0});
      owners.push_back(c);
    }
    if (done()) return true;
    if (fds.empty()) return done();
    const int n = ::poll(fds.data(), fds.size(), busy ? 0 : 100);
    if (busy) last_progress = Clock::now();
    if (n > 0) {
      last_progress = Clock::now();
      for (std::size_t i = 0; i < fds.size(); ++i) {
        if ((fds[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0) owners[i]->on_readable(now);
        if ((fds[i].revents & (POLLOUT | POLLERR | POLLHUP)) != 0 && owners[i]->state() != StreamState::closed) {
          owners[i]->on_writable(now);
        }
      }
    } else if (Clock::now() - last_progress > std::chrono::milliseconds(kWaitLimitMs)) {
      return false;
    }
  }
  return true;
}

}  // namespace sigrelay::tls::testing
