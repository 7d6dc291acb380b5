// The daemon's side of sigrelayctl (docs/sigrelayctl.md): what each control
// socket command does. Runs on the control server's thread; everything it
// touches is either read with relaxed loads (counters, call records) or
// guarded by the reload mutex (the running configuration).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/config.hpp"
#include "control/stats_report.hpp"
#include "dataplane/call_log.hpp"

namespace sigrelay::control {

struct CommandContext {
  std::function<StatsInputs()> inputs;
  std::function<std::string()> reload;  // takes `mu` itself
  // start (true, path or "" for trace.pcap) or stop (false) tracing; the
  // answer starts with "error: " on failure.
  std::function<std::string(bool, const std::string&)> trace;
  const std::vector<std::unique_ptr<dataplane::CallLog>>& call_logs;
  std::mutex& mu;          // guards `running`
  const Config& running;   // the configuration in force
};

// Sets `error` for an unknown command or bad arguments.
nlohmann::json control_command(const std::string& command, const std::vector<std::string>& args, std::string& error,
                               const CommandContext& ctx);

// One call record as JSON (sigrelayctl why).
nlohmann::json call_record_json(const dataplane::CallRecord& r);

}  // namespace sigrelay::control
