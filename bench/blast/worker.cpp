#include "bench/blast/worker.hpp"

#include <errno.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "bench/blast/call_table.hpp"
#include "bench/blast/message_templates.hpp"
#include "bench/blast/pacing.hpp"
#include "sip/message.hpp"

namespace sigrelay::blast {

namespace {

// Answers larger than this are counted as truncated; the service's 302 with
// a SHAKEN Identity header is about 1.2 KB.
constexpr std::size_t kRxBuffer = 16 * 1024;
constexpr std::size_t kAckBuffer = 4096;
constexpr std::int64_t kLateSendNs = 1'000'000;
// While INVITEs are still to come, never sleep longer than this: answers
// wait in the socket meanwhile (their arrival time is the kernel's stamp, so
// latency is unaffected) but their ACKs should not wait long enough for
// the relay to retransmit (Timer G starts at 500 ms).
constexpr std::int64_t kMaxSleepNs = 1'000'000;
// Receive batches per loop turn before sending again, so a flood of answers
// cannot starve the schedule.
constexpr int kRxRounds = 4;
// One GSO send carries at most one IP datagram's worth of payload, and
// Linux cuts it into at most UDP_MAX_SEGMENTS (64 before 6.x kernels).
constexpr std::size_t kMaxGsoBytes = 65507;
constexpr unsigned kMaxGsoSegments = 64;

std::int64_t now_ns(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

void set_buffer(int fd, int option, int bytes) {
  setsockopt(fd, SOL_SOCKET, option, &bytes, sizeof bytes);
}

}  // namespace

struct Worker::State {
  const RunPlan& plan;
  unsigned index;
  int fd = -1;
  Endpoint local;
  Schedule schedule;
  CallTable table;
  InviteTemplate invite;
  AckTemplate ack;
  unsigned batch;
  std::uint64_t late_us;
  // Send side: `batch` copies of the INVITE template, patched per call.
  std::vector<char> tx_bytes;
  std::vector<iovec> tx_iov;
  std::vector<mmsghdr> tx_msgs;
  // Receive side.
  std::vector<char> rx_bytes;
  std::vector<iovec> rx_iov;
  std::vector<mmsghdr> rx_msgs;
  std::vector<char> rx_control;
  std::size_t control_len = CMSG_SPACE(sizeof(timespec));
  // ACKs built while one receive batch is handled, sent with one sendmmsg.
  std::vector<char> ack_bytes;
  std::vector<iovec> ack_iov;
  std::vector<mmsghdr> ack_msgs;
  unsigned acks_pending = 0;
  // UDP GSO (UDP_SEGMENT): a burst of equal-sized INVITEs leaves as one
  // send that the kernel cuts into datagrams, so the stack is walked once
  // per burst instead of once per INVITE. Off after the first refusal.
  bool gso = false;
  unsigned gso_max = 0;  // segments per GSO send: 64 KB and the kernel's segment limit
  msghdr gso_msg{};
  iovec gso_iov{};
  alignas(cmsghdr) char gso_control[CMSG_SPACE(sizeof(std::uint16_t))] = {};
  sip::MessageWithHeaders<64> parsed;
  sip::ParseOptions parse_opts;

  State(const RunPlan& p, unsigned i)
      : plan(p),
        index(i),
        local(p.local),
        schedule(p.options->rate, p.calls_total, i, p.options->threads),
        table(schedule.calls()),
        batch(p.options->batch),
        late_us(p.options->late_ms * 1000) {
    parse_opts.datagram = true;
    parse_opts.depth = sip::ParseDepth::relay;
  }

  ~State() {
    if (fd >= 0) close(fd);
  }

  void init_msgs(std::vector<mmsghdr>& msgs, std::vector<iovec>& iov, std::vector<char>& bytes,
                 std::size_t each, bool addressed) {
    bytes.assign(each * batch, '\0');
    iov.resize(batch);
    msgs.assign(batch, mmsghdr{});
    for (unsigned b = 0; b < batch; ++b) {
      iov[b] = {bytes.data() + b * each, each};
      msgs[b].msg_hdr.msg_iov = &iov[b];
      msgs[b].msg_hdr.msg_iovlen = 1;
      if (addressed && !plan.options->connect_socket) {
        msgs[b].msg_hdr.msg_name = const_cast<sockaddr_storage*>(&plan.target.addr);
        msgs[b].msg_hdr.msg_namelen = plan.target.len;
      }
    }
  }
};

Worker::Worker(const RunPlan& plan, unsigned index) : s_(std::make_unique<State>(plan, index)) {}

Worker::~Worker() = default;

std::size_t Worker::invite_size() const { return s_->invite.size(); }

std::string Worker::prepare() {
  State& s = *s_;
  const Options& o = *s.plan.options;
  counters_.scheduled = s.schedule.calls();
  s.fd = socket(s.local.ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s.fd < 0) return std::string("socket: ") + std::strerror(errno);
  if (o.local_port != 0) {
    const unsigned port = o.local_port + s.index;
    if (port > 65535) return "--local-port + thread index exceeds 65535";
    set_port(s.local, static_cast<std::uint16_t>(port));
  }
  if (bind(s.fd, reinterpret_cast<const sockaddr*>(&s.local.addr), s.local.len) != 0)
    return "bind " + s.local.host + ":" + std::to_string(s.local.port) + ": " + std::strerror(errno);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  getsockname(s.fd, reinterpret_cast<sockaddr*>(&bound), &len);
  set_port(s.local, ntohs(s.local.ipv6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                       : reinterpret_cast<sockaddr_in*>(&bound)->sin_port));
  if (o.connect_socket &&
      connect(s.fd, reinterpret_cast<const sockaddr*>(&s.plan.target.addr), s.plan.target.len) != 0)
    return "connect " + s.plan.target.host + ": " + std::strerror(errno);
  // Deep buffers: answers may sit there while the thread sends a burst.
  // The kernel caps these at net.core.[rw]mem_max.
  set_buffer(s.fd, SO_RCVBUF, 32 << 20);
  set_buffer(s.fd, SO_SNDBUF, 8 << 20);
  // Kernel receive time stamps: latency does not depend on when we read.
  const int on = 1;
  if (setsockopt(s.fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0)
    return std::string("SO_TIMESTAMPNS: ") + std::strerror(errno);

  TemplateParams tp;
  tp.number = o.number;
  tp.local_host = s.local.host;
  tp.local_port = s.local.port;
  tp.target_host = s.plan.target.host;
  tp.target_port = s.plan.target.port;
  tp.ipv6 = s.local.ipv6;
  tp.run_id = s.plan.run_id;
  tp.thread = s.index;
  tp.body_pad = o.body_bytes;
  if (std::string e = s.invite.build(tp); !e.empty()) return e;
  if (std::string e = s.ack.build(tp); !e.empty()) return e;

  s.init_msgs(s.tx_msgs, s.tx_iov, s.tx_bytes, s.invite.size(), true);
  if (o.gso && s.batch > 1 && s.invite.size() * 2 <= kMaxGsoBytes) {
    s.gso = true;
    s.gso_max = static_cast<unsigned>(kMaxGsoBytes / s.invite.size());
    if (s.gso_max > kMaxGsoSegments) s.gso_max = kMaxGsoSegments;
    s.gso_iov.iov_base = s.tx_bytes.data();
    s.gso_msg.msg_iov = &s.gso_iov;
    s.gso_msg.msg_iovlen = 1;
    if (!o.connect_socket) {
      s.gso_msg.msg_name = const_cast<sockaddr_storage*>(&s.plan.target.addr);
      s.gso_msg.msg_namelen = s.plan.target.len;
    }
    s.gso_msg.msg_control = s.gso_control;
    s.gso_msg.msg_controllen = sizeof s.gso_control;
    cmsghdr* cm = CMSG_FIRSTHDR(&s.gso_msg);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
    const auto seg = static_cast<std::uint16_t>(s.invite.size());
    std::memcpy(CMSG_DATA(cm), &seg, sizeof seg);
  }
  for (unsigned b = 0; b < s.batch; ++b)
    std::memcpy(s.tx_bytes.data() + b * s.invite.size(), s.invite.bytes().data(), s.invite.size());
  s.init_msgs(s.rx_msgs, s.rx_iov, s.rx_bytes, kRxBuffer, false);
  s.rx_control.assign(s.control_len * s.batch, '\0');
  s.init_msgs(s.ack_msgs, s.ack_iov, s.ack_bytes, kAckBuffer, true);
  return {};
}

void Worker::run(std::int64_t t0_ns, std::int64_t deadline_ns) {
  State& s = *s_;
  ThreadCounters& c = counters_;
  const std::uint64_t calls = s.schedule.calls();
  const std::size_t size = s.invite.size();
  std::uint64_t next = 0;  // next call to send
  const std::int64_t tick_ns = static_cast<std::int64_t>(s.plan.options->tick_us) * 1000;

  // Parses and handles one received datagram; may queue an ACK.
  auto handle = [&](std::string_view bytes, std::int64_t rx_ns) {
    ++c.datagrams;
    if (!s.parsed.parse(bytes, s.parse_opts)) {
      ++c.parse_errors;
      return;
    }
    const sip::Message& m = s.parsed.msg;
    if (m.is_request) {
      ++c.requests;
      return;
    }
    if (m.cseq.method_id != sip::Method::invite) {
      ++c.not_invite;
      return;
    }
    std::uint64_t seq = 0;
    switch (decode_call_id(m.call_id, s.plan.run_id, s.index, seq)) {
      case CallIdMatch::ours: break;
      case CallIdMatch::other_thread: ++c.wrong_thread; return;
      case CallIdMatch::foreign: ++c.foreign; return;
    }
    if (m.status < 200) {
      ++c.provisionals;
      ++c.by_status[m.status - 100];
      return;
    }
    std::uint64_t latency_us = 0;
    switch (s.table.on_final(seq, m.status, rx_ns, latency_us)) {
      case FinalKind::first:
        ++c.answered;
        ++c.by_status[m.status - 100];
        c.latency_us.record(latency_us);
        if (latency_us > s.late_us) ++c.late;
        break;
      case FinalKind::repeat: ++c.final_repeats; break;
      case FinalKind::not_sent: ++c.unknown_call; return;
    }
    const sip::Header* to = m.find(sip::HeaderId::to);
    std::string_view contact_uri;
    const bool two_xx = m.status < 300;
    if (two_xx) {
      if (const sip::Header* h = m.find(sip::HeaderId::contact)) {
        sip::NameAddrList list(h->value);
        sip::NameAddr first;
        if (list.next(first) && !first.star) contact_uri = first.uri_text;
      }
    }
    char* out = s.ack_bytes.data() + s.acks_pending * kAckBuffer;
    const std::size_t n = to ? s.ack.write(seq, to->value, two_xx, contact_uri, {out, kAckBuffer}) : 0;
    if (n == 0) {
      ++c.ack_failures;
      return;
    }
    s.ack_iov[s.acks_pending].iov_len = n;
    ++s.acks_pending;
  };

  auto flush_acks = [&] {
    unsigned done = 0;
    // A full send buffer is brief on loopback; a few tries, then give up
    // (the relay retransmits its final and we ACK that one).
    for (int tries = 0; done < s.acks_pending && tries < 4; ++tries) {
      const int r = sendmmsg(s.fd, s.ack_msgs.data() + done, s.acks_pending - done, MSG_DONTWAIT);
      if (r > 0) done += static_cast<unsigned>(r);
    }
    c.acks_sent += done;
    c.ack_failures += s.acks_pending - done;
    s.acks_pending = 0;
  };

  // Sends calls next .. next+burst-1 (already stamped); returns how many
  // left, or -1 with errno.
  auto send_burst = [&](unsigned burst) -> int {
    if (s.gso && burst > 1) {
      const unsigned n = burst < s.gso_max ? burst : s.gso_max;
      s.gso_iov.iov_len = std::size_t{n} * size;
      if (sendmsg(s.fd, &s.gso_msg, MSG_DONTWAIT) >= 0) return static_cast<int>(n);
      if (errno != EIO && errno != EINVAL && errno != ENOPROTOOPT && errno != EOPNOTSUPP) return -1;
      // This kernel or route cannot segment: plain batches from now on.
      s.gso = false;
      ++c.gso_fallbacks;
    }
    return sendmmsg(s.fd, s.tx_msgs.data(), burst, MSG_DONTWAIT);
  };

  // Reads what is waiting; returns how many datagrams it handled.
  auto receive = [&]() -> unsigned {
    unsigned total = 0;
    for (int round = 0; round < kRxRounds; ++round) {
      for (unsigned b = 0; b < s.batch; ++b) {
        msghdr& h = s.rx_msgs[b].msg_hdr;
        h.msg_control = s.rx_control.data() + b * s.control_len;
        h.msg_controllen = s.control_len;
        h.msg_flags = 0;
      }
      const int r = recvmmsg(s.fd, s.rx_msgs.data(), s.batch, MSG_DONTWAIT, nullptr);
      if (r <= 0) {
        if (r < 0 && errno == ECONNREFUSED) ++c.send_refused;
        break;
      }
      std::int64_t fallback_ns = 0;
      for (int i = 0; i < r; ++i) {
        msghdr& h = s.rx_msgs[i].msg_hdr;
        if (h.msg_flags & MSG_TRUNC) {
          ++c.datagrams;
          ++c.truncated;
          continue;
        }
        std::int64_t rx_ns = 0;
        for (cmsghdr* cm = CMSG_FIRSTHDR(&h); cm; cm = CMSG_NXTHDR(&h, cm)) {
          if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
            timespec ts;
            std::memcpy(&ts, CMSG_DATA(cm), sizeof ts);
            rx_ns = std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
          }
        }
        if (rx_ns == 0) rx_ns = fallback_ns ? fallback_ns : (fallback_ns = now_ns(CLOCK_REALTIME));
        handle({static_cast<const char*>(s.rx_iov[i].iov_base), s.rx_msgs[i].msg_len}, rx_ns);
      }
      if (s.acks_pending) flush_acks();
      total += static_cast<unsigned>(r);
      if (static_cast<unsigned>(r) < s.batch) break;
    }
    return total;
  };

  for (;;) {
    const std::int64_t now = now_ns(CLOCK_MONOTONIC);
    if (now >= deadline_ns) break;
    const std::int64_t elapsed = now - t0_ns;
    const std::uint64_t due = elapsed < 0 ? 0 : s.schedule.due_count(static_cast<std::uint64_t>(elapsed));
    bool sent_some = false;
    // Each wake-up costs a few microseconds of syscalls and scheduling,
    // more than a datagram: calls wait for a full batch, or until the
    // oldest has waited a tick, so they leave in bursts (GSO sends them as
    // one) yet never more than a tick late.
    const bool ready = next < due && (due - next >= s.batch || due == calls ||
                                      elapsed - static_cast<std::int64_t>(s.schedule.due_ns(next)) >= tick_ns);
    if (ready) {
      const std::int64_t lag = elapsed - static_cast<std::int64_t>(s.schedule.due_ns(next));
      if (lag > c.max_lag_ns) c.max_lag_ns = lag;
      const unsigned burst = due - next < s.batch ? static_cast<unsigned>(due - next) : s.batch;
      for (unsigned b = 0; b < burst; ++b) s.invite.stamp(s.tx_bytes.data() + b * size, next + b);
      const std::int64_t before = now_ns(CLOCK_REALTIME);
      const int r = send_burst(burst);
      if (r > 0) {
        const std::int64_t after = now_ns(CLOCK_REALTIME);
        // One stamp per datagram, spread across the call: the k-th of r
        // left about k/r of the way through it. Never later than that, so a
        // thread preempted inside or right after the send (an answer may
        // already be back) makes latency err high, never low.
        for (int b = 0; b < r; ++b) s.table.mark_sent(next + b, before + (after - before) * b / r);
        if (lag > kLateSendNs) {
          const std::uint64_t late_due = s.schedule.due_count(static_cast<std::uint64_t>(elapsed - kLateSendNs));
          const std::uint64_t late = late_due > next ? late_due - next : 0;
          c.sent_late += late < static_cast<std::uint64_t>(r) ? late : static_cast<std::uint64_t>(r);
        }
        next += static_cast<unsigned>(r);
        c.sent += static_cast<unsigned>(r);
        sent_some = true;
        c.last_send_ns = elapsed;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
        ++c.send_blocked;
      } else if (errno == ECONNREFUSED) {
        // A connected socket reports an earlier ICMP port unreachable here,
        // and this datagram was not sent: it goes out on the next turn.
        ++c.send_refused;
      } else {
        ++c.send_errors;
      }
    }
    const unsigned got = receive();
    if (next == calls) {
      if (c.answered == calls) break;
      // Schedule done: wait for answers, waking on arrival.
      const std::int64_t wait_ms = (deadline_ns - now_ns(CLOCK_MONOTONIC)) / 1'000'000 + 1;
      pollfd p{s.fd, POLLIN, 0};
      poll(&p, 1, static_cast<int>(wait_ms < 100 ? wait_ms : 100));
    } else if (!sent_some && got < s.batch) {
      // Sleep until the send condition above holds.
      const std::uint64_t full = next + s.batch - 1 < calls ? next + s.batch - 1 : calls - 1;
      std::int64_t wake = t0_ns + static_cast<std::int64_t>(s.schedule.due_ns(next)) + tick_ns;
      const std::int64_t batch_due = t0_ns + static_cast<std::int64_t>(s.schedule.due_ns(full));
      if (batch_due < wake) wake = batch_due;
      const std::int64_t t = now_ns(CLOCK_MONOTONIC);
      if (wake > t + kMaxSleepNs) wake = t + kMaxSleepNs;
      if (wake > t) {
        timespec ts{static_cast<time_t>(wake / 1'000'000'000), static_cast<long>(wake % 1'000'000'000)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
      }
    }
  }
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  c.cpu_seconds = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                  static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace sigrelay::blast
