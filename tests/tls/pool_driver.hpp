// Runs an UpstreamPool and in-process test servers in the test's thread, on
// socket readiness, until a condition holds (bounded by kWaitLimitMs).
#pragma once

#include <functional>
#include <vector>

#include "tests/tls/loopback.hpp"
#include "tests/tls/test_server.hpp"
#include "tls/upstream_pool.hpp"

namespace sigrelay::tls::testing {

// The fake clock does not move here; tests move it between calls. `extra`
// runs every round (e.g. to accept on another socket) and `extra_fds` are
// waited on too.
bool drive(UpstreamPool& pool, const FakeClock& clock, const std::vector<TestServer*>& servers,
           const std::function<bool()>& done, const std::vector<int>& extra_fds = {},
           const std::function<void()>& extra = {});

}  // namespace sigrelay::tls::testing
