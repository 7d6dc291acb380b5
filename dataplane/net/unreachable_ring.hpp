// Datagrams we sent that an ICMP error reported unreachable, waiting for the
// sip worker (DatagramIo::take_unreachable): the start of each quoted SIP
// message and the destination it was sent to. Fixed slots, allocated once;
// one owner thread. Full means the oldest reports are still unread: a new
// one is refused (and counted by the caller), the transaction's own timer
// still ends the attempt.
#pragma once

#include <rte_mbuf.h>

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sigrelay::dataplane::net {

class UnreachableRing {
 public:
  static constexpr std::size_t kSlots = 64;
  // A quote is at most 576 - 28 - 28 bytes over IPv4 and 1280 - 48 - 48 over
  // IPv6 (RFC 1812 §4.3.2.3, RFC 4443 §2.4(c)); a PMD delivering larger
  // frames still fits the start of the message, which has the top Via.
  static constexpr std::size_t kBytes = 2048;

  UnreachableRing() : slots_(kSlots) {}
  UnreachableRing(const UnreachableRing&) = delete;
  UnreachableRing& operator=(const UnreachableRing&) = delete;

  // Copies bytes [offset, offset + len) of the chain (at most kBytes of
  // them). False when the ring is full, len is 0 or the chain is shorter.
  bool push(const rte_mbuf* m, std::uint32_t offset, std::uint32_t len, const sockaddr_storage& destination);
  // The oldest report: copies min(its length, capacity) bytes to `out` and
  // returns that count; 0 (nothing taken) when empty or capacity is 0.
  std::size_t take(char* out, std::size_t capacity, sockaddr_storage& destination);
  std::size_t size() const { return count_; }

 private:
  struct Slot {
    sockaddr_storage destination;
    std::uint32_t len;
    char bytes[kBytes];
  };

  std::vector<Slot> slots_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

}  // namespace sigrelay::dataplane::net
