// One sip worker thread: UDP in and out through its packet I/O backend
// (kernel sockets or a DPDK queue), messages from and to the tls workers and
// the other sip workers over rings, one RelayEngine, one clock. It owns every
// transaction whose Call-ID hashes to it (DESIGN.md §2).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/mailboxes.hpp"
#include "dataplane/policy_board.hpp"
#include "dataplane/trace_hook.hpp"
#include "dataplane/packet.hpp"
#include "dataplane/relay_engine.hpp"
#include "dataplane/datagram_io.hpp"

namespace sigrelay::dataplane {

// Decides whether a source may talk to the relay (acl.allow). Implemented
// by the control plane's whitelist; called once per datagram.
class SourceFilter {
 public:
  virtual bool allows(const sockaddr_storage& source) const = 0;

 protected:
  ~SourceFilter() = default;
};

// How many upstream connections each tls worker has up; written by the tls
// workers, read by the sip workers (OPTIONS answers, quick fail-open).
struct UpstreamStatus {
  static constexpr unsigned kMaxTlsWorkers = 64;
  std::atomic<unsigned> up[kMaxTlsWorkers] = {};
  unsigned total(unsigned tls_workers) const {
    unsigned n = 0;
    for (unsigned i = 0; i < tls_workers && i < kMaxTlsWorkers; ++i) n += up[i].load(std::memory_order_relaxed);
    return n;
  }
};

enum class Phase : int { running = 0, draining = 1, stopped = 2 };

struct SipWorkerOptions {
  unsigned index = 0;
  EngineOptions engine{};
  std::size_t pool_packets = 4096;
  std::uint32_t max_message = 16384;
  // Hot reload: the worker reads its settings from here (reader `index`)
  // and passes each new generation to its engine. nullptr: fixed settings.
  PolicyBoard* policy = nullptr;
  // Time from a datagram's arrival to the end of its handling here (parse,
  // decisions, sending on). nullptr: not measured.
  LatencyHistogram* local_processing = nullptr;
  // Tracing (trace_hook.hpp); nullptr: never. `local_addresses[i]` is the
  // address of listen socket i (SwitchPeer::local), for the traces.
  TraceSink* trace = nullptr;
  std::vector<sockaddr_storage> local_addresses;
};

class SipWorker final : public RelayIo {
 public:
  SipWorker(const SipWorkerOptions& options, std::unique_ptr<DatagramIo> io, Mailboxes& mail,
            const SourceFilter& filter, sip::BranchMac mac, RelayCounters& counters, const UpstreamStatus& upstream);
  ~SipWorker();

  bool open(std::string& error);
  const DatagramIo& io() const { return *io_; }
  // The thread body: returns once phase is `stopped` (after answering every
  // pending INVITE when it passes through `draining`).
  void run(const std::atomic<int>& phase);

  // RelayIo
  void to_switch(const SwitchPeer& peer, std::span<const sip::Segment> msg) override;
  bool to_upstream(std::uint64_t call_hash, std::span<const sip::Segment> msg) override;
  bool upstream_up() const override;
  bool to_destination(const SwitchPeer& to, std::uint64_t call_hash, std::span<const sip::Segment> msg) override;

 private:
  sip::Millis now() const;
  unsigned poll_udp();
  unsigned take_unreachables();
  void follow_policy();
  bool post_to_tls(unsigned tls_worker, PacketKind kind, const SwitchPeer& peer, std::uint64_t call_hash,
                   std::span<const sip::Segment> msg);
  bool tracing() const { return options_.trace != nullptr && options_.trace->on(); }
  void trace_udp(const SwitchPeer& peer, std::span<const sip::Segment> msg, bool sent);
  unsigned drain_rings();
  void handle_datagram(Packet* p, bool handed_off);
  void handle_stream_message(Packet* p, bool from_switch);
  void release(Packet* p);
  unsigned share_announcements();
  void sleep_until_work();

  std::uint64_t policy_generation_ = 0;
  std::string trace_buf_;  // a sent message gathered for the trace (only while tracing)
  sockaddr_storage any_address_{};
  SipWorkerOptions options_;
  Mailboxes& mail_;
  const SourceFilter& filter_;
  sip::BranchMac mac_;
  RelayCounters& counters_;
  const UpstreamStatus& upstream_;
  PacketPool pool_;
  std::unique_ptr<DatagramIo> io_;
  std::unique_ptr<RelayEngine> engine_;
  std::chrono::steady_clock::time_point epoch_ = std::chrono::steady_clock::now();
};

}  // namespace sigrelay::dataplane
