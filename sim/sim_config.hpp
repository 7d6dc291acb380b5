// sigrelay-sim's configuration: an INI file and command-line overrides read
// with Boost.Program_options into one struct, validated across fields before
// anything starts. docs/sim.md documents every key.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/allow_list.hpp"
#include "sim/rules.hpp"

namespace sigrelay::sim {

struct ListenAddress {
  std::string text;  // as configured
  sockaddr_storage addr{};
  socklen_t len = 0;
};

struct SimConfig {
  std::vector<ListenAddress> tcp;
  std::vector<ListenAddress> tls;
  std::string tls_cert;  // PEM chain, leaf first
  std::string tls_key;
  AllowList allow;       // empty: every source is served
  std::uint16_t forbidden_code = 403;
  RuleSet rules;
  std::string shaken_key;
  std::string shaken_x5u;
  char shaken_attest = 'A';
  // PEM files of certificates (or public keys) whose PASSporTs `verify`
  // rules accept; empty: shaken.key's own key, if set. The server loads them.
  std::vector<std::string> shaken_trust;
  std::string counters_file;  // empty: no counters file
  std::uint32_t max_connections = 10000;
  std::uint32_t send_buffer = 0;  // SO_SNDBUF of accepted connections; 0 leaves the kernel's
  bool quiet = false;
  bool check_only = false;
};

enum class ConfigStatus : std::uint8_t { ok, help, error };

struct ConfigResult {
  ConfigStatus status = ConfigStatus::ok;
  std::string message;  // usage text for help, the reason for error
};

// "IPv4:port" or "[IPv6]:port"; port 0 lets the kernel choose.
bool parse_listen_address(std::string_view text, ListenAddress& out, std::string& error);

// Reads `--config FILE` (if given) and the command line; command-line values
// win over the file's (a repeatable key given on the command line replaces
// the file's list).
ConfigResult load_config(int argc, const char* const* argv, SimConfig& out);

}  // namespace sigrelay::sim
