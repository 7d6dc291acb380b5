// One tls worker thread (DESIGN.md §2): it owns its upstream connections to
// the service (UpstreamPool) and the TCP/TLS connections switches open to
// us, and moves messages between them and the sip workers over rings.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dataplane/mailboxes.hpp"
#include "dataplane/policy_board.hpp"
#include "dataplane/trace_hook.hpp"
#include "dataplane/relay_counters.hpp"
#include "dataplane/sip_worker.hpp"
#include "sip/branch_codec.hpp"
#include "tls/stream_connection.hpp"
#include "tls/upstream_pool.hpp"

namespace sigrelay::tls {

struct StreamListen {
  sockaddr_storage addr{};
  socklen_t len = 0;
  bool tls = false;
};

struct TlsWorkerOptions {
  unsigned index = 0;  // among tls workers (thread index is sip_workers + index)
  UpstreamPoolOptions upstream{};
  std::vector<StreamListen> listen;  // switch-facing TCP/TLS
  std::size_t pool_packets = 4096;
  std::uint32_t max_message = 16384;
  std::size_t max_inbound_connections = 4096;
  // In-line mode: TCP/TLS from sources outside acl.allow is accepted too,
  // and each message must then prove it belongs to one of our calls
  // (RelayEngine::admits_unlisted); connections to destinations are opened
  // on demand.
  bool admit_unlisted = false;
  // Hot reload: this worker is reader `policy_reader` of the board; on a new
  // generation, `upstream_of` gives the upstream options it asks for (the
  // pool then changes targets without dropping calls). nullptr: fixed.
  dataplane::PolicyBoard* policy = nullptr;
  unsigned policy_reader = 0;
  std::function<const UpstreamPoolOptions*(const dataplane::RuntimePolicy&)> upstream_of;
  // Tracing (dataplane/trace_hook.hpp): every framed message, TLS decrypted.
  dataplane::TraceSink* trace = nullptr;
};

// What a tls worker counts; single writer (the worker), relaxed readers.
struct alignas(64) TlsWorkerCounters {
  dataplane::Counter inbound_accepted;
  dataplane::Counter inbound_refused_acl;   // connection closed at once: source not whitelisted
  dataplane::Counter inbound_refused_limit; // too many connections
  dataplane::Counter inbound_closed;
  dataplane::Counter inbound_messages;
  dataplane::Counter upstream_messages_in;
  dataplane::Counter upstream_unroutable;   // a message from the service whose branch is not ours
  dataplane::Counter upstream_send_failed;  // no connection up / buffer full when a request was due
  dataplane::Counter switch_send_failed;    // the switch's connection is gone
  dataplane::Counter ring_full;
  dataplane::Counter pool_empty;
  // Copied from the UpstreamPool's own counters after every poll.
  dataplane::Counter upstream_connect_attempts;
  dataplane::Counter upstream_connect_failures;
  dataplane::Counter upstream_handshake_failures;  // TLS handshake or certificate verification failed
  dataplane::Counter upstream_disconnects;
  dataplane::Counter upstream_failovers;
  dataplane::Counter upstream_keepalive_timeouts;
  // In-line mode: connections we open to destinations.
  dataplane::Counter destination_connects;
  dataplane::Counter destination_connect_failures;  // refused, unreachable, TLS failure, timeout
  dataplane::Counter destination_undeliverable;     // messages bounced back to the sip worker
  dataplane::Counter destination_idle_closed;
  dataplane::Counter inbound_unlisted;              // in-line: accepted from outside acl.allow
};

class TlsWorker {
 public:
  TlsWorker(const TlsWorkerOptions& options, dataplane::Mailboxes& mail, const dataplane::SourceFilter& filter,
            sip::BranchMac mac, ssl_ctx_st* client_ctx, ssl_ctx_st* server_ctx,
            dataplane::UpstreamStatus& status, TlsWorkerCounters& counters);
  ~TlsWorker();
  TlsWorker(const TlsWorker&) = delete;
  TlsWorker& operator=(const TlsWorker&) = delete;

  bool open(std::string& error);
  void run(const std::atomic<int>& phase);
  const UpstreamPool& pool() const { return *pool_; }
  // The upstream connections as of at most a second ago, `since` turned into
  // how long each has been in its state; any thread.
  std::vector<ConnectionInfo> sessions() const;

 private:
  struct Inbound;

  Millis now() const;
  unsigned thread() const { return mail_.sip_workers() + options_.index; }
  void on_upstream_message(std::string_view msg);
  void publish_pool_counters();
  void log_state_change(std::size_t target, std::size_t conn, bool up, std::string_view reason);
  void on_inbound_message(std::uint32_t conn, std::string_view msg);
  void accept_all(std::size_t listener);
  void service_inbound(std::uint32_t conn, std::uint32_t events);
  void close_inbound(std::uint32_t conn);
  std::uint32_t allocate_conn_index();
  bool send_to_destination(dataplane::Packet* p);
  std::uint32_t open_destination(const dataplane::SwitchPeer& to);
  void expire_destinations(Millis now);
  void follow_policy(Millis now);
  bool tracing() const { return options_.trace != nullptr && options_.trace->on(); }
  void trace(const sockaddr_storage& src, const sockaddr_storage& dst, dataplane::Transport t, bool sent,
             std::string_view msg);
  unsigned drain_rings();
  dataplane::Packet* packet_for(std::string_view msg);
  void release(dataplane::Packet* p);

  TlsWorkerOptions options_;
  dataplane::Mailboxes& mail_;
  const dataplane::SourceFilter& filter_;
  sip::BranchMac mac_;
  ssl_ctx_st* client_ctx_;
  ssl_ctx_st* server_ctx_;
  dataplane::UpstreamStatus& status_;
  TlsWorkerCounters& counters_;
  dataplane::PacketPool pool_packets_;
  std::unique_ptr<UpstreamPool> pool_;
  std::vector<int> listeners_;
  std::vector<std::unique_ptr<Inbound>> inbound_;  // by connection id; null = free
  std::vector<std::uint32_t> free_ids_;
  std::vector<std::uint32_t> outbound_;  // indices into inbound_ of connections we opened
  Millis next_expiry_{0};
  Millis next_sessions_{0};
  mutable std::mutex sessions_mu_;  // the snapshot below: written once a second, read by the control plane
  std::vector<ConnectionInfo> sessions_;
  std::uint64_t policy_generation_ = 1;  // the board's first generation is what we were built with
  std::uint32_t next_generation_ = 0;
  struct Logged {
    std::string reason;
    Millis at{0};
  };
  std::vector<Logged> last_logged_;
  int epoll_fd_ = -1;
  std::chrono::steady_clock::time_point epoch_ = std::chrono::steady_clock::now();
};

}  // namespace sigrelay::tls
