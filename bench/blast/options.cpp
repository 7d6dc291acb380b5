#include "bench/blast/options.hpp"

#include <charconv>

namespace sigrelay::blast {

namespace {

bool to_u64(std::string_view s, std::uint64_t& v) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}

// Seconds with an optional fraction ("10", "0.25") into milliseconds.
bool seconds_to_ms(std::string_view s, std::uint64_t& ms) {
  const std::size_t dot = s.find('.');
  std::uint64_t whole = 0;
  if (!to_u64(s.substr(0, dot), whole) || whole > 10'000'000) return false;
  std::uint64_t frac = 0;
  if (dot != std::string_view::npos) {
    std::string_view f = s.substr(dot + 1);
    if (f.empty() || f.size() > 3) return false;
    if (!to_u64(f, frac)) return false;
    for (std::size_t i = f.size(); i < 3; ++i) frac *= 10;
  }
  ms = whole * 1000 + frac;
  return true;
}

}  // namespace

std::string usage() {
  return
      "usage: sigrelay-blast --target IP:PORT (--duration S | --calls N) [options]\n"
      "Open-loop SIP INVITE load over UDP; prints one JSON object on stdout.\n"
      "  --target IP:PORT     where the INVITEs go (IPv6: [addr]:port)\n"
      "  --rate N             INVITEs per second, all threads together (default 1000)\n"
      "  --duration S         seconds of sending (decimals allowed)\n"
      "  --calls N            send N INVITEs instead (at --rate)\n"
      "  --threads T          sender/receiver threads, one socket each (default 1)\n"
      "  --local IP           source address (default: the kernel's route to the target)\n"
      "  --local-port P       thread i binds port P+i (default: kernel's choice)\n"
      "  --number DIGITS      called number in the Request-URI (default 13125550100)\n"
      "  --body-bytes N       pad the SDP by N bytes (0, or at least 10)\n"
      "  --drain-ms MS        wait this long after the schedule for late finals (default 2000)\n"
      "  --late-ms MS         finals slower than this count as late (default 500)\n"
      "  --batch N            datagrams per sendmmsg/recvmmsg, 1..256 (default 32)\n"
      "  --tick-us US         calls wait up to this long to leave in one burst, 0..500\n"
      "                       (default 100; 0 sends each call the moment it is due)\n"
      "  --unconnected        do not connect() the sockets: accept answers from any address\n"
      "  --no-gso             one datagram per sendmmsg entry instead of UDP GSO bursts\n"
      "  --quiet              no human-readable table on stderr\n";
}

ParseOutcome parse_options(int argc, const char* const* argv, Options& out, std::string& message) {
  bool have_duration = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    bool has_value = false;
    if (const std::size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    auto flag = [&](std::string_view name) { return arg == name; };
    if (flag("--help") || flag("-h")) {
      message = usage();
      return ParseOutcome::help;
    }
    if (flag("--unconnected")) { out.connect_socket = false; continue; }
    if (flag("--quiet")) { out.quiet = true; continue; }
    if (flag("--no-gso")) { out.gso = false; continue; }
    if (!has_value) {
      if (i + 1 >= argc) {
        message = std::string(arg) + " needs a value (see --help)";
        return ParseOutcome::error;
      }
      value = argv[++i];
    }
    std::uint64_t n = 0;
    auto number = [&](std::uint64_t lo, std::uint64_t hi) {
      if (to_u64(value, n) && n >= lo && n <= hi) return true;
      message = std::string(arg) + ": expected a whole number from " + std::to_string(lo) +
                " to " + std::to_string(hi) + ", got '" + std::string(value) + "'";
      return false;
    };
    if (flag("--target")) out.target = value;
    else if (flag("--local")) out.local = value;
    else if (flag("--number")) out.number = value;
    else if (flag("--local-port")) { if (!number(1, 65535)) return ParseOutcome::error; out.local_port = static_cast<std::uint16_t>(n); }
    else if (flag("--rate")) { if (!number(1, 100'000'000)) return ParseOutcome::error; out.rate = n; }
    else if (flag("--calls")) { if (!number(1, 1'000'000'000'000)) return ParseOutcome::error; out.calls = n; }
    else if (flag("--threads")) { if (!number(1, 256)) return ParseOutcome::error; out.threads = static_cast<unsigned>(n); }
    else if (flag("--body-bytes")) { if (!number(0, 60000)) return ParseOutcome::error; out.body_bytes = n; }
    else if (flag("--drain-ms")) { if (!number(0, 3'600'000)) return ParseOutcome::error; out.drain_ms = n; }
    else if (flag("--late-ms")) { if (!number(0, 3'600'000)) return ParseOutcome::error; out.late_ms = n; }
    else if (flag("--tick-us")) { if (!number(0, 500)) return ParseOutcome::error; out.tick_us = n; }
    else if (flag("--batch")) { if (!number(1, 256)) return ParseOutcome::error; out.batch = static_cast<unsigned>(n); }
    else if (flag("--duration")) {
      if (!seconds_to_ms(value, out.duration_ms) || out.duration_ms == 0) {
        message = "--duration: expected seconds such as 10 or 2.5, got '" + std::string(value) + "'";
        return ParseOutcome::error;
      }
      have_duration = true;
    } else {
      message = "unknown option " + std::string(arg) + " (see --help)";
      return ParseOutcome::error;
    }
  }
  if (out.target.empty()) {
    message = "--target IP:PORT is required";
    return ParseOutcome::error;
  }
  if (have_duration == (out.calls != 0)) {
    message = "give exactly one of --duration and --calls";
    return ParseOutcome::error;
  }
  if (out.total_calls() == 0) {
    message = "--rate x --duration gives no calls";
    return ParseOutcome::error;
  }
  if (out.total_calls() / out.threads > 0xffffffffULL) {
    message = "more than 2^32 calls per thread";
    return ParseOutcome::error;
  }
  return ParseOutcome::run;
}

}  // namespace sigrelay::blast
