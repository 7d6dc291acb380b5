// sigrelay --config FILE [--check-config] [--key=value ...]
#include <iostream>

#include "control/command_line.hpp"
#include "control/daemon.hpp"
#include "control/version.hpp"

int main(int argc, char** argv) {
  using namespace sigrelay::control;
  const auto cl = parse_command_line(argc, argv);
  if (!cl.error.empty()) {
    std::cerr << "sigrelay: " << cl.error << "\n" << usage("sigrelay");
    return kExitUsage;
  }
  if (cl.help) {
    std::cout << usage("sigrelay");
    return 0;
  }
  if (cl.version) {
    std::cout << "sigrelay " << kVersion << "\n";
    return 0;
  }
  if (cl.check_only) return run_check_config(cl, std::cout, std::cerr);
  const auto loaded = load_config(cl.config_path, cl.overrides);
  print_diagnostics(loaded, cl.config_path, std::cerr);
  if (!loaded.config) return kExitConfig;
  // SIGHUP reads the same file with the same command-line overrides.
  return run_daemon(*loaded.config, std::cout, std::cerr,
                    [&cl] { return load_config(cl.config_path, cl.overrides); });
}
