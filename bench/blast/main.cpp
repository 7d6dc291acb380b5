// sigrelay-blast: open-loop SIP INVITE load over UDP (docs/blast.md).
#include <cstdio>
#include <string>

#include "bench/blast/blast.hpp"
#include "bench/blast/options.hpp"
#include "bench/blast/report.hpp"

int main(int argc, char** argv) {
  using namespace sigrelay::blast;
  Options options;
  std::string message;
  switch (parse_options(argc, argv, options, message)) {
    case ParseOutcome::help: std::fputs(message.c_str(), stdout); return 0;
    case ParseOutcome::error: std::fprintf(stderr, "sigrelay-blast: %s\n", message.c_str()); return 2;
    case ParseOutcome::run: break;
  }
  RunResult result;
  if (!run_blast(options, result, message)) {
    std::fprintf(stderr, "sigrelay-blast: %s\n", message.c_str());
    return 1;
  }
  if (!options.quiet) std::fputs(to_table(result).c_str(), stderr);
  std::fputs(to_json(result).c_str(), stdout);
  return 0;
}
