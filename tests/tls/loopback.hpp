// Sockets on 127.0.0.1 for the TLS tests: listeners on kernel-chosen ports,
// non-blocking connects, and an event pump that drives StreamConnections
// until a condition holds. Every wait is on socket readiness with a bound;
// nothing sleeps.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "tls/stream_connection.hpp"

namespace sigrelay::tls::testing {

// Upper bound for any single wait in the tests; reached only on failure.
inline constexpr int kWaitLimitMs = 10000;

// A TCP socket bound to 127.0.0.1 on a port the kernel picks. listen() is
// separate so a test can have a port that refuses connections (bound, not
// listening) and later starts accepting on the same port.
class Listener {
 public:
  explicit Listener(bool listening = true);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  bool listen();
  int fd() const { return fd_; }
  std::uint16_t port() const { return port_; }
  // Accepts one connection, waiting at most wait_ms; -1 when none came.
  // The accepted socket is non-blocking.
  int accept(int wait_ms = kWaitLimitMs);
  // Accepts whatever is pending right now, without waiting.
  std::vector<int> accept_pending();

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

struct Connecting {
  int fd = -1;
  bool in_progress = false;
};
// Non-blocking connect to 127.0.0.1:port.
Connecting connect_loopback(std::uint16_t port);

// A monotonic test clock that only moves when told.
struct FakeClock {
  Millis now{1'000'000};
  void advance(Millis d) { now += d; }
};

// Waits for readiness of the connections and dispatches it, until done()
// is true or kWaitLimitMs of real time passed without progress (returns
// false). The clock does not move.
bool pump(std::initializer_list<StreamConnection*> connections, const std::function<bool()>& done, Millis now);

}  // namespace sigrelay::tls::testing
