// What one sender/receiver thread counts. Each thread owns its counters and
// nobody reads them until it has been joined, so they are plain integers.
#pragma once

#include <array>
#include <cstdint>

#include "bench/blast/histogram.hpp"

namespace sigrelay::blast {

struct ThreadCounters {
  // Sending.
  std::uint64_t scheduled = 0;      // this thread's share of the calls
  std::uint64_t sent = 0;           // INVITEs handed to the kernel
  std::uint64_t sent_late = 0;      // INVITEs sent more than 1 ms after their due time
  std::uint64_t send_blocked = 0;   // sendmmsg calls refused with EAGAIN/ENOBUFS (retried)
  std::uint64_t send_refused = 0;   // ECONNREFUSED (ICMP port unreachable) reported on send/receive
  std::uint64_t send_errors = 0;    // any other send error
  std::uint64_t gso_fallbacks = 0;  // 1 when the kernel refused UDP GSO and plain batches took over
  std::int64_t max_lag_ns = 0;      // worst delay between a burst's first due time and its send
  std::int64_t last_send_ns = 0;    // after t0, when the last burst of INVITEs started

  // Receiving.
  std::uint64_t datagrams = 0;      // everything read from the socket
  std::uint64_t truncated = 0;      // larger than the receive buffer
  std::uint64_t parse_errors = 0;   // rejected by the SIP parser
  std::uint64_t requests = 0;       // requests sent to us (not answered)
  std::uint64_t not_invite = 0;     // responses whose CSeq method is not INVITE
  std::uint64_t foreign = 0;        // Call-ID not from this run
  std::uint64_t wrong_thread = 0;   // Call-ID of another thread of this run (answer went to the wrong socket)
  std::uint64_t unknown_call = 0;   // our Call-ID, but a call not (yet) sent
  std::uint64_t provisionals = 0;   // 1xx
  std::uint64_t answered = 0;       // calls that got a final (>= 200)
  std::uint64_t final_repeats = 0;  // further finals of answered calls (retransmissions)
  std::uint64_t late = 0;           // first final after --late-ms
  std::uint64_t acks_sent = 0;
  std::uint64_t ack_failures = 0;   // ACKs that did not fit or could not be sent
  std::array<std::uint64_t, 600> by_status{};  // [code - 100]: first finals and all provisionals

  double cpu_seconds = 0;           // this thread's user + system time
  LatencyHistogram latency_us;

  void merge(const ThreadCounters& o) {
    scheduled += o.scheduled;
    sent += o.sent;
    sent_late += o.sent_late;
    send_blocked += o.send_blocked;
    send_refused += o.send_refused;
    send_errors += o.send_errors;
    gso_fallbacks += o.gso_fallbacks;
    if (o.max_lag_ns > max_lag_ns) max_lag_ns = o.max_lag_ns;
    if (o.last_send_ns > last_send_ns) last_send_ns = o.last_send_ns;
    datagrams += o.datagrams;
    truncated += o.truncated;
    parse_errors += o.parse_errors;
    requests += o.requests;
    not_invite += o.not_invite;
    foreign += o.foreign;
    wrong_thread += o.wrong_thread;
    unknown_call += o.unknown_call;
    provisionals += o.provisionals;
    answered += o.answered;
    final_repeats += o.final_repeats;
    late += o.late;
    acks_sent += o.acks_sent;
    ack_failures += o.ack_failures;
    for (std::size_t i = 0; i < by_status.size(); ++i) by_status[i] += o.by_status[i];
    if (o.cpu_seconds > cpu_seconds) cpu_seconds = o.cpu_seconds;  // the busiest thread
    latency_us.merge(o.latency_us);
  }
};

}  // namespace sigrelay::blast
