#include "tests/tls/pool_driver.hpp"

#include <poll.h>

#include <chrono>

namespace sigrelay::tls::testing {

bool drive(UpstreamPool& pool, const FakeClock& clock, const std::vector<TestServer*>& servers,
           const std::function<bool()>& done, const std::vector<int>& extra_fds, const std::function<void()>& extra) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitLimitMs);
  for (;;) {
    pool.poll(clock.now);
    if (done()) return true;
    for (auto* s : servers) s->service(clock.now);
    if (extra) extra();
    pool.poll(clock.now);
    if (done()) return true;
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::vector<pollfd> fds{{pool.fd(), POLLIN, 0}};
    for (auto* s : servers) {
      for (int fd : s->fds()) fds.push_back({fd, POLLIN, 0});
    }
    for (int fd : extra_fds) fds.push_back({fd, POLLIN, 0});
    // Short: a DNS answer has no descriptor to wake us.
    ::poll(fds.data(), fds.size(), 20);
  }
}

}  // namespace sigrelay::tls::testing
