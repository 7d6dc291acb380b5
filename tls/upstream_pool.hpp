// The long-lived connections from one tls worker to the service: N per
// upstream target, targets in order of preference (docs/tls.md).
//
// Event loop contract (one owner thread, no locks): the pool owns an epoll
// descriptor, fd(), with every connection's socket in it. The worker waits
// until fd() is readable or next_deadline() passes (fd() can be waited on
// directly or put inside the worker's own epoll set), then calls
// poll(now). poll() handles socket events, DNS answers, reconnect and
// keepalive timers, and flushes queued messages. Time is always passed in
// (a monotonic clock in milliseconds), so tests can drive the timers.
//
// Routing: a new call goes to the active target, the first in the list that
// has a connection up; within it, call_hash picks the connection. The pool
// remembers which connection took a call's first message (a fixed table of
// recent calls), and later messages with the same call_hash (CANCEL, ACK)
// take that connection while it is open, even if the active target changed
// or the connection is draining after replace_targets(). So a CANCEL never
// overtakes its INVITE and never reaches a service that did not see it.
//
// Hot reload: replace_targets() swaps the target list while running;
// connections to targets that stay are kept, connections to targets that
// left drain (no new calls, answers still delivered) and then close.
//
// Connecting: hostnames are resolved with glibc's getaddrinfo_a (the
// worker never blocks on DNS) before every attempt, so changed DNS answers
// are picked up; IP literals are used as they are. Connect and TLS
// handshake are non-blocking and bounded by connect_timeout. A failed or
// lost connection is retried after a random delay in [0, ceiling], the
// ceiling doubling per consecutive failure from backoff_min up to
// backoff_max ("full jitter"). CRLF keepalive: a connection that received
// nothing for keepalive_interval gets a ping; no bytes back within
// keepalive_timeout closes it.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tls/stream_connection.hpp"
#include "tls/tls_context.hpp"

namespace sigrelay::tls {

// One upstream as control/ hands it over (from `upstream = sip:host:port;transport=tls`).
struct UpstreamTarget {
  std::string host{};  // DNS name or IP literal ("[::1]" or "::1")
  std::uint16_t port = 5061;
  bool tls = true;            // false: plain TCP, for troubleshooting
  std::string server_name{};  // name to verify and send as SNI; empty: host
};

struct UpstreamPoolOptions {
  std::vector<UpstreamTarget> targets{};  // in order of preference
  std::size_t connections_per_target = 2;
  Millis backoff_min{250};
  Millis backoff_max{30000};
  Millis connect_timeout{5000};      // TCP connect plus TLS handshake
  Millis keepalive_interval{30000};  // 0: no keepalive pings
  Millis keepalive_timeout{10000};
  int address_family = 0;  // AF_UNSPEC; AF_INET or AF_INET6 to use only that family
  StreamOptions stream{};
  std::uint64_t jitter_seed = 0;  // 0: seeded from std::random_device
};

struct UpstreamCallbacks {
  std::function<void(std::string_view message)> on_message;
  // Every transition of a connection: up (reason names TLS version and
  // cipher) or down (reason says why, e.g. "TLS handshake failed:
  // certificate verify failed: hostname mismatch"). A failed attempt is
  // reported as down too. `target` indexes the list in force when it is
  // called (replace_targets() renumbers; target(i) names it); draining
  // connections report nothing here (see counters and connections()).
  std::function<void(std::size_t target, std::size_t connection, bool up, std::string_view reason)> on_state_change;
};

// The most connections per target replace_targets() accepts.
inline constexpr std::size_t kMaxConnectionsPerTarget = 1024;

struct UpstreamPoolCounters {
  std::uint64_t connect_attempts = 0;                          // sockets opened
  std::uint64_t reconnects = 0;                                // attempts after a connection's first
  std::uint64_t connect_failures = 0;                          // TCP connect refused/unreachable
  std::uint64_t connect_timeouts = 0;                          // connect + handshake exceeded connect_timeout
  std::uint64_t connections_up = 0;                            // connections that came up
  std::uint64_t handshake_failures = 0;                        // TLS handshakes that failed (reason in tls_failures)
  std::array<std::uint64_t, kTlsFailureCount> tls_failures{};  // every TLS failure, by TlsFailure
  std::uint64_t disconnects = 0;                               // connections lost after being up
  std::uint64_t framing_errors = 0;  // connections closed because the upstream sent bad framing
  std::uint64_t resolutions = 0;     // DNS lookups started
  std::uint64_t resolve_failures = 0;
  std::uint64_t keepalive_pings = 0;
  std::uint64_t keepalive_timeouts = 0;
  std::uint64_t failovers = 0;           // new calls moved to a later target
  std::uint64_t failbacks = 0;           // new calls moved back to an earlier target
  std::uint64_t outages = 0;             // no target had a connection up
  std::uint64_t send_no_connection = 0;  // send() refused: nothing up
  std::uint64_t send_buffer_full = 0;    // send() refused: the connection's write buffer is full
  // Hot reload (replace_targets).
  std::uint64_t replacements = 0;          // target lists replaced
  std::uint64_t replace_rejected = 0;      // replace_targets() refused invalid options
  std::uint64_t drains_started = 0;        // up connections moved to draining
  std::uint64_t connections_drained = 0;   // draining connections closed at the end of their drain
  std::uint64_t drains_cut_short = 0;      // draining connections closed early by the peer or an error
  std::uint64_t draining_sends = 0;        // messages of calls that started there, sent while draining
  std::uint64_t drain_fallback_calls = 0;  // new calls put on a draining connection: nothing in the new list up yet
};

enum class SlotState : std::uint8_t {
  waiting,     // backing off until next_attempt
  resolving,   // waiting for a DNS answer
  connecting,  // TCP connect or TLS handshake under way
  up,
  draining,  // its target left the list (or the slot is beyond the new connections_per_target)
};

// What an operator sees per connection (`sigrelayctl sessions`, stats page).
// Stable values.
enum class ConnectionState : std::uint8_t {
  down = 0,     // no connection: waiting to retry (last_error says why)
  resolving,    // waiting for a DNS answer
  connecting,   // TCP connect under way
  handshaking,  // TLS handshake under way
  up,
  draining,  // target left at a reload: answers still come in, closes at drain_until
};
inline constexpr std::size_t kConnectionStateCount = 6;
// "down", "resolving", ...; never allocates.
std::string_view to_string(ConnectionState s);

struct ConnectionInfo {
  std::string target{};  // "sip:host:port;transport=tls", plus " (verify NAME)" when the name checked differs
  std::size_t target_index = 0;  // in the current list; UpstreamPool::kNoTarget while draining
  std::size_t index = 0;         // connection index within its target (draining: the one it had)
  ConnectionState state = ConnectionState::down;
  Millis since{0};          // when it entered `state`, on the pool's clock
  std::string address{};    // "192.0.2.10:5061" of the current or last attempt; empty before the first
  std::string tls_version{};  // "TLSv1.3"; empty for TCP or before the handshake
  std::string cipher{};       // "TLS_AES_256_GCM_SHA384"
  // The service's certificate (the leaf it presented), read once when the
  // connection came up; see tls/cert_expiry.hpp.
  std::int64_t peer_not_after = 0;  // unix seconds of the service's certificate, 0 = none (TCP or not up)
  std::string peer_subject{};       // "CN=sip.example.net"; empty when peer_not_after is 0
  std::uint64_t messages_in = 0;  // of the current connection
  std::uint64_t messages_out = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint32_t failures = 0;  // consecutive failed attempts
  Millis drain_until{0};       // draining: when it will be closed
  std::string last_error{};    // why the last attempt or connection ended
};

struct SlotStatus {
  SlotState state = SlotState::waiting;
  std::uint32_t failures = 0;  // consecutive failures since the last time it was up
  Millis next_attempt{0};      // when waiting
  Millis backoff_ceiling{0};   // upper bound of the delay drawn for next_attempt
  Millis last_delay{0};        // the delay drawn
  std::string last_error;      // why the last attempt or connection ended
};

// Upper bound of the delay before retry number `failures` (1 = first retry):
// min * 2^(failures-1), capped at max.
Millis backoff_ceiling(std::uint32_t failures, Millis min, Millis max);

class UpstreamPool {
 public:
  static constexpr std::size_t kNoTarget = static_cast<std::size_t>(-1);

  // tls_ctx (from make_client_context) must outlive the pool; it may be
  // null when no target uses TLS. Nothing connects before the first poll().
  UpstreamPool(UpstreamPoolOptions options, ssl_ctx_st* tls_ctx, UpstreamCallbacks callbacks);
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  // Empty when the pool is usable; otherwise why not (no targets, epoll failure).
  const std::string& error() const { return error_; }
  int fd() const { return epoll_fd_; }
  void poll(Millis now);
  // When poll() next has timer work to do (Millis::max() when none).
  Millis next_deadline() const;

  // Queue a message. A call_hash the pool has seen goes over the connection
  // that took the call's first message, while that connection is open (up
  // or draining). Otherwise it is a new call: it goes to the active target
  // (when nothing in the list is up but connections are draining after a
  // reload, to one of those: see replace_targets). False (counted) when no
  // connection can take it or the chosen one's buffer is full. `target`
  // receives the target used (kNoTarget for a draining connection). Queued
  // messages leave on flush() or poll().
  bool send(std::uint64_t call_hash, std::string_view message, std::size_t* target = nullptr);
  // Queue a message of a call on a given target (its remembered connection
  // when that is on this target, else the one call_hash picks there).
  bool send_to_target(std::size_t target, std::uint64_t call_hash, std::string_view message);
  // Write what send() queued. Called from inside a callback it waits for
  // the end of poll(), which flushes anyway.
  void flush(Millis now);

  // Replaces the target list (and connections_per_target) while running.
  // Connections to targets that stay (same host, port, tls, name verified)
  // are kept as they are, slot by slot; new targets (and new slots of kept
  // targets when connections_per_target grows) start connecting at once.
  // Up connections to targets that left (and to slots beyond a smaller
  // connections_per_target) take no new calls from now on but stay open
  // for `drain` (the longest a transaction on them can still be answered:
  // the caller passes upstream.timeout_ms plus a margin), so that answers to
  // requests already sent on them, and the CANCEL or ACK of those calls,
  // still go through; then they are closed (connections_drained). Ones
  // that were not up are closed at once. Exception, so that a reload never
  // turns away calls while the new connections come up: while no target in
  // the new list has a connection up, new calls still go to the draining
  // connections (drain_fallback_calls), each such call extending its
  // connection's drain to `drain` after the last poll().
  // Backoff, timeouts, keepalive, address family and stream options are
  // taken from `next` for what happens from now on; jitter_seed is not.
  // Returns false, changes nothing and says why in `error` when `next` is
  // invalid: no targets, connections_per_target 0 or over
  // kMaxConnectionsPerTarget, a target without host or port, a TLS target
  // while the pool has no TLS context, a target listed twice, a negative
  // drain, or a call from inside one of the pool's callbacks.
  bool replace_targets(const UpstreamPoolOptions& next, Millis now, Millis drain, std::string& error);

  std::size_t connections_up() const { return up_total_; }  // in the current list; draining ones not counted
  std::size_t connections_draining() const { return draining_.size(); }
  std::size_t active_target() const { return active_; }  // kNoTarget when nothing is up
  std::size_t target_count() const { return targets_.size(); }
  std::size_t connections_per_target() const { return per_target_; }
  const UpstreamPoolCounters& counters() const { return counters_; }
  SlotStatus slot_status(std::size_t target, std::size_t connection) const;
  // The connection currently in that slot, or nullptr.
  const StreamConnection* connection(std::size_t target, std::size_t connection) const;
  const UpstreamTarget& target(std::size_t target) const;
  // Every connection: the current targets in order, each slot in order,
  // then the draining ones. For the owner thread (the caller copies it out);
  // allocates, so not for the data path.
  std::vector<ConnectionInfo> connections() const;

 private:
  struct Address;
  struct Resolution;
  struct Target;
  struct Slot;
  struct CallRoute;
  struct CallBucket;

  void handle_io(Millis now);
  void check_resolutions(Millis now);
  void run_timers(Millis now);
  void begin_attempt(Slot& slot, Millis now);
  void start_connect(Slot& slot, Millis now);
  void after_io(Slot& slot, Millis now);
  void attempt_failed(Slot& slot, Millis now, std::string reason);
  void connection_lost(Slot& slot, Millis now);
  void update_interest(Slot& slot);
  void recompute_active();
  bool queue_on(std::size_t target, std::uint64_t call_hash, std::string_view message);
  bool queue_slot(Slot& slot, std::uint64_t call_hash, std::string_view message, bool remember);
  bool send_fallback(std::uint64_t call_hash, std::string_view message);
  Slot* remembered(std::uint64_t call_hash);
  void remember(std::uint64_t call_hash, const Slot& slot);
  std::unique_ptr<Target> make_target(const UpstreamTarget& config) const;
  std::uint32_t add_slot(std::size_t target, std::size_t index);
  void retire_target(Target& t);
  void retire_slot(Slot& slot, Millis now, Millis drain);
  void end_drain(Slot& slot, Millis now, bool on_time);
  void free_slot(Slot& slot);
  void mark(Slot& slot, Millis now);
  void sweep_retired();
  std::string validate(const UpstreamPoolOptions& next, Millis drain) const;
  std::uint64_t next_random();

  UpstreamPoolOptions options_;
  ssl_ctx_st* tls_ctx_;
  UpstreamCallbacks callbacks_;
  std::string error_;
  int epoll_fd_ = -1;
  std::size_t per_target_;
  std::vector<std::unique_ptr<Target>> targets_;  // each lists its slots by connection index
  std::vector<std::unique_ptr<Slot>> slots_;      // by slot id (the epoll tag); null = free
  std::vector<std::uint32_t> free_ids_;
  std::vector<std::uint32_t> draining_;  // slot ids
  std::vector<std::unique_ptr<Resolution>> retired_;  // lookups of targets that left, still running
  std::vector<std::uint32_t> dirty_;  // slots with queued bytes to flush
  std::vector<CallBucket> routes_;    // call_hash -> connection of the call's first message
  std::uint32_t next_serial_ = 0;     // connections opened, names each one for routes_
  std::size_t active_ = kNoTarget;
  bool in_poll_ = false;  // callbacks may be running: flush() waits, replace_targets() refuses
  Millis last_poll_{0};
  std::size_t up_total_ = 0;
  std::uint64_t rng_state_;
  UpstreamPoolCounters counters_;
};

}  // namespace sigrelay::tls
