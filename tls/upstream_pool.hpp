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
// has a connection up; within it, call_hash picks the connection, so all
// messages of a call take the same one while it stays up. Messages that
// belong to a call already started (CANCEL, ACK) go with send_to_target()
// to the target that took its INVITE, so only new calls move when the
// active target changes.
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
  // reported as down too.
  std::function<void(std::size_t target, std::size_t connection, bool up, std::string_view reason)> on_state_change;
};

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
};

enum class SlotState : std::uint8_t {
  waiting,     // backing off until next_attempt
  resolving,   // waiting for a DNS answer
  connecting,  // TCP connect or TLS handshake under way
  up,
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

  // Queue a message of a new call on the active target; false (counted)
  // when no connection is up or the chosen one's buffer is full. `target`
  // receives the target used. Queued messages leave on flush() or poll().
  bool send(std::uint64_t call_hash, std::string_view message, std::size_t* target = nullptr);
  // Queue a message of a call already under way on a given target.
  bool send_to_target(std::size_t target, std::uint64_t call_hash, std::string_view message);
  // Write what send() queued. Called from inside a callback it waits for
  // the end of poll(), which flushes anyway.
  void flush(Millis now);

  std::size_t connections_up() const { return up_total_; }
  std::size_t active_target() const { return active_; }  // kNoTarget when nothing is up
  std::size_t target_count() const { return targets_.size(); }
  std::size_t connections_per_target() const { return per_target_; }
  const UpstreamPoolCounters& counters() const { return counters_; }
  SlotStatus slot_status(std::size_t target, std::size_t connection) const;
  // The connection currently in that slot, or nullptr.
  const StreamConnection* connection(std::size_t target, std::size_t connection) const;

 private:
  struct Address;
  struct Resolution;
  struct Target;
  struct Slot;

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
  std::uint64_t next_random();

  UpstreamPoolOptions options_;
  ssl_ctx_st* tls_ctx_;
  UpstreamCallbacks callbacks_;
  std::string error_;
  int epoll_fd_ = -1;
  std::size_t per_target_;
  std::vector<std::unique_ptr<Target>> targets_;
  std::vector<std::unique_ptr<Slot>> slots_;  // target-major: slot t * per_target_ + i
  std::vector<std::uint32_t> dirty_;          // slots with queued bytes to flush
  std::size_t active_ = kNoTarget;
  bool in_poll_ = false;
  Millis last_poll_{0};
  std::size_t up_total_ = 0;
  std::uint64_t rng_state_;
  UpstreamPoolCounters counters_;
};

}  // namespace sigrelay::tls
