// The `socket` packet backend (DESIGN.md §2): kernel UDP with recvmmsg and
// sendmmsg, one SO_REUSEPORT socket per listen address per sip worker, so
// the kernel spreads switches across workers. Runs anywhere, unprivileged.
//
// Transport errors (RFC 3261 §18.4): the sockets ask for ICMP errors
// (IP_RECVERR / IPV6_RECVERR), which an unconnected UDP socket otherwise never
// hears of. Each one that means "unreachable" is kept, with the start of the
// refused datagram, in a fixed ring that take_unreachable() empties, so the
// in-line proxy can try the next destination at once instead of timing out.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "dataplane/datagram_io.hpp"
#include "dataplane/packet.hpp"

namespace sigrelay::dataplane {

struct UdpListen {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

class UdpSocketBackend final : public DatagramIo {
 public:
  static constexpr unsigned kBurst = 32;
  // Refused datagrams kept until the worker takes them, and how much of each:
  // ICMP quotes at most 548 (IPv4, RFC 1812 §4.3.2.3) or 1232 (IPv6, RFC 4443
  // §2.4) bytes of the datagram, and only its top Via and Call-ID are read.
  static constexpr std::size_t kUnreachableSlots = 64;
  static constexpr std::size_t kUnreachableBytes = 2048;

  explicit UdpSocketBackend(std::vector<UdpListen> addresses, std::size_t unreachable_slots = kUnreachableSlots)
      : addresses_(std::move(addresses)), unreachable_slots_(unreachable_slots) {}
  ~UdpSocketBackend() override;
  UdpSocketBackend(const UdpSocketBackend&) = delete;
  UdpSocketBackend& operator=(const UdpSocketBackend&) = delete;

  // DatagramIo. open() binds one socket per address (SO_REUSEPORT,
  // non-blocking) and an epoll set with them and `wake_fd`.
  bool open(int wake_fd, std::string& error) override;
  unsigned receive(PacketPool& pool, std::span<Packet*> out, sip::Millis now) override;
  bool send(const SwitchPeer& to, std::span<const sip::Segment> msg, sip::Millis) override { return queue(to, msg); }
  void flush() override;
  unsigned service(sip::Millis) override { return 0; }
  void idle(sip::Millis max_wait) override;
  std::size_t take_unreachable(char* out, std::size_t capacity, sockaddr_storage& destination) override;
  std::string describe() const override;

  bool open(std::span<const UdpListen> addresses, std::string& error);
  const std::vector<int>& fds() const { return fds_; }
  // The address a socket is actually bound to (port 0 resolved).
  UdpListen bound(std::size_t i) const;

  // Receives up to packets.size() datagrams from socket `i` into the packets
  // (data, len, peer with local = i). Returns how many arrived.
  unsigned receive(std::size_t i, std::span<Packet*> packets);

  // Queues a datagram (copied into the transmit batch); sent by flush() or
  // when the batch is full. Returns false when the datagram is too large.
  bool queue(const SwitchPeer& to, std::span<const sip::Segment> msg);
  std::uint64_t pool_empty() const { return pool_empty_; }

  std::uint64_t datagrams_sent() const { return sent_; }
  std::uint64_t send_errors() const { return send_errors_; }
  // ICMP errors that are transport failures (§18.4: network, host, port or
  // protocol unreachable, parameter problem), whether or not kept.
  std::uint64_t icmp_unreachable() const { return icmp_unreachable_; }
  // Sends the kernel refused at once for their destination (no route,
  // prohibited, broadcast): kept like ICMP errors, and also in send_errors().
  std::uint64_t send_refused() const { return send_refused_; }
  // Transport failures not kept because the ring was full.
  std::uint64_t unreachable_dropped() const { return unreachable_dropped_; }
  // ICMP transport failures that quoted none of our SIP bytes (RFC 792 asks
  // for only 8 bytes past the IP header: the UDP header): nothing to match.
  std::uint64_t icmp_unquoted() const { return icmp_unquoted_; }
  // Error-queue entries that are not transport failures and are discarded:
  // TTL exceeded, packet too big / fragmentation needed, local errors.
  std::uint64_t icmp_ignored() const { return icmp_ignored_; }

 private:
  static constexpr std::size_t kTxBytes = 65536;
  // Error-queue entries read per call: the rest stay queued (and keep the
  // socket reporting EPOLLERR) for the next turn, so one flood cannot stall it.
  static constexpr unsigned kErrorBurst = 64;
  // Sends retried after collecting an earlier datagram's ICMP error that the
  // kernel reported on them instead.
  static constexpr unsigned kSendRetries = 2;

  struct Unreachable {
    sockaddr_storage destination;
    std::uint32_t len;
    char bytes[kUnreachableBytes];
  };

  // Reads socket i's error queue into the ring; returns how many entries it read.
  unsigned drain_errors(std::size_t i);
  // The free slot at the ring's tail, or nullptr when the ring is full.
  Unreachable* unreachable_tail();
  void note_refused(const msghdr& datagram);

  std::vector<UdpListen> addresses_;
  std::vector<int> fds_;
  int epoll_fd_ = -1;
  std::uint64_t pool_empty_ = 0;
  // Transmit batch: per socket the messages and their bytes.
  struct Tx {
    std::uint8_t local;
    sockaddr_storage to;
    socklen_t to_len;
    std::uint32_t offset;
    std::uint32_t len;
  };
  std::vector<Tx> tx_;
  std::vector<char> tx_bytes_ = std::vector<char>(kTxBytes);
  std::size_t tx_used_ = 0;
  std::uint64_t sent_ = 0;
  std::uint64_t send_errors_ = 0;
  // Refused datagrams, oldest at head; sized by open().
  std::size_t unreachable_slots_;
  std::vector<Unreachable> unreachable_;
  std::size_t unreachable_head_ = 0;
  std::size_t unreachable_count_ = 0;
  std::uint64_t icmp_unreachable_ = 0;
  std::uint64_t send_refused_ = 0;
  std::uint64_t unreachable_dropped_ = 0;
  std::uint64_t icmp_unquoted_ = 0;
  std::uint64_t icmp_ignored_ = 0;
};

}  // namespace sigrelay::dataplane
