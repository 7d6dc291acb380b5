// The one small interface between a sip worker and its packet I/O backend
// (DESIGN.md §2): kernel sockets or DPDK. The worker asks for SIP datagrams,
// queues datagrams to send, flushes once per loop turn and, when a turn found
// no work, lets the backend decide how to idle (sleep in epoll, or keep
// polling the NIC). Everything above this line is the same code for both.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "dataplane/packet.hpp"
#include "sip/rewriter.hpp"
#include "sip/transaction.hpp"

namespace sigrelay::dataplane {

class DatagramIo {
 public:
  virtual ~DatagramIo() = default;

  // Prepares the backend for the worker's thread; `wake_fd` becomes readable
  // when another thread put work in this worker's rings.
  virtual bool open(int wake_fd, std::string& error) = 0;
  // Up to out.size() SIP datagrams, with peer (source, local) filled in.
  // Packets come from `pool`, or from the backend's own buffers (mbufs);
  // either way the worker gives each back through SipWorker::release.
  virtual unsigned receive(PacketPool& pool, std::span<Packet*> out, sip::Millis now) = 0;
  // Queues one datagram to a switch; false when it cannot be sent (too large,
  // no buffer), counted by the backend.
  virtual bool send(const SwitchPeer& to, std::span<const sip::Segment> msg, sip::Millis now) = 0;
  // Puts everything queued on the wire.
  virtual void flush() = 0;
  // Backend housekeeping that runs every loop turn (neighbour aging, the
  // kernel exception path); returns how much work it found.
  virtual unsigned service(sip::Millis now) = 0;
  // True when idle() blocks on the wake fd (then the worker takes part in
  // the mailboxes' sleep protocol); a polling backend returns false.
  virtual bool sleeps() const { return true; }
  // Called when a loop turn found nothing to do: wait at most `max_wait`
  // for a datagram or a wake-up.
  virtual void idle(sip::Millis max_wait) = 0;
  // Something this worker's backend learned that the other workers' need
  // too (dpdk: a neighbour's MAC); one short message per call, 0 when none.
  // The worker passes each to every other sip worker's on_announcement.
  virtual std::size_t take_announcement(char* /*out*/, std::size_t /*capacity*/) { return 0; }
  virtual void on_announcement(std::string_view /*message*/, sip::Millis /*now*/) {}
  // A datagram we sent that the network refused (ICMP unreachable): copies
  // its SIP payload (or as much as fits) to `out` and returns its length; 0
  // when none is pending. Called every loop turn until it returns 0.
  virtual std::size_t take_unreachable(char* /*out*/, std::size_t /*capacity*/, sockaddr_storage& /*destination*/) { return 0; }
  // The addresses datagrams are accepted on, for the ready line and logs.
  virtual std::string describe() const = 0;
};

}  // namespace sigrelay::dataplane
