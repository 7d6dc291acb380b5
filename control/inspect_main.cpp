// sigrelay-inspect FILE... : how sigrelay parses each message, as JSON.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "control/inspect_report.hpp"

namespace {

void usage() {
  std::cerr << "usage: sigrelay-inspect [--stream] FILE...\n"
               "  Prints, as JSON, how sigrelay parses each SIP message.\n"
               "  A file is one UDP datagram unless --stream frames it as TCP/TLS bytes.\n"
               "  Exit status: 0 when every message is valid, 1 otherwise, 2 on usage or I/O errors.\n";
}

}  // namespace

int main(int argc, char** argv) {
  using sigrelay::control::InspectFraming;
  InspectFraming framing = InspectFraming::datagram;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--stream") {
      framing = InspectFraming::stream;
    } else if (arg == "--help" || arg == "-h") {
      usage();
      return 0;
    } else if (!arg.empty() && arg[0] == '-' && arg != "-") {
      std::cerr << "sigrelay-inspect: unknown option " << arg << "\n";
      usage();
      return 2;
    } else {
      files.push_back(arg);
    }
  }
  if (files.empty()) {
    usage();
    return 2;
  }
  nlohmann::json report = nlohmann::json::array();
  bool all_valid = true;
  for (const auto& name : files) {
    std::string bytes;
    if (name == "-") {
      std::ostringstream ss;
      ss << std::cin.rdbuf();
      bytes = ss.str();
    } else {
      std::ifstream in(name, std::ios::binary);
      if (!in) {
        std::cerr << "sigrelay-inspect: cannot read " << name << "\n";
        return 2;
      }
      std::ostringstream ss;
      ss << in.rdbuf();
      bytes = ss.str();
    }
    for (auto& j : sigrelay::control::inspect_bytes(bytes, framing)) {
      if (j["verdict"] != "valid") all_valid = false;
      j["file"] = name;
      report.push_back(std::move(j));
    }
  }
  std::cout << report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  return all_valid ? 0 : 1;
}
