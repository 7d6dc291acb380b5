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
  // In-line mode (docs/inline.md).
  Counter inline_searches;          // service 302s followed here
  Counter inline_no_state;          // 302 relayed to the switch: no in-line state free (sizing)
  Counter inline_no_destination;    // 302 without a usable Contact: local 503
  Counter inline_contacts_skipped;  // Contacts not tried: unparseable, hostname, transport, ourselves, not allowed
  Counter inline_refused_self;      //   of which pointed back at sigrelay
  Counter inline_refused_acl;       //   of which were outside inline.allow_destinations
  Counter inline_attempts;          // INVITEs sent to a destination (first transmissions)
  Counter inline_build_failed;      // destination INVITE did not fit: that Contact skipped
  Counter inline_retransmissions;   // Timer A retransmissions toward destinations
  Counter inline_failovers;         // a destination failed (failover code, timeout): the next was tried
  Counter inline_branch_timeouts;   // destination silent for inline.branch_timeout_ms
  Counter inline_ring_timeouts;     // destination rang past inline.ring_timeout_ms
  Counter inline_answered;          // a destination's 2xx went to the switch
  Counter inline_exhausted;         // every destination failed: the best response went to the switch
  Counter inline_responses_in;      // responses from destinations matched to a branch
  Counter inline_stale_responses;   // responses on a branch already given up (ACKed; a 2xx is relayed)
  Counter inline_acks_out;          // ACKs for destinations' non-2xx finals
  Counter inline_cancels_out;       // CANCELs sent to destinations
  Counter inline_routed_requests;   // in-dialog requests loose-routed (ACK for 2xx, BYE, re-INVITE ...)
  Counter inline_routed_responses;  // responses to those, sent back along their Via
  Counter inline_route_rejected;    // naming us in Route with a bad token, or with no usable next hop
  Counter inline_tcp_upgrades;      // INVITEs over 1300 bytes sent over TCP to a UDP Contact (RFC 3261 §18.1.1)
  Counter inline_udp_fallbacks;     //   of which TCP failed and UDP was used after all
  Counter inline_transport_errors;  // messages to destinations that could not be delivered (ICMP, TCP/TLS failure)
  // INVITEs sent to destinations by size in bytes (Identity headers make
  // them grow): <=1024, <=1300, <=1500, <=2048, <=4096, larger. Past 1300 a
  // UDP INVITE risks fragmentation (RFC 3261 §18.1.1).
  Counter inline_invite_size[6];
  // Responses by status code: every response sent to a switch for an INVITE
  // (100 Trying included, retransmissions not), and every response the
  // service sent. Indexed by code, 100..699.
  Counter to_switch_by_code[700];
  Counter from_service_by_code[700];
};

inline constexpr std::uint32_t kInviteSizeBounds[] = {1024, 1300, 1500, 2048, 4096};

}  // namespace sigrelay::dataplane
