// Hot reload (SIGHUP, `sigrelayctl reload`): which settings a new
// configuration changes, which of those apply at once, and which need a
// restart. The daemon publishes the first kind through the policy board
// (dataplane/policy_board.hpp) and names the second kind in its reply.
#pragma once

#include <string>
#include <vector>

#include "control/config.hpp"

namespace sigrelay::control {

struct ReloadPlan {
  std::vector<std::string> applied;  // changed keys that take effect now
  std::vector<std::string> restart;  // changed keys that need a restart
  bool changed() const { return !applied.empty() || !restart.empty(); }
};

// The keys that can change while calls are in flight.
const std::vector<std::string>& reloadable_keys();

// Compares two valid configurations key by key.
ReloadPlan plan_reload(const Config& running, const Config& next);

// `running` with the reloadable settings of `next`: what is in force after
// the reload (settings that need a restart keep their running values).
Config merge_reloadable(const Config& running, const Config& next);

// "applied: acl.allow, emergency.numbers; needs a restart: listen.udp" or
// "no change".
std::string describe(const ReloadPlan& plan);

}  // namespace sigrelay::control
