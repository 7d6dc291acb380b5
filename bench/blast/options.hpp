// Command line of sigrelay-blast. Parsed once at start; nothing here runs
// during the test.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sigrelay::blast {

struct Options {
  std::string target;               // --target IP:PORT (required)
  std::string local;                // --local IP (default: the kernel's source address towards target)
  std::uint16_t local_port = 0;     // --local-port P: thread i binds P + i; 0 = kernel's choice
  std::uint64_t rate = 1000;        // --rate N calls per second, all threads together
  std::uint64_t duration_ms = 0;    // --duration S (seconds, decimals allowed)
  std::uint64_t calls = 0;          // --calls N (instead of --duration)
  unsigned threads = 1;             // --threads T
  std::string number = "13125550100";  // --number
  std::size_t body_bytes = 0;       // --body-bytes N: extra SDP bytes
  std::uint64_t drain_ms = 2000;    // --drain-ms: wait for late answers after the schedule ends
  std::uint64_t late_ms = 500;      // --late-ms: a final slower than this counts as late
  unsigned batch = 32;              // --batch: datagrams per sendmmsg/recvmmsg
  std::uint64_t tick_us = 100;      // --tick-us: how long a due call may wait to join a burst
  bool connect_socket = true;       // --unconnected clears it: accept answers from any source
  bool gso = true;                  // --no-gso clears it: one sendmmsg entry per INVITE
  bool quiet = false;               // --quiet: no table on stderr

  // Calls in the run: --calls, or rate x duration.
  std::uint64_t total_calls() const {
    return calls ? calls : rate * duration_ms / 1000;
  }
};

enum class ParseOutcome : std::uint8_t { run, help, error };

// Fills `out` from argv. On error, `message` says why; on help it holds the usage text.
ParseOutcome parse_options(int argc, const char* const* argv, Options& out, std::string& message);

std::string usage();

}  // namespace sigrelay::blast
