// A message in flight between threads: a fixed-size buffer from its owner's
// pool with routing metadata in front, or (dpdk backend) a received mbuf
// with this header in its private area and `bytes` pointing at the UDP
// payload. Rings carry Packet pointers, never copies of the text
// (DESIGN.md §2). The thread that allocated a pooled packet is the only one
// that puts it back in its pool; any other thread that is done with it sends
// it home over the ring to the owner (kind free_buffer). An mbuf packet is
// freed where it is done with: DPDK mempools are safe for that.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "dataplane/relay_engine.hpp"

namespace sigrelay::dataplane {

enum class PacketKind : std::uint8_t {
  switch_message,    // tls worker -> sip worker: a message a switch sent over TCP/TLS
  handoff,           // sip worker -> sip worker: a UDP datagram for the Call-ID's owner
  to_upstream,       // sip worker -> tls worker: send to the service on call_hash's connection
  from_upstream,     // tls worker -> sip worker: a message from the service
  to_switch_stream,  // sip worker -> tls worker: send on a switch's stream connection
  free_buffer,       // any -> owner: the packet goes back to its pool
  announcement,      // sip worker -> sip worker: backend state to share (DatagramIo::take_announcement)
  to_destination_stream,  // sip worker -> tls worker: in-line mode, send over TCP/TLS to peer (opened on demand)
  undeliverable,     // tls worker -> sip worker: a to_destination_stream message whose connection failed
};

struct alignas(64) Packet {
  PacketKind kind = PacketKind::free_buffer;
  std::uint8_t owner = 0;  // thread index whose pool holds this packet
  std::uint32_t len = 0;
  std::uint32_t capacity = 0;
  std::uint64_t call_hash = 0;
  SwitchPeer peer{};       // switch_message / handoff / to_switch_stream
  char* bytes = nullptr;   // the message text: after this header, or inside an mbuf
  void* mbuf = nullptr;    // set when the packet lives in a DPDK mbuf (freed, not pooled)
  char* data() { return bytes; }
  const char* data() const { return bytes; }
  std::string_view view() const { return {data(), len}; }
  // Copies segments in; false (and nothing written) when they do not fit.
  bool assign(std::span<const sip::Segment> segs) {
    std::size_t total = 0;
    for (const auto& s : segs) total += s.len;
    if (total > capacity) return false;
    std::size_t at = 0;
    for (const auto& s : segs) {
      std::memcpy(data() + at, s.data, s.len);
      at += s.len;
    }
    len = static_cast<std::uint32_t>(total);
    return true;
  }
};

// A fixed set of packets owned by one thread. Not thread-safe by design:
// get() and put() are only ever called by the owner.
class PacketPool {
 public:
  PacketPool(std::uint8_t owner, std::size_t count, std::uint32_t data_bytes)
      : stride_(((sizeof(Packet) + data_bytes + 63) / 64) * 64),
        memory_(static_cast<std::byte*>(::operator new(stride_ * count, std::align_val_t{64}))),
        count_(count) {
    free_.reserve(count);
    for (std::size_t i = count; i-- > 0;) {
      auto* p = new (memory_ + i * stride_) Packet{};
      p->owner = owner;
      p->capacity = data_bytes;
      p->bytes = reinterpret_cast<char*>(p + 1);
      free_.push_back(p);
    }
  }
  ~PacketPool() { ::operator delete(memory_, std::align_val_t{64}); }
  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;

  Packet* get() {
    if (free_.empty()) return nullptr;
    Packet* p = free_.back();
    free_.pop_back();
    return p;
  }
  void put(Packet* p) { free_.push_back(p); }
  std::size_t available() const { return free_.size(); }
  std::size_t size() const { return count_; }

 private:
  std::size_t stride_;
  std::byte* memory_;
  std::size_t count_;
  std::vector<Packet*> free_;
};

}  // namespace sigrelay::dataplane
