// sigrelayctl: the operator's client for the daemon's control socket
// (docs/sigrelayctl.md). Everything but main() lives here so tests and the
// thin sigrelayctl_main.cpp share it:
//
//   int main(int argc, char** argv) { return run_ctl(argc, argv, VERSION, std::cout, std::cerr); }
#pragma once

#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "control/control_protocol.hpp"

namespace sigrelay::control {

inline constexpr int kCtlExitOk = 0;
inline constexpr int kCtlExitFailed = 1;       // the daemon answered with an error, or answered badly
inline constexpr int kCtlExitUsage = 2;        // the command line is wrong
inline constexpr int kCtlExitUnreachable = 3;  // no daemon: socket missing, nobody listening, permission denied

inline constexpr int kCtlDefaultTimeoutS = 10;

struct CtlCommandLine {
  std::string socket_path;   // --socket/-s; empty: default_socket_path(config_path)
  std::string config_path;   // --config/-c; where the default socket path comes from
  bool json = false;         // --json: print the daemon's result as JSON
  bool help = false;         // --help/-h
  bool version = false;      // --version/-V: sigrelayctl's own version, no daemon needed
  int timeout_s = kCtlDefaultTimeoutS;  // --timeout
  std::vector<std::string> words;  // COMMAND ARGS...
  std::string error;         // non-empty: a usage error, exit kCtlExitUsage
};

// Options may come before or after the command; "--" ends them (for a Call-ID
// that starts with '-'). Checks options only; see check_ctl_command().
CtlCommandLine parse_ctl_command_line(int argc, const char* const* argv);

// Checks COMMAND ARGS against the command table and builds the request.
// Returns "" when valid, else the usage error.
std::string check_ctl_command(const std::vector<std::string>& words, ControlRequest& out);

std::string ctl_usage();

// The socket path sigrelayctl uses without --socket: control.socket from the
// config at `config_path` when it can be read (through load_config; if the
// file is readable but fails other checks, e.g. a TLS key this user may not
// read, the key's value as written), else the key's compiled-in default.
std::string default_socket_path(const std::string& config_path);

// `stats` for humans: one row per counter (nested objects as dotted names),
// values right-aligned under a COUNTER/VALUE header.
std::string format_stats_table(const nlohmann::json& stats);

// Any other result for humans: null as "ok", a string as is, an object as
// aligned "name value" lines, an array of objects as a table.
std::string format_result(const nlohmann::json& result);

// The message for a failed call_control(), naming the socket path, and the
// exit status that goes with it.
std::string call_error_message(const std::string& socket_path, const ControlCallResult& r, int timeout_s);
int call_error_exit_code(const ControlCallResult& r);

// The whole program. `version` is sigrelayctl's own, printed by --version.
int run_ctl(int argc, const char* const* argv, std::string_view version, std::ostream& out, std::ostream& err);

}  // namespace sigrelay::control
