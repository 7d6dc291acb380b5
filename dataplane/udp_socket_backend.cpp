#include "dataplane/udp_socket_backend.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "dataplane/socket_address.hpp"

namespace sigrelay::dataplane {

namespace {

// RFC 3261 §18.4: network, host, port or protocol unreachable and parameter
// problem are transport failures; TTL exceeded and source quench are not, and
// neither is "fragmentation needed" / "packet too big", which only lowers the
// path MTU.
bool transport_failure(const sock_extended_err& e) {
  if (e.ee_origin == SO_EE_ORIGIN_ICMP) {
    if (e.ee_type == ICMP_DEST_UNREACH) return e.ee_code != ICMP_FRAG_NEEDED;
    return e.ee_type == ICMP_PARAMETERPROB;
  }
  if (e.ee_origin == SO_EE_ORIGIN_ICMP6) return e.ee_type == ICMP6_DST_UNREACH || e.ee_type == ICMP6_PARAM_PROB;
  return false;
}

bool extended_error(msghdr& msg, sock_extended_err& out) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    const bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR;
    const bool v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR;
    if ((v4 || v6) && c->cmsg_len >= CMSG_LEN(sizeof out)) {
      std::memcpy(&out, CMSG_DATA(c), sizeof out);
      return true;
    }
  }
  return false;
}

// Send errors that say the destination cannot be reached from here, as an
// ICMP error would: the routing table has no way there or forbids it.
bool refused_destination(int e) {
  return e == ENETUNREACH || e == EHOSTUNREACH || e == EHOSTDOWN || e == ECONNREFUSED || e == EACCES || e == EPERM;
}

}  // namespace

UdpSocketBackend::~UdpSocketBackend() {
  for (int fd : fds_) close(fd);
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

bool UdpSocketBackend::open(int wake_fd, std::string& error) {
  if (!open(addresses_, error)) return false;
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    error = std::string("epoll_create1: ") + std::strerror(errno);
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  for (int fd : fds_) {
    ev.data.fd = fd;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
  if (wake_fd >= 0) {
    ev.data.fd = wake_fd;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd, &ev);
  }
  return true;
}

unsigned UdpSocketBackend::receive(PacketPool& pool, std::span<Packet*> out, sip::Millis) {
  unsigned total = 0;
  for (std::size_t s = 0; s < fds_.size() && total < out.size(); ++s) {
    unsigned have = 0;
    const std::size_t want = std::min<std::size_t>(kBurst, out.size() - total);
    while (have < want) {
      Packet* p = pool.get();
      if (p == nullptr) break;
      out[total + have++] = p;
    }
    if (have == 0) {
      ++pool_empty_;
      break;
    }
    const unsigned got = receive(s, out.subspan(total, have));
    for (unsigned k = got; k < have; ++k) pool.put(out[total + k]);
    total += got;
  }
  return total;
}

void UdpSocketBackend::idle(sip::Millis max_wait) {
  epoll_event events[8];
  const int n = epoll_wait(epoll_fd_, events, 8, static_cast<int>(max_wait.count()));
  // A non-empty error queue keeps a socket reporting EPOLLERR: read it here
  // too, or a turn that never reaches the socket's receive (no free packet)
  // would wake up again at once, turn after turn.
  for (int k = 0; k < n; ++k) {
    if ((events[k].events & EPOLLERR) == 0) continue;
    for (std::size_t i = 0; i < fds_.size(); ++i)
      if (fds_[i] == events[k].data.fd) drain_errors(i);
  }
}

std::size_t UdpSocketBackend::take_unreachable(char* out, std::size_t capacity, sockaddr_storage& destination) {
  if (unreachable_count_ == 0 || capacity == 0) return 0;
  const Unreachable& u = unreachable_[unreachable_head_];
  const std::size_t len = std::min<std::size_t>(u.len, capacity);
  std::memcpy(out, u.bytes, len);
  destination = u.destination;
  unreachable_head_ = (unreachable_head_ + 1) % unreachable_.size();
  --unreachable_count_;
  return len;
}

UdpSocketBackend::Unreachable* UdpSocketBackend::unreachable_tail() {
  if (unreachable_count_ >= unreachable_.size()) return nullptr;
  return &unreachable_[(unreachable_head_ + unreachable_count_) % unreachable_.size()];
}

unsigned UdpSocketBackend::drain_errors(std::size_t i) {
  char scratch[64];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(sock_extended_err) + sizeof(sockaddr_in6))];
  unsigned taken = 0;
  for (; taken < kErrorBurst; ++taken) {
    // Read straight into the ring's next slot; with the ring full, into a
    // scratch buffer, only to take the entry off the queue and count it.
    Unreachable* slot = unreachable_tail();
    sockaddr_storage destination{};
    iovec iov = slot != nullptr ? iovec{slot->bytes, sizeof slot->bytes} : iovec{scratch, sizeof scratch};
    msghdr msg{};
    // The kernel names the refused datagram's destination here, and the
    // ICMP sender (a router, perhaps) in the control message.
    msg.msg_name = &destination;
    msg.msg_namelen = sizeof destination;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t got = recvmsg(fds_[i], &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
    if (got < 0) break;
    sock_extended_err e{};
    if (!extended_error(msg, e) || !transport_failure(e) || msg.msg_namelen == 0) {
      ++icmp_ignored_;
      continue;
    }
    ++icmp_unreachable_;
    if (got == 0) {
      ++icmp_unquoted_;
    } else if (slot == nullptr) {
      ++unreachable_dropped_;
    } else {
      slot->destination = destination;
      slot->len = static_cast<std::uint32_t>(got);
      ++unreachable_count_;
    }
  }
  return taken;
}

void UdpSocketBackend::note_refused(const msghdr& datagram) {
  ++send_refused_;
  Unreachable* slot = unreachable_tail();
  if (slot == nullptr) {
    ++unreachable_dropped_;
    return;
  }
  const iovec& iov = datagram.msg_iov[0];
  const std::size_t len = std::min(iov.iov_len, sizeof slot->bytes);
  if (len == 0) return;
  std::memcpy(slot->bytes, iov.iov_base, len);
  std::memset(&slot->destination, 0, sizeof slot->destination);
  std::memcpy(&slot->destination, datagram.msg_name, std::min<std::size_t>(datagram.msg_namelen, sizeof slot->destination));
  slot->len = static_cast<std::uint32_t>(len);
  ++unreachable_count_;
}

std::string UdpSocketBackend::describe() const {
  std::string s;
  for (std::size_t i = 0; i < fds_.size(); ++i) s += (i == 0 ? "" : ",") + address_text(bound(i).addr);
  return s;
}

bool UdpSocketBackend::open(std::span<const UdpListen> addresses, std::string& error) {
  for (const auto& a : addresses) {
    const int fd = socket(a.addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      error = std::string("socket: ") + std::strerror(errno);
      return false;
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (a.addr.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    // Without it an unconnected UDP socket drops every ICMP error, and a dead
    // destination costs a whole timeout instead of one round trip.
    const bool v6 = a.addr.ss_family == AF_INET6;
    if (setsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_RECVERR : IP_RECVERR, &one, sizeof one) != 0) {
      error = std::string(v6 ? "setsockopt IPV6_RECVERR: " : "setsockopt IP_RECVERR: ") + std::strerror(errno);
      close(fd);
      return false;
    }
    const int buf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len) != 0) {
      error = std::string("bind: ") + std::strerror(errno);
      close(fd);
      return false;
    }
    fds_.push_back(fd);
  }
  tx_.reserve(kBurst * 2);
  unreachable_.resize(unreachable_slots_);
  return true;
}

UdpListen UdpSocketBackend::bound(std::size_t i) const {
  UdpListen l;
  l.len = sizeof l.addr;
  getsockname(fds_[i], reinterpret_cast<sockaddr*>(&l.addr), &l.len);
  return l;
}

unsigned UdpSocketBackend::receive(std::size_t i, std::span<Packet*> packets) {
  mmsghdr msgs[kBurst];
  iovec iov[kBurst];
  const unsigned n = packets.size() < kBurst ? static_cast<unsigned>(packets.size()) : kBurst;
  for (unsigned k = 0; k < n; ++k) {
    Packet* p = packets[k];
    iov[k] = iovec{p->data(), p->capacity};
    std::memset(&msgs[k].msg_hdr, 0, sizeof msgs[k].msg_hdr);
    msgs[k].msg_hdr.msg_iov = &iov[k];
    msgs[k].msg_hdr.msg_iovlen = 1;
    msgs[k].msg_hdr.msg_name = &p->peer.addr;
    msgs[k].msg_hdr.msg_namelen = sizeof p->peer.addr;
  }
  int got = recvmmsg(fds_[i], msgs, n, MSG_DONTWAIT, nullptr);
  if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
    // A pending ICMP error fails one receive even with datagrams queued
    // behind it: collect it, then take the datagrams in this same turn.
    drain_errors(i);
    got = recvmmsg(fds_[i], msgs, n, MSG_DONTWAIT, nullptr);
  }
  if (got <= 0) return 0;
  for (int k = 0; k < got; ++k) {
    Packet* p = packets[static_cast<unsigned>(k)];
    p->len = msgs[k].msg_len;
    p->peer.addr_len = msgs[k].msg_hdr.msg_namelen;
    p->peer.transport = Transport::udp;
    p->peer.local = static_cast<std::uint8_t>(i);
    // A datagram filling the whole buffer may have been cut (MSG_TRUNC):
    // the parser then sees a Content-Length beyond the data and rejects it.
  }
  return static_cast<unsigned>(got);
}

bool UdpSocketBackend::queue(const SwitchPeer& to, std::span<const sip::Segment> msg) {
  std::size_t total = 0;
  for (const auto& s : msg) total += s.len;
  if (total > kTxBytes) return false;
  if (tx_used_ + total > kTxBytes || tx_.size() >= kBurst) flush();
  Tx t{};
  t.local = to.local < fds_.size() ? to.local : 0;
  t.to = to.addr;
  t.to_len = to.addr_len;
  t.offset = static_cast<std::uint32_t>(tx_used_);
  t.len = static_cast<std::uint32_t>(total);
  for (const auto& s : msg) {
    std::memcpy(tx_bytes_.data() + tx_used_, s.data, s.len);
    tx_used_ += s.len;
  }
  tx_.push_back(t);
  return true;
}

void UdpSocketBackend::flush() {
  if (tx_.empty()) return;
  mmsghdr msgs[kBurst * 2];
  iovec iov[kBurst * 2];
  // One sendmmsg per socket, preserving order within each socket.
  for (std::size_t s = 0; s < fds_.size(); ++s) {
    unsigned n = 0;
    for (auto& t : tx_) {
      if (t.local != s) continue;
      iov[n] = iovec{tx_bytes_.data() + t.offset, t.len};
      std::memset(&msgs[n].msg_hdr, 0, sizeof msgs[n].msg_hdr);
      msgs[n].msg_hdr.msg_iov = &iov[n];
      msgs[n].msg_hdr.msg_iovlen = 1;
      msgs[n].msg_hdr.msg_name = &t.to;
      msgs[n].msg_hdr.msg_namelen = t.to_len;
      ++n;
    }
    unsigned done = 0;
    unsigned retries = 0;
    while (done < n) {
      const int r = sendmmsg(fds_[s], msgs + done, n - done, MSG_DONTWAIT);
      if (r > 0) {
        done += static_cast<unsigned>(r);
        sent_ += static_cast<unsigned>(r);
        retries = 0;
        // A short batch stopped at an error; if it was an earlier ICMP
        // error, its report is still queued and would wait for idle().
        if (done < n) drain_errors(s);
        continue;
      }
      const int e = errno;
      // The kernel fails a send with an ICMP error that an earlier datagram
      // caused, to any destination: take that report off the queue and send
      // this datagram again.
      if (drain_errors(s) > 0 && retries++ < kSendRetries) continue;
      // A full socket buffer or an unreachable peer: that datagram is lost,
      // as UDP allows; Timer G or the switch's retransmission recovers it.
      ++send_errors_;
      if (refused_destination(e)) note_refused(msgs[done].msg_hdr);
      ++done;
      retries = 0;
    }
  }
  tx_.clear();
  tx_used_ = 0;
}

}  // namespace sigrelay::dataplane
