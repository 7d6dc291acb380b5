// What the simulator has seen, for tests and operators: one struct, written
// by the event loop only, serialized as a JSON object (docs/sim.md lists the
// fields) and replaced atomically so a reader never sees half a file.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace sigrelay::sim {

struct SimCounters {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_open = 0;
  std::uint64_t connections_rejected = 0;  // over sim.max_connections
  std::uint64_t accept_errors = 0;
  std::uint64_t tls_handshakes = 0;
  std::uint64_t tls_handshake_failures = 0;
  std::uint64_t tls_errors = 0;            // after the handshake
  std::uint64_t invites = 0;               // new INVITE transactions, forbidden ones included
  std::uint64_t invite_retransmissions = 0;
  std::map<std::uint16_t, std::uint64_t> invites_by_code;  // final answers sent, 487 included
  std::uint64_t silent_invites = 0;
  std::uint64_t options = 0;
  std::uint64_t acks = 0;
  std::uint64_t cancels = 0;
  std::uint64_t cancels_unmatched = 0;     // answered 481
  std::uint64_t pings = 0;                 // CRLFCRLF keepalives (each answered with CRLF)
  std::uint64_t pongs = 0;                 // lone CRLFs
  std::uint64_t forbidden = 0;             // INVITEs from sources outside sim.allow
  std::uint64_t bad_messages = 0;
  std::uint64_t other_requests = 0;        // answered 405
  std::uint64_t responses_received = 0;    // ignored: the service never sends requests
  std::uint64_t responses_sent = 0;
  std::uint64_t responses_undeliverable = 0;  // the connection closed before the answer was due
  std::uint64_t slow_peer_closes = 0;      // too much unsent data for a peer that does not read
  // INVITEs matching a `verify` rule, by verstat (ATIS-1000074), and the
  // failures by reason (sim/verification.hpp: IdentityCheck names).
  std::uint64_t verifications_passed = 0;
  std::uint64_t verifications_failed = 0;
  std::uint64_t verifications_none = 0;    // no Identity header
  std::map<std::string, std::uint64_t> verification_failures;
  std::string last_invite;                 // raw text of the last INVITE received
};

// The JSON text of the counters (keys sorted, invalid UTF-8 replaced).
std::string counters_json(const SimCounters& c);

// Writes `text` to `path` through a temporary file in the same directory and
// rename(2), so readers see the old or the new content, never a mix.
bool write_file_atomically(const std::string& path, const std::string& text, std::string& error);

}  // namespace sigrelay::sim
