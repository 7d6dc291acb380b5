// The sigrelay daemon's wiring: turns a validated Config into running
// threads (sip workers, tls workers) and runs the control loop on the
// calling thread until SIGTERM or SIGINT, then shuts down gracefully:
// every INVITE still waiting gets 503, and the process exits 0.
#pragma once

#include <functional>
#include <iosfwd>

#include "control/config.hpp"

namespace sigrelay::control {

// Returns the process exit status. Prints "sigrelay: ready ..." with the
// bound addresses on `out` once every socket is open (tests wait for it),
// and the counters as one JSON line ("sigrelay: counters {...}") on exit.
// `reload_config` loads the configuration again for a hot reload (SIGHUP);
// empty: reloads are refused.
int run_daemon(const Config& cfg, std::ostream& out, std::ostream& err,
               const std::function<LoadResult()>& reload_config = {});

}  // namespace sigrelay::control
