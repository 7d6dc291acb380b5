#include "dataplane/udp_socket_backend.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "dataplane/socket_address.hpp"

namespace sigrelay::dataplane {

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
  epoll_wait(epoll_fd_, events, 8, static_cast<int>(max_wait.count()));
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
  const int got = recvmmsg(fds_[i], msgs, n, MSG_DONTWAIT, nullptr);
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
    while (done < n) {
      const int r = sendmmsg(fds_[s], msgs + done, n - done, MSG_DONTWAIT);
      if (r <= 0) {
        // A full socket buffer or an unreachable peer: that datagram is lost,
        // as UDP allows; Timer G or the switch's retransmission recovers it.
        ++send_errors_;
        ++done;
        continue;
      }
      done += static_cast<unsigned>(r);
      sent_ += static_cast<unsigned>(r);
    }
  }
  tx_.clear();
  tx_used_ = 0;
}

}  // namespace sigrelay::dataplane
