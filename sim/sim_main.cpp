// sigrelay-sim: a stand-in for the call-analytics service (docs/sim.md).
// Wiring only: configuration, the PASSporT key, the server, the ready line.
#include <cstdio>
#include <memory>
#include <string>

#include "sim/passport.hpp"
#include "sim/sim_config.hpp"
#include "sim/sim_server.hpp"

int main(int argc, char** argv) {
  using namespace sigrelay::sim;
  SimConfig config;
  const ConfigResult cr = load_config(argc, argv, config);
  if (cr.status == ConfigStatus::help) {
    std::fputs(cr.message.c_str(), stdout);
    return 0;
  }
  if (cr.status == ConfigStatus::error) {
    std::fprintf(stderr, "sigrelay-sim: %s\n", cr.message.c_str());
    return 2;
  }
  std::unique_ptr<PassportSigner> signer;
  if (!config.shaken_key.empty()) {
    std::string error;
    PkeyPtr key = load_p256_private_key(config.shaken_key, error);
    if (!key) {
      std::fprintf(stderr, "sigrelay-sim: shaken.key: %s\n", error.c_str());
      return 2;
    }
    signer = std::make_unique<PassportSigner>(std::move(key), config.shaken_x5u);
  }
  const bool check_only = config.check_only;
  SimServer server(std::move(config), std::move(signer));
  std::string error;
  if (!server.load_tls(error)) {
    std::fprintf(stderr, "sigrelay-sim: %s\n", error.c_str());
    return 2;
  }
  if (check_only) {
    std::puts("sigrelay-sim: configuration OK");
    return 0;
  }
  if (!server.open(error)) {
    std::fprintf(stderr, "sigrelay-sim: %s\n", error.c_str());
    return 1;
  }
  std::printf("sigrelay-sim: ready %s\n", server.bound_addresses().c_str());
  std::fflush(stdout);
  return server.run();
}
