// sigrelayctl [--socket PATH] [--json] COMMAND [ARGS]: talk to a running sigrelay.
#include <iostream>

#include "control/sigrelayctl.hpp"

#ifndef SIGRELAY_VERSION
#define SIGRELAY_VERSION "unknown"
#endif

int main(int argc, char** argv) {
  return sigrelay::control::run_ctl(argc, argv, SIGRELAY_VERSION, std::cout, std::cerr);
}
