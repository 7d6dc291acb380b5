// The SIP logic of one sip worker in relay mode (DESIGN.md §1): local
// decisions, the stateful-proxy transaction pair per INVITE (server side
// toward the switch, client side toward the service), fail-open, CANCEL, and
// the relaying of the service's answer. No I/O and no clock of its own: the
// worker hands it parsed messages and the time, and it answers through
// RelayIo. Everything it holds is preallocated at construction.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/call_log.hpp"
#include "dataplane/emergency.hpp"
#include "dataplane/latency_histogram.hpp"
#include "dataplane/log.hpp"
#include "dataplane/policy_board.hpp"
#include "dataplane/relay_counters.hpp"
#include "sip/branch_codec.hpp"
#include "sip/message.hpp"
#include "sip/response_builder.hpp"
#include "sip/rewriter.hpp"
#include "sip/transaction.hpp"

namespace sigrelay::dataplane {

enum class Transport : std::uint8_t { udp, tcp, tls };

// Where a switch's request came from, and so where its responses go.
struct SwitchPeer {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  Transport transport = Transport::udp;
  std::uint32_t conn_id = 0;    // stream connections: id inside the owning tls worker
  std::uint8_t conn_owner = 0;  // stream connections: index of the owning tls worker
  std::uint8_t local = 0;       // UDP: which of our listen sockets it arrived on
  // Stream connections in in-line mode whose peer is not in acl.allow (one
  // we opened to a destination, or a destination's own): each message must
  // pass RelayEngine::admits_unlisted().
  bool unlisted = false;
};

// The worker side of the engine. Calls happen on the worker's thread.
class RelayIo {
 public:
  // Sends a message to a switch (UDP datagram, or over the peer's stream connection).
  virtual void to_switch(const SwitchPeer& peer, std::span<const sip::Segment> msg) = 0;
  // Sends a request to the service on the connection chosen by call_hash.
  // False when it cannot leave (no connection up, ring full): the engine fails open.
  virtual bool to_upstream(std::uint64_t call_hash, std::span<const sip::Segment> msg) = 0;
  // At least one upstream connection is up (OPTIONS health answers).
  virtual bool upstream_up() const = 0;
  // In-line mode: sends a request or response to a destination or dialog
  // peer: a UDP datagram, or over a TCP/TLS connection the tls worker
  // chosen by call_hash opens or reuses. A stream message that cannot be
  // delivered comes back through RelayEngine::on_destination_unreachable.
  virtual bool to_destination(const SwitchPeer& to, std::uint64_t call_hash, std::span<const sip::Segment> msg) = 0;

 protected:
  ~RelayIo() = default;
};

// Decides whether an address may be used (inline.allow_destinations).
class AddressFilter {
 public:
  virtual bool allows(const sockaddr_storage& address) const = 0;

 protected:
  ~AddressFilter() = default;
};

// In-line mode (DESIGN.md §1, docs/inline.md): the service's 302 is followed
// here, as a stateful proxy, instead of being handed back to the switch.
struct InlineOptions {
  bool enabled = false;
  std::string advertise = "127.0.0.1:5060";  // our hostport in Via and Record-Route toward destinations
  std::string advertise_tcp;                  // the same for TCP and TLS (our listeners); empty: advertise
  std::string advertise_tls;
  sockaddr_storage advertise_addr{};          // the same, to refuse a Contact pointing back at us
  std::vector<std::string> copy_headers{"P-Asserted-Identity", "P-Attestation-Indicator"};
  std::vector<std::uint16_t> failover_codes{408, 500, 502, 503, 504};
  sip::Millis branch_timeout{2000};  // no response at all from a destination: next Contact
  sip::Millis ring_timeout{0};       // no final after a provisional: CANCEL, next Contact (0: Timer C only)
  const AddressFilter* allow_destinations = nullptr;  // nullptr: any
  // acl.allow: where a request from a source outside it may be routed to
  // (the switches), so that a destination cannot use us as a relay.
  const AddressFilter* switches = nullptr;
  std::uint32_t max_redirections = 5;                 // destinations tried per call, at most 15
};

struct EngineOptions {
  std::uint8_t worker = 0;
  std::uint32_t max_transactions = 16384;  // transaction slots (small)
  std::uint32_t max_stored = 4096;         // requests/responses kept while a final may be retransmitted
  sip::TimerConfig timers{};
  sip::Millis upstream_timeout{2000};
  std::string via_sent_by = "127.0.0.1:5061";  // our sent-by in the Via toward the service
  std::string via_transport = "TLS";           // TLS or TCP
  bool upstream_reliable = true;               // TLS/TCP toward the service
  std::vector<std::string> emergency_numbers{"911", "933", "112"};
  InlineOptions in_line{};
  // Where each call's outcome is written (nullptr: nowhere), and the
  // service round trip histogram (nullptr: not measured).
  CallLog* call_log = nullptr;
  LatencyHistogram* service_rtt = nullptr;
};

class RelayEngine {
 public:
  RelayEngine(const EngineOptions& options, sip::BranchMac mac, RelayIo& io, RelayCounters& counters);
  ~RelayEngine();
  RelayEngine(const RelayEngine&) = delete;
  RelayEngine& operator=(const RelayEngine&) = delete;

  // A message from a switch, parsed by the caller (`r` is the parse outcome;
  // invalid messages come here too, to be answered 400/505 or dropped).
  void on_switch_message(const sip::Message& m, const sip::ParseResult& r, const SwitchPeer& from, sip::Millis now);
  // A message from the service (a response to one of our requests).
  void on_upstream_message(const sip::Message& m, const sip::ParseResult& r, sip::Millis now);
  // Runs every timer due at `now`.
  void on_timer(sip::Millis now);
  // The earliest pending timer, or sip::kNoDeadline.
  sip::Millis next_deadline() const;
  // In-line mode: a message we sent (`sent`, as it was sent, or the start
  // of it that an ICMP error quotes) could not be delivered: ICMP
  // unreachable, or its TCP/TLS connection failed.
  // `to`, when known, is where it was going (it must be the live branch's).
  void on_destination_unreachable(std::string_view sent, sip::Millis now, const sockaddr_storage* to = nullptr);
  // Graceful shutdown: every INVITE still without a final gets 503 now.
  void shutdown(sip::Millis now);
  std::size_t active_transactions() const { return active_; }
  // A hot reload's new settings (emergency numbers, service timeout). Calls
  // in flight keep the deadlines they were given.
  void apply_policy(const RuntimePolicy& p);

  // In-line mode: whether a message from a source outside acl.allow may
  // still come in because it proves it belongs to a call we carry — a
  // response whose top Via branch is ours, or an in-dialog request whose top
  // Route is our Record-Route (both checked by keyed MAC, so not forgeable).
  bool admits_unlisted(const sip::Message& m) const;

  // Keyed hash of a Call-ID: picks the owning worker and the upstream connection.
  static std::uint64_t call_hash(std::string_view call_id, sip::BranchMac mac);

 private:
  struct Slot;
  struct Store;
  struct InlineState;
  struct TimerEntry {
    sip::Millis at;
    std::uint32_t slot;
    std::uint16_t generation;
  };

  void on_invite(const sip::Message& m, const SwitchPeer& from, sip::Millis now);
  void on_ack(const sip::Message& m, sip::Millis now);
  void on_cancel(const sip::Message& m, const SwitchPeer& from, sip::Millis now);
  void answer_stateless(const sip::Message& m, const SwitchPeer& to, std::uint16_t code, std::string_view reason,
                        std::span<const sip::ExtraHeader> extra = {});
  // Sends a local final (or the 100) for the slot's INVITE through its server machine.
  void respond_local(std::uint32_t idx, std::uint16_t code, std::string_view reason, sip::Millis now,
                     std::span<const sip::ExtraHeader> extra = {});
  void relay_response(std::uint32_t idx, const sip::Message& resp, sip::Millis now);
  void send_upstream_ack_or_cancel(std::uint32_t idx, const sip::Message* resp, bool cancel);
  void apply_server(std::uint32_t idx, sip::Actions a);
  void apply_client(std::uint32_t idx, sip::Actions a, sip::Millis now);
  void resend_last_response(std::uint32_t idx);
  void reschedule(std::uint32_t idx);
  void maybe_release(std::uint32_t idx);
  std::uint64_t match_key(const sip::Message& m) const;
  std::uint32_t lookup(std::uint64_t key) const;
  void index_insert(std::uint64_t key, std::uint32_t idx);
  void index_erase(std::uint64_t key, std::uint32_t idx);
  std::uint32_t allocate_slot();
  void release_inline(std::uint32_t idx);
  std::string_view allowed_methods() const;

  // In-line mode (inline_proxy.cpp).
  bool start_inline(std::uint32_t idx, const sip::Message& redirect, sip::Millis now);
  void next_destination(std::uint32_t idx, sip::Millis now);
  void end_search(std::uint32_t idx);
  void log_skipped(std::string_view uri, std::string_view why, sip::Millis now);
  bool token_matches(const sip::Message& m, std::string_view token) const;
  bool send_attempt(std::uint32_t idx, std::uint8_t attempt, bool force_udp, sip::Millis now);
  std::string_view via_prefix_for(std::uint8_t transport) const;
  std::string_view advertise_for(std::uint8_t transport) const;
  void finish_search(std::uint32_t idx, sip::Millis now);
  void on_destination_response(const sip::Message& m, sip::Millis now);
  void on_destination_timer(std::uint32_t idx, sip::Millis now);
  void apply_destination(std::uint32_t idx, sip::Actions a, sip::Millis now);
  void abandon_branch(std::uint32_t idx, std::uint16_t as_code, sip::Millis now);
  void note_candidate(std::uint32_t idx, const sip::Message* resp, std::uint16_t code);
  void send_destination_ack(std::uint32_t idx, std::uint8_t attempt, const sip::Message& resp);
  void send_destination_cancel(std::uint32_t idx);
  void send_stale_cancel(std::uint32_t idx, std::uint8_t attempt, const sip::Message& resp);
  bool attempt_peer(const InlineState& st, std::uint8_t attempt, SwitchPeer& out) const;
  void cancel_destination(std::uint32_t idx, sip::Millis now);
  bool routes_through_us(const sip::Message& m) const;
  void loose_route(const sip::Message& m, const SwitchPeer& from);
  void route_response(const sip::Message& m);
  std::size_t route_token(std::string_view call_id, std::string_view tag, char* out) const;
  std::size_t stateless_branch(const sip::Message& m, const SwitchPeer& from, char* out) const;

  bool parse_stored_request(std::uint32_t idx, sip::MessageWithHeaders<96>& out) const;
  std::size_t local_tag(std::uint32_t idx, char* out) const;
  void decide(std::uint32_t idx, Decision d);
  void record_final(std::uint32_t idx, std::uint16_t code);
  void record_stateless(const sip::Message& m, const SwitchPeer& to, std::uint16_t code);

  EngineOptions options_;
  sip::BranchMac mac_;
  RelayIo& io_;
  RelayCounters& counters_;
  EmergencyNumbers emergency_;
  std::string via_prefix_;  // "SIP/2.0/TLS host:port;branch="

  std::unique_ptr<Slot[]> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::unique_ptr<Store[]> stores_;
  std::vector<std::uint32_t> free_stores_;
  std::unique_ptr<InlineState[]> inline_;  // in-line mode only: one per store
  std::vector<std::uint32_t> free_inline_;
  std::string inline_via_prefix_;  // "SIP/2.0/UDP advertise;branch="
  std::string inline_via_tcp_;     // "SIP/2.0/TCP advertise_tcp;branch="
  std::string inline_via_tls_;
  std::vector<bool> failover_;     // by status code
  // Open-addressing index from match key to slot (keys are keyed hashes).
  std::vector<std::uint64_t> index_keys_;
  std::vector<std::uint32_t> index_slots_;
  std::vector<TimerEntry> timers_;  // min-heap by `at`, lazily pruned
  sip::Millis timer_now_{0};        // the time on_timer() last ran for
  log::RateLimit skip_log_{1, std::chrono::milliseconds(1000)};  // log_skipped(): a line a second at most
  std::size_t active_ = 0;
};

}  // namespace sigrelay::dataplane
