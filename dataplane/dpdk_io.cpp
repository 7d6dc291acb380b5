#include "dataplane/dpdk_io.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_pause.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "dataplane/socket_address.hpp"

namespace sigrelay::dataplane {
namespace {

bool same_address(const sockaddr_storage& a, const sockaddr_storage& b) {
  if (a.ss_family != b.ss_family) return false;
  if (a.ss_family == AF_INET) {
    const auto& x = reinterpret_cast<const sockaddr_in&>(a);
    const auto& y = reinterpret_cast<const sockaddr_in&>(b);
    return x.sin_addr.s_addr == y.sin_addr.s_addr && x.sin_port == y.sin_port;
  }
  const auto& x = reinterpret_cast<const sockaddr_in6&>(a);
  const auto& y = reinterpret_cast<const sockaddr_in6&>(b);
  return std::memcmp(&x.sin6_addr, &y.sin6_addr, sizeof x.sin6_addr) == 0 && x.sin6_port == y.sin6_port;
}

socklen_t address_length(const sockaddr_storage& a) {
  return a.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
}

// Frees what a TX burst did not take and returns how many that were.
unsigned free_unsent(rte_mbuf** frames, unsigned sent, unsigned total) {
  for (unsigned k = sent; k < total; ++k) rte_pktmbuf_free(frames[k]);
  return total - sent;
}

}  // namespace

DpdkIo::DpdkIo(const DpdkPort& port, DpdkIoOptions options) : port_(port), options_(std::move(options)) {}

DpdkIo::~DpdkIo() {
  for (unsigned k = 0; k < kernel_count_; ++k) rte_pktmbuf_free(kernel_batch_[k]);
}

bool DpdkIo::open(int, std::string& error) {
  net::NetError e = net::NetError::ok;
  stack_ = net::NetStack::create(options_.net, port_.pool(options_.queue), e);
  if (!stack_) error = "L2-L4 setup: " + std::string(net::to_string(e));
  return stack_ != nullptr;
}

std::uint8_t DpdkIo::local_index(const sockaddr_storage& local) const {
  for (std::size_t i = 0; i < options_.locals.size(); ++i) {
    if (same_address(options_.locals[i], local)) return static_cast<std::uint8_t>(i);
  }
  return 0;
}

Packet* DpdkIo::wrap(const net::SipDatagram& d, PacketPool& pool) {
  rte_mbuf* m = d.m;
  Packet* p = nullptr;
  if (m->nb_segs == 1) {
    // Zero copy: the header goes into the mbuf's private area.
    p = new (rte_mbuf_to_priv(m)) Packet{};
    p->bytes = rte_pktmbuf_mtod_offset(m, char*, d.offset);
    p->capacity = d.len;
    p->mbuf = m;
  } else {
    // A reassembled chain: the parser needs one contiguous message.
    p = pool.get();
    if (p == nullptr || d.len > p->capacity) {
      if (p != nullptr) pool.put(p);
      bump(counters_.gather_dropped);
      rte_pktmbuf_free(m);
      return nullptr;
    }
    const void* at = rte_pktmbuf_read(m, d.offset, d.len, p->bytes);
    if (at != p->bytes) std::memcpy(p->bytes, at, d.len);
    rte_pktmbuf_free(m);
    bump(counters_.gathered);
  }
  p->kind = PacketKind::handoff;
  p->owner = options_.worker;
  p->len = d.len;
  p->peer.addr = d.source;
  p->peer.addr_len = address_length(d.source);
  p->peer.transport = Transport::udp;
  p->peer.local = local_index(d.local);
  return p;
}

unsigned DpdkIo::receive(PacketPool& pool, std::span<Packet*> out, sip::Millis now) {
  rte_mbuf* frames[kBurst];
  const auto want = static_cast<std::uint16_t>(std::min<std::size_t>(kBurst, out.size()));
  const std::uint16_t n = rte_eth_rx_burst(port_.port(), static_cast<std::uint16_t>(options_.queue), frames, want);
  if (n == 0) return 0;
  unsigned got = 0;
  for (std::uint16_t k = 0; k < n; ++k) {
    net::SipDatagram d{};
    switch (stack_->receive(frames[k], now, d)) {
      case net::RxVerdict::sip:
        if (Packet* p = wrap(d, pool)) out[got++] = p;
        break;
      case net::RxVerdict::to_kernel: {
        rte_mbuf* frame = d.m != nullptr ? d.m : frames[k];
        if (!port_.exception_port()) {
          bump(counters_.kernel_dropped);
          rte_pktmbuf_free(frame);
          break;
        }
        kernel_batch_[kernel_count_++] = frame;
        if (kernel_count_ == kBurst) send_to_kernel();
        break;
      }
      case net::RxVerdict::consumed:
        break;
    }
  }
  send_to_kernel();
  return got;
}

void DpdkIo::send_to_kernel() {
  if (kernel_count_ == 0) return;
  const auto tap = *port_.exception_port();
  const std::uint16_t sent =
      rte_eth_tx_burst(tap, static_cast<std::uint16_t>(options_.queue), kernel_batch_, static_cast<std::uint16_t>(kernel_count_));
  bump(counters_.to_kernel, sent);
  bump(counters_.kernel_dropped, free_unsent(kernel_batch_, sent, kernel_count_));
  kernel_count_ = 0;
}

bool DpdkIo::send(const SwitchPeer& to, std::span<const sip::Segment> msg, sip::Millis now) {
  const sockaddr_storage& from = options_.locals[to.local < options_.locals.size() ? to.local : 0];
  return stack_->send_udp(from, to.addr, msg, now);  // a refusal is counted there, by reason
}

void DpdkIo::flush() {
  rte_mbuf* frames[kBurst];
  while (true) {
    const unsigned n = stack_->take_tx(frames, kBurst);
    if (n == 0) return;
    const std::uint16_t sent = rte_eth_tx_burst(port_.port(), static_cast<std::uint16_t>(options_.queue), frames,
                                                static_cast<std::uint16_t>(n));
    bump(counters_.tx_dropped, free_unsent(frames, sent, n));
    if (n < kBurst) return;
  }
}

unsigned DpdkIo::service(sip::Millis now) {
  if (now != last_timer_) {
    stack_->on_timer(now);
    last_timer_ = now;
  }
  const auto tap = port_.exception_port();
  if (!tap) return 0;
  // What the kernel sends (TCP/TLS answers, its ARP requests, ...) goes to
  // the wire unchanged: it already carries the port's MAC.
  rte_mbuf* frames[kBurst];
  const auto q = static_cast<std::uint16_t>(options_.queue);
  const std::uint16_t n = rte_eth_rx_burst(*tap, q, frames, kBurst);
  if (n == 0) return 0;
  bump(counters_.from_kernel, n);
  const std::uint16_t sent = rte_eth_tx_burst(port_.port(), q, frames, n);
  bump(counters_.tx_dropped, free_unsent(frames, sent, n));
  return n;
}

void DpdkIo::idle(sip::Millis max_wait) {
  if (options_.idle_sleep_us == 0 || max_wait.count() == 0) {
    rte_pause();
    return;
  }
  const auto cap = static_cast<unsigned>(std::min<std::int64_t>(max_wait.count() * 1000, options_.idle_sleep_us));
  rte_delay_us_sleep(cap);
}

// A learned neighbour travels as: family (4 or 6), 16 address bytes, 6 MAC bytes.
std::size_t DpdkIo::take_announcement(char* out, std::size_t capacity) {
  constexpr std::size_t kSize = 1 + 16 + 6;
  if (capacity < kSize) return 0;
  net::LearnedNeighbour n;
  if (stack_->take_learned(&n, 1) == 0) return 0;
  out[0] = n.ip.is_v4() ? 4 : 6;
  std::memcpy(out + 1, n.ip.bytes.data(), 16);
  std::memcpy(out + 17, n.mac.addr_bytes, 6);
  return kSize;
}

void DpdkIo::on_announcement(std::string_view message, sip::Millis now) {
  if (message.size() != 1 + 16 + 6 || (message[0] != 4 && message[0] != 6)) return;
  net::IpAddress ip;
  ip.family = message[0] == 4 ? net::IpAddress::Family::v4 : net::IpAddress::Family::v6;
  std::memcpy(ip.bytes.data(), message.data() + 1, 16);
  rte_ether_addr mac;
  std::memcpy(mac.addr_bytes, message.data() + 17, 6);
  stack_->peer_learned(ip, mac, now);
}

std::size_t DpdkIo::take_unreachable(char* out, std::size_t capacity, sockaddr_storage& destination) {
  return stack_ ? stack_->take_unreachable(out, capacity, destination) : 0;
}

std::string DpdkIo::describe() const {
  std::string s;
  for (const auto& a : options_.locals) s += (s.empty() ? "" : ",") + address_text(a);
  return s;
}

}  // namespace sigrelay::dataplane
