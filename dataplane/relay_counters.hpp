// What a sip worker counts. Each worker owns one RelayCounters and is its
// only writer; the control thread reads them with relaxed loads and sums
// across workers. No read-modify-write atomics on the hot path: bump() is a
// relaxed load and a relaxed store, which is enough for a single writer.
#pragma once

#include <atomic>
#include <cstdint>

namespace sigrelay::dataplane {

using Counter = std::atomic<std::uint64_t>;

inline void bump(Counter& c, std::uint64_t n = 1) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// Declared once, here: each field is a counter with the meaning in its comment.
struct alignas(64) RelayCounters {
  // From switches.
  Counter datagrams_in;           // UDP datagrams received
  Counter acl_denied;             // dropped without an answer: source not in acl.allow
  Counter handoffs_out;           // datagrams handed to the Call-ID's owner worker
  Counter ring_full;              // a packet could not be queued to another thread (counted, answered or dropped)
  Counter pool_empty;             // no free packet buffer
  Counter requests_in;            // parsed requests received from switches
  Counter invites_in;             // new INVITE transactions created
  Counter invite_retransmissions; // INVITE retransmissions absorbed
  Counter acks_absorbed;          // ACKs for non-2xx finals, absorbed
  Counter acks_unmatched;         // ACKs matching no transaction (dropped)
  Counter cancels_in;             // CANCELs matching an INVITE transaction
  Counter options_in;             // OPTIONS answered locally
  Counter responses_from_switch;  // responses from a switch (dropped: we send no requests there)
  Counter malformed_dropped;      // unparseable messages dropped without an answer
  Counter malformed_answered;     // malformed requests answered 400/505
  // Local answers.
  Counter local_100;
  Counter local_400;
  Counter local_405;
  Counter local_416;
  Counter local_481;
  Counter local_483;
  Counter local_487;
  Counter local_505;
  Counter local_513;              // INVITE too large to keep for the transaction
  Counter local_503_emergency;    // emergency guard
  Counter local_503_no_upstream;  // fail-open: no upstream connection up, or ring full
  Counter local_503_timeout;      // fail-open: the service did not answer in time
  Counter local_503_overload;     // transaction table or store full
  Counter local_503_shutdown;     // answered at graceful shutdown
  // Toward and from the service.
  Counter invites_upstream;       // INVITEs sent to the service
  Counter cancels_upstream;
  Counter acks_upstream;
  Counter responses_upstream_in;  // responses received from the service
  Counter responses_unmatched;    // responses whose branch matches nothing (forged, stale, late)
  Counter service_finals[7];      // finals from the service by class: [3]=3xx ... [6]=6xx
  Counter service_403_404;        // "this relay is not whitelisted at the service"
  Counter finals_relayed;         // service finals passed on to the switch
  Counter finals_late;            // service finals that came after a local final (absorbed)
  // Transactions.
  Counter final_retransmissions;  // Timer G retransmissions of finals over UDP
  Counter timer_h_expired;        // no ACK came for a final (Timer H)
  Counter transactions_freed;
};

}  // namespace sigrelay::dataplane
