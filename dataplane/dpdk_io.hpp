// The `dpdk` packet backend for one sip worker: its own RX/TX queue pair on
// the switch-facing port and on the exception (tap) port, its own mempool
// and its own L2-L4 stack. Received SIP stays in its mbuf: the Packet header
// lives in the mbuf's private area and points at the UDP payload, so the
// hand-off to the Call-ID's owner moves the mbuf, not a copy. Only a
// reassembled datagram (an mbuf chain) is gathered into a pooled buffer for
// the parser, which needs the message contiguous.
//
// The loop never allocates, locks or makes a system call; when idle it spins
// or, if dataplane.idle_sleep_us is set, naps that long (labs, shared hosts).
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/datagram_io.hpp"
#include "dataplane/dpdk_port.hpp"
#include "dataplane/net/net_stack.hpp"
#include "dataplane/relay_counters.hpp"

struct rte_mbuf;

namespace sigrelay::dataplane {

// Written by the worker only (bump), read by the control thread. What the
// L2-L4 stack sees (frames, SIP datagrams, each drop) it counts itself.
struct alignas(64) DpdkIoCounters {
  Counter gathered;        // reassembled chains copied into a pooled buffer
  Counter gather_dropped;  // ... that found no buffer or did not fit
  Counter to_kernel;       // frames passed to the exception port
  Counter from_kernel;     // frames the kernel sent through us
  Counter kernel_dropped;  // exception frames with nowhere to go (no tap, queue full)
  Counter tx_dropped;      // the TX queue was full
};

struct DpdkIoOptions {
  unsigned queue = 0;
  std::uint8_t worker {};
  // Our SIP addresses (each dataplane.address with each listen.udp port);
  // SwitchPeer::local indexes this list.
  std::vector<sockaddr_storage> locals;
  unsigned idle_sleep_us = 0;
  net::NetConfig net{};
};

class DpdkIo final : public DatagramIo {
 public:
  DpdkIo(const DpdkPort& port, DpdkIoOptions options);
  ~DpdkIo() override;

  bool open(int wake_fd, std::string& error) override;
  unsigned receive(PacketPool& pool, std::span<Packet*> out, sip::Millis now) override;
  bool send(const SwitchPeer& to, std::span<const sip::Segment> msg, sip::Millis now) override;
  void flush() override;
  unsigned service(sip::Millis now) override;
  void idle(sip::Millis max_wait) override;
  std::string describe() const override;
  bool sleeps() const override { return false; }
  std::size_t take_announcement(char* out, std::size_t capacity) override;
  void on_announcement(std::string_view message, sip::Millis now) override;
  // ICMP errors the L2-L4 stack matched to a SIP datagram we sent.
  std::size_t take_unreachable(char* out, std::size_t capacity, sockaddr_storage& destination) override;

  const DpdkIoCounters& counters() const { return counters_; }
  const net::NetStack* stack() const { return stack_.get(); }

 private:
  static constexpr unsigned kBurst = 32;
  Packet* wrap(const net::SipDatagram& d, PacketPool& pool);
  std::uint8_t local_index(const sockaddr_storage& local) const;
  void send_to_kernel();

  const DpdkPort& port_;
  DpdkIoOptions options_;
  std::unique_ptr<net::NetStack> stack_;
  rte_mbuf* kernel_batch_[kBurst] = {};
  unsigned kernel_count_ {};
  sip::Millis last_timer_{0};
  DpdkIoCounters counters_;
};

}  // namespace sigrelay::dataplane
