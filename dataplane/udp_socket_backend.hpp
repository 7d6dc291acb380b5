// The `socket` packet backend (DESIGN.md §2): kernel UDP with recvmmsg and
// sendmmsg, one SO_REUSEPORT socket per listen address per sip worker, so
// the kernel spreads switches across workers. Runs anywhere, unprivileged.
#pragma once

#include <sys/socket.h>

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

  explicit UdpSocketBackend(std::vector<UdpListen> addresses) : addresses_(std::move(addresses)) {}
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

 private:
  static constexpr std::size_t kTxBytes = 65536;

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
};

}  // namespace sigrelay::dataplane
