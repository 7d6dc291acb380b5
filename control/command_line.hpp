// The daemon's command line, so its main() stays a thin wiring file:
//
//   auto cl = parse_command_line(argc, argv);
//   if (!cl.error.empty()) { std::cerr << cl.error << '\n'; return kExitUsage; }
//   if (cl.help) { std::cout << usage(argv[0]); return 0; }
//   if (cl.check_only) return run_check_config(cl, std::cout, std::cerr);
//   LoadResult r = load_config(cl.config_path, cl.overrides);
//   print_diagnostics(r, cl.config_path, std::cerr);
//   if (!r.config) return kExitConfig;
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "control/config.hpp"

namespace sigrelay::control {

inline constexpr std::string_view kDefaultConfigPath = "/etc/sigrelay/sigrelay.conf";
inline constexpr int kExitConfig = 1;  // the configuration is invalid
inline constexpr int kExitUsage = 2;   // the command line itself is wrong

struct ParsedCommandLine {
  std::string config_path = std::string(kDefaultConfigPath);  // --config/-c; "" = no file
  bool check_only = false;             // --check-config
  bool help = false;                   // --help/-h
  bool version = false;                // --version/-V
  std::vector<std::string> overrides;  // "--key=value" for every config key given, in order
  std::string error;                   // non-empty: print it, exit kExitUsage
};

// Config keys given as "--key=value" or "--key value" are collected as
// overrides for load_config(); unknown options and stray words are errors.
ParsedCommandLine parse_command_line(int argc, const char* const* argv);

// --help text: the daemon's options, then every config key with its default.
std::string usage(std::string_view program);

// Errors (format_error, one per line) and warnings ("warning: ...") to `err`.
void print_diagnostics(const LoadResult& r, const std::string& path, std::ostream& err);

// --check-config: load, print diagnostics to `err` and, when valid, the
// summary to `out`. Returns 0 when valid, kExitConfig when not.
int run_check_config(const ParsedCommandLine& cl, std::ostream& out, std::ostream& err);

}  // namespace sigrelay::control
