#include "tls/tls_worker.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "dataplane/log.hpp"
#include "dataplane/relay_engine.hpp"
#include "sip/message.hpp"

namespace sigrelay::tls {
namespace {

using dataplane::Packet;
using dataplane::PacketKind;

constexpr unsigned kBurst = 32;
constexpr auto kMaxSleep = Millis{50};
constexpr std::uint32_t kIdBits = 20;
constexpr std::uint32_t kIdMask = (1U << kIdBits) - 1;
// Outbound connections to destinations: how long connect + handshake may
// take, and how long one may sit unused before it is closed.
constexpr Millis kDestinationConnectTimeout{5000};
constexpr Millis kDestinationIdle{300000};
constexpr std::size_t kMaxPending = 64;

bool same_address(const sockaddr_storage& a, const sockaddr_storage& b) {
  if (a.ss_family != b.ss_family) return false;
  if (a.ss_family == AF_INET) {
    const auto& x = reinterpret_cast<const sockaddr_in&>(a);
    const auto& y = reinterpret_cast<const sockaddr_in&>(b);
    return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr;
  }
  const auto& x = reinterpret_cast<const sockaddr_in6&>(a);
  const auto& y = reinterpret_cast<const sockaddr_in6&>(b);
  return x.sin6_port == y.sin6_port && std::memcmp(&x.sin6_addr, &y.sin6_addr, sizeof x.sin6_addr) == 0;
}

std::string host_text(const sockaddr_storage& a) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (a.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, buf, sizeof buf);
  }
  return buf;
}

// epoll user data: what the fd is, and which one.
enum class Tag : std::uint64_t { pool = 1, wake = 2, listener = 3, inbound = 4 };
std::uint64_t tag(Tag t, std::uint64_t i) { return (static_cast<std::uint64_t>(t) << 32) | i; }

}  // namespace

// A switch's connection to us, or (outbound) one we opened to an in-line
// destination. Messages queued on an outbound connection before it is up
// are held as packets too, so that they can go back to their sip worker if
// it never comes up (the destination is then given up at once).
struct TlsWorker::Inbound {
  std::unique_ptr<StreamConnection> conn;
  dataplane::SwitchPeer peer;
  sockaddr_storage local{};  // our end, for traces
  bool watching_write = false;
  bool outbound = false;
  Millis last_used{0};
  std::vector<Packet*> pending;
};

TlsWorker::TlsWorker(const TlsWorkerOptions& options, dataplane::Mailboxes& mail,
                     const dataplane::SourceFilter& filter, sip::BranchMac mac, ssl_ctx_st* client_ctx,
                     ssl_ctx_st* server_ctx, dataplane::UpstreamStatus& status, TlsWorkerCounters& counters)
    : options_(options),
      mail_(mail),
      filter_(filter),
      mac_(mac),
      client_ctx_(client_ctx),
      server_ctx_(server_ctx),
      status_(status),
      counters_(counters),
      pool_packets_(static_cast<std::uint8_t>(mail.sip_workers() + options.index), options.pool_packets,
                    options.max_message) {}

TlsWorker::~TlsWorker() {
  inbound_.clear();
  pool_.reset();
  for (int fd : listeners_) close(fd);
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

Millis TlsWorker::now() const {
  return std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - epoch_) + Millis{1};
}

bool TlsWorker::open(std::string& error) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    error = "epoll_create1 failed";
    return false;
  }
  UpstreamCallbacks cb;
  cb.on_message = [this](std::string_view m) { on_upstream_message(m); };
  cb.on_state_change = [this](std::size_t target, std::size_t conn, bool up, std::string_view reason) {
    if (pool_) status_.up[options_.index].store(static_cast<unsigned>(pool_->connections_up()), std::memory_order_relaxed);
    log_state_change(target, conn, up, reason);
  };
  auto opts = options_.upstream;
  opts.stream.max_message_size = options_.max_message;
  pool_ = std::make_unique<UpstreamPool>(opts, client_ctx_, cb);
  if (!pool_->error().empty()) {
    error = pool_->error();
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = tag(Tag::pool, 0);
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, pool_->fd(), &ev);
  ev.data.u64 = tag(Tag::wake, 0);
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, mail_.wake_fd(thread()), &ev);
  for (std::size_t i = 0; i < options_.listen.size(); ++i) {
    const auto& l = options_.listen[i];
    const int fd = socket(l.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      error = std::string("socket: ") + std::strerror(errno);
      return false;
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (l.addr.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&l.addr), l.len) != 0 || listen(fd, 1024) != 0) {
      error = std::string("listen on a ") + (l.tls ? "TLS" : "TCP") + " address: " + std::strerror(errno);
      close(fd);
      return false;
    }
    listeners_.push_back(fd);
    ev.data.u64 = tag(Tag::listener, i);
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
  return true;
}

void TlsWorker::run(const std::atomic<int>& phase) {
  epoll_event events[64];
  int timeout = 0;
  while (phase.load(std::memory_order_acquire) != static_cast<int>(dataplane::Phase::stopped)) {
    const int n = epoll_wait(epoll_fd_, events, 64, timeout);
    mail_.woke(thread());
    const Millis t = now();
    for (int k = 0; k < n; ++k) {
      const std::uint64_t d = events[k].data.u64;
      const auto kind = static_cast<Tag>(d >> 32);
      const auto idx = static_cast<std::uint32_t>(d & 0xffffffffU);
      if (kind == Tag::listener) accept_all(idx);
      if (kind == Tag::inbound) service_inbound(idx, events[k].events);
    }
    follow_policy(t);
    pool_->poll(t);
    // A reload's drain ends without a state-change callback: refresh here.
    status_.up[options_.index].store(static_cast<unsigned>(pool_->connections_up()), std::memory_order_relaxed);
    publish_pool_counters();
    if (t >= next_sessions_) {
      next_sessions_ = t + Millis{1000};
      auto list = pool_->connections();
      for (auto& c : list) c.since = t - c.since;  // our clock means nothing elsewhere: how long, not since when
      const std::lock_guard lock(sessions_mu_);
      sessions_ = std::move(list);
    }
    if (!outbound_.empty()) expire_destinations(t);
    unsigned work = static_cast<unsigned>(n > 0 ? n : 0);
    work += drain_rings();
    pool_->flush(now());
    if (work > 0) {
      timeout = 0;
      continue;
    }
    mail_.prepare_sleep(thread());
    if (drain_rings() > 0) {
      pool_->flush(now());
      timeout = 0;
      continue;
    }
    const Millis next = pool_->next_deadline();
    const Millis cur = now();
    Millis wait = kMaxSleep;
    if (next < cur + kMaxSleep) wait = next > cur ? next - cur : Millis{0};
    timeout = static_cast<int>(wait.count());
  }
  pool_->flush(now());
}

void TlsWorker::publish_pool_counters() {
  const auto& c = pool_->counters();
  const auto set = [](dataplane::Counter& to, std::uint64_t v) { to.store(v, std::memory_order_relaxed); };
  set(counters_.upstream_connect_attempts, c.connect_attempts);
  set(counters_.upstream_connect_failures, c.connect_failures + c.connect_timeouts);
  set(counters_.upstream_handshake_failures, c.handshake_failures);
  set(counters_.upstream_disconnects, c.disconnects);
  set(counters_.upstream_failovers, c.failovers);
  set(counters_.upstream_keepalive_timeouts, c.keepalive_timeouts);
}

// Upstream connection changes are rare and are what an operator needs to
// see first ("certificate verify failed: hostname mismatch"), so they are
// logged from here; a connection that keeps failing the same way is logged
// again at most every kRepeatLog.
void TlsWorker::log_state_change(std::size_t target, std::size_t conn, bool up, std::string_view reason) {
  constexpr Millis kRepeatLog{30000};
  const std::size_t key = target * 1024 + conn;
  if (key >= last_logged_.size()) last_logged_.resize(key + 1);
  auto& last = last_logged_[key];
  const Millis t = now();
  if (!up && last.reason == reason && last.at.count() != 0 && t - last.at < kRepeatLog) return;
  last.reason.assign(reason);
  last.at = t;
  const auto& tgt = pool_->target(target);  // the current list: a reload may have changed it
  log::writef(up ? log::Level::info : log::Level::warn, "upstream %s%s:%u connection %u.%zu %s: %.*s",
              tgt.tls ? "tls:" : "tcp:", tgt.host.c_str(), static_cast<unsigned>(tgt.port), options_.index, conn,
              up ? "up" : "down", static_cast<int>(reason.size()), reason.data());
}

// ---------------------------------------------------------------------------
// Service side.

Packet* TlsWorker::packet_for(std::string_view msg) {
  Packet* p = pool_packets_.get();
  if (p == nullptr) {
    dataplane::bump(counters_.pool_empty);
    return nullptr;
  }
  const sip::Segment seg{msg.data(), msg.size()};
  if (!p->assign(std::span(&seg, 1))) {
    pool_packets_.put(p);
    return nullptr;
  }
  return p;
}

// The service's side of an upstream leg in traces: which connection a
// message used is the pool's business, so both ends are written as
// 0.0.0.0 with the service port 5061 (docs/tracing.md).
static const sockaddr_storage& upstream_trace_peer() {
  static const sockaddr_storage a = [] {
    sockaddr_storage s{};
    auto& in = reinterpret_cast<sockaddr_in&>(s);
    in.sin_family = AF_INET;
    in.sin_port = htons(5061);
    return s;
  }();
  return a;
}

static const sockaddr_storage& upstream_trace_local() {
  static const sockaddr_storage a = [] {
    sockaddr_storage s{};
    auto& in = reinterpret_cast<sockaddr_in&>(s);
    in.sin_family = AF_INET;
    in.sin_port = htons(5062);
    return s;
  }();
  return a;
}

void TlsWorker::trace(const sockaddr_storage& src, const sockaddr_storage& dst, dataplane::Transport t, bool sent,
                      std::string_view msg) {
  dataplane::TracePoint p;
  p.src = &src;
  p.dst = &dst;
  p.transport = t;
  p.sent = sent;
  p.bytes = msg;
  options_.trace->record(p);
}

void TlsWorker::on_upstream_message(std::string_view msg) {
  dataplane::bump(counters_.upstream_messages_in);
  if (tracing()) trace(upstream_trace_peer(), upstream_trace_local(), dataplane::Transport::tls, false, msg);
  sip::MessageWithHeaders<96> parsed;
  sip::ParseOptions opts;
  opts.datagram = false;
  opts.max_message_size = options_.max_message;
  parsed.parse(msg, opts);
  const auto id = sip::decode_branch(parsed.msg.top_via.branch, mac_);
  if (!id || id->worker >= mail_.sip_workers()) {
    dataplane::bump(counters_.upstream_unroutable);
    return;
  }
  Packet* p = packet_for(msg);
  if (p == nullptr) return;
  p->kind = PacketKind::from_upstream;
  if (!mail_.send_one(thread(), id->worker, p)) {
    dataplane::bump(counters_.ring_full);
    pool_packets_.put(p);
  }
}

// ---------------------------------------------------------------------------
// Switch side.

void TlsWorker::accept_all(std::size_t listener) {
  while (true) {
    sockaddr_storage from{};
    socklen_t len = sizeof from;
    const int fd = accept4(listeners_[listener], reinterpret_cast<sockaddr*>(&from), &len,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    const bool listed = filter_.allows(from);
    if (!listed && !options_.admit_unlisted) {
      // Not whitelisted: the connection is closed at once, nothing is read.
      dataplane::bump(counters_.inbound_refused_acl);
      close(fd);
      continue;
    }
    const std::uint32_t index = allocate_conn_index();
    if (index == kIdMask) {
      dataplane::bump(counters_.inbound_refused_limit);
      close(fd);
      continue;
    }
    if (!listed) dataplane::bump(counters_.inbound_unlisted);
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // A generation in the id keeps a late response for a closed connection
    // from reaching the next connection that reuses the slot.
    next_generation_ = (next_generation_ + 1) & ((1U << (32 - kIdBits)) - 1);
    const std::uint32_t conn_id = (next_generation_ << kIdBits) | index;
    auto in = std::make_unique<Inbound>();
    in->peer.addr = from;
    in->peer.addr_len = len;
    in->peer.transport = options_.listen[listener].tls ? dataplane::Transport::tls : dataplane::Transport::tcp;
    in->peer.conn_id = conn_id;
    in->peer.conn_owner = static_cast<std::uint8_t>(options_.index);
    in->peer.unlisted = !listed;
    socklen_t llen = sizeof in->local;
    getsockname(fd, reinterpret_cast<sockaddr*>(&in->local), &llen);
    StreamConnection::Params params;
    params.fd = fd;
    params.role = StreamRole::server;
    params.tls = options_.listen[listener].tls ? server_ctx_ : nullptr;
    params.options.max_message_size = options_.max_message;
    params.on_message = [this, conn_id](std::string_view m) { on_inbound_message(conn_id, m); };
    in->conn = std::make_unique<StreamConnection>(std::move(params), now());
    inbound_[index] = std::move(in);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = tag(Tag::inbound, index);
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    dataplane::bump(counters_.inbound_accepted);
    service_inbound(index, EPOLLOUT);  // start a TLS handshake that may want to write
  }
}

std::uint32_t TlsWorker::allocate_conn_index() {
  if (!free_ids_.empty()) {
    const std::uint32_t index = free_ids_.back();
    free_ids_.pop_back();
    return index;
  }
  if (inbound_.size() < options_.max_inbound_connections && inbound_.size() < kIdMask) {
    inbound_.emplace_back();
    return static_cast<std::uint32_t>(inbound_.size() - 1);
  }
  return kIdMask;
}

void TlsWorker::service_inbound(std::uint32_t index, std::uint32_t events) {
  if (index >= inbound_.size() || !inbound_[index]) return;
  Inbound& in = *inbound_[index];
  const Millis t = now();
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) in.conn->on_readable(t);
  if (in.conn->state() != StreamState::closed && (events & EPOLLOUT)) in.conn->on_writable(t);
  if (in.conn->state() == StreamState::closed) {
    close_inbound(index);
    return;
  }
  if (in.outbound && in.conn->state() == StreamState::up && !in.pending.empty()) {
    // Up: what waited is in the connection's buffer now; the copies go home.
    for (Packet* p : in.pending) release(p);
    in.pending.clear();
  }
  const bool want = in.conn->wants_write();
  if (want != in.watching_write) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0U);
    ev.data.u64 = tag(Tag::inbound, index);
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, in.conn->fd(), &ev);
    in.watching_write = want;
  }
}

void TlsWorker::close_inbound(std::uint32_t index) {
  if (!inbound_[index]) return;
  Inbound& in = *inbound_[index];
  if (in.outbound) {
    if (in.conn->up_at() == Millis::min()) dataplane::bump(counters_.destination_connect_failures);
    // Never came up: each waiting message goes back to its sip worker, which
    // gives that destination up at once (RelayEngine::on_destination_unreachable).
    for (Packet* p : in.pending) {
      dataplane::bump(counters_.destination_undeliverable);
      p->kind = PacketKind::undeliverable;
      if (!mail_.send_one(thread(), p->owner, p)) {
        dataplane::bump(counters_.ring_full);
        release(p);
      }
    }
    in.pending.clear();
    std::erase(outbound_, index);
  }
  // A closed connection has already closed its socket, which left epoll by itself.
  if (const int fd = inbound_[index]->conn->fd(); fd >= 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  inbound_[index].reset();
  free_ids_.push_back(index);
  dataplane::bump(counters_.inbound_closed);
}

void TlsWorker::on_inbound_message(std::uint32_t conn_id, std::string_view msg) {
  const std::uint32_t index = conn_id & kIdMask;
  if (index >= inbound_.size() || !inbound_[index]) return;
  if (tracing()) {
    const Inbound& in = *inbound_[index];
    trace(in.peer.addr, in.local, in.peer.transport, false, msg);
  }
  dataplane::bump(counters_.inbound_messages);
  sip::MessageWithHeaders<96> parsed;
  sip::ParseOptions opts;
  opts.datagram = false;
  opts.max_message_size = options_.max_message;
  parsed.parse(msg, opts);
  unsigned owner = 0;
  if (!parsed.msg.call_id.empty()) {
    owner = static_cast<unsigned>(dataplane::RelayEngine::call_hash(parsed.msg.call_id, mac_) % mail_.sip_workers());
  }
  Packet* p = packet_for(msg);
  if (p == nullptr) return;
  p->kind = PacketKind::switch_message;
  p->peer = inbound_[index]->peer;
  if (!mail_.send_one(thread(), owner, p)) {
    dataplane::bump(counters_.ring_full);
    pool_packets_.put(p);
  }
}

// ---------------------------------------------------------------------------
// In-line destinations over TCP/TLS: one connection per address and
// transport per tls worker, opened on first use, reused by later calls,
// closed when idle.

std::uint32_t TlsWorker::open_destination(const dataplane::SwitchPeer& to) {
  const int fd = socket(to.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return kIdMask;
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const int rc = connect(fd, reinterpret_cast<const sockaddr*>(&to.addr), to.addr_len);
  if (rc != 0 && errno != EINPROGRESS) {
    close(fd);
    dataplane::bump(counters_.destination_connect_failures);
    return kIdMask;
  }
  const std::uint32_t index = allocate_conn_index();
  if (index == kIdMask) {
    close(fd);
    return kIdMask;
  }
  next_generation_ = (next_generation_ + 1) & ((1U << (32 - kIdBits)) - 1);
  const std::uint32_t conn_id = (next_generation_ << kIdBits) | index;
  auto out = std::make_unique<Inbound>();
  out->outbound = true;
  out->peer = to;
  out->peer.conn_id = conn_id;
  out->peer.conn_owner = static_cast<std::uint8_t>(options_.index);
  out->peer.unlisted = true;
  out->last_used = now();
  socklen_t llen = sizeof out->local;
  getsockname(fd, reinterpret_cast<sockaddr*>(&out->local), &llen);
  // Verified like the service's certificate (upstream.ca_file,
  // upstream.verify), against the destination's IP address.
  const std::string name = host_text(to.addr);
  StreamConnection::Params params;
  params.fd = fd;
  params.role = StreamRole::client;
  params.tls = to.transport == dataplane::Transport::tls ? client_ctx_ : nullptr;
  params.peer_name = name;
  params.connect_in_progress = rc != 0;
  params.options.max_message_size = options_.max_message;
  params.on_message = [this, conn_id](std::string_view m) { on_inbound_message(conn_id, m); };
  out->conn = std::make_unique<StreamConnection>(std::move(params), now());
  inbound_[index] = std::move(out);
  outbound_.push_back(index);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
  ev.data.u64 = tag(Tag::inbound, index);
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  inbound_[index]->watching_write = true;
  dataplane::bump(counters_.destination_connects);
  return index;
}

// True when the packet is kept (waiting for the connection to come up).
bool TlsWorker::send_to_destination(Packet* p) {
  std::uint32_t index = kIdMask;
  for (const std::uint32_t i : outbound_) {
    const Inbound& o = *inbound_[i];
    if (o.peer.transport == p->peer.transport && same_address(o.peer.addr, p->peer.addr) &&
        o.conn->state() != StreamState::closed) {
      index = i;
      break;
    }
  }
  if (index == kIdMask) index = open_destination(p->peer);
  if (index == kIdMask) {
    dataplane::bump(counters_.destination_undeliverable);
    p->kind = PacketKind::undeliverable;
    if (mail_.send_one(thread(), p->owner, p)) return true;
    dataplane::bump(counters_.ring_full);
    return false;
  }
  Inbound& o = *inbound_[index];
  o.last_used = now();
  if (tracing()) trace(o.local, o.peer.addr, o.peer.transport, true, p->view());
  const bool up = o.conn->state() == StreamState::up;
  if (!o.conn->send(p->view(), now())) {
    dataplane::bump(counters_.switch_send_failed);
    return false;
  }
  // Once in `pending` the packet is the connection's: released when it
  // comes up, bounced if it closes first (even inside service_inbound below).
  const bool kept = !up && o.pending.size() < kMaxPending;
  if (kept) o.pending.push_back(p);
  service_inbound(index, 0);
  return kept;
}

void TlsWorker::expire_destinations(Millis t) {
  if (t < next_expiry_) return;
  next_expiry_ = t + Millis{1000};
  for (std::size_t k = outbound_.size(); k-- > 0;) {
    const std::uint32_t i = outbound_[k];
    Inbound& o = *inbound_[i];
    const bool up = o.conn->state() == StreamState::up;
    if (!up && t - o.conn->opened_at() > kDestinationConnectTimeout) {
      o.conn->close(CloseReason::connect_timeout);
      close_inbound(i);
    } else if (up && t - std::max(o.last_used, o.conn->last_rx()) > kDestinationIdle) {
      o.conn->close(CloseReason::local);
      dataplane::bump(counters_.destination_idle_closed);
      close_inbound(i);
    }
  }
}

std::vector<ConnectionInfo> TlsWorker::sessions() const {
  const std::lock_guard lock(sessions_mu_);
  return sessions_;
}

// ---------------------------------------------------------------------------
// Hot reload.

void TlsWorker::follow_policy(Millis t) {
  if (options_.policy == nullptr) return;
  options_.policy->quiescent(options_.policy_reader);
  const dataplane::RuntimePolicy* p = options_.policy->current();
  if (p->generation == policy_generation_) return;
  policy_generation_ = p->generation;
  const UpstreamPoolOptions* next = options_.upstream_of ? options_.upstream_of(*p) : nullptr;
  if (next == nullptr) return;
  auto opts = *next;
  opts.stream.max_message_size = options_.max_message;
  std::string error;
  // Connections to targets that left drain for as long as an answer on them
  // can still matter (the service timeout plus a margin).
  const Millis drain = p->upstream_timeout + Millis{2000};
  if (!pool_->replace_targets(opts, t, drain, error)) {
    log::writef(log::Level::error, "reload: tls worker %u kept its upstream targets: %s", options_.index,
                error.c_str());
  }
}

// ---------------------------------------------------------------------------
// Rings.

void TlsWorker::release(Packet* p) {
  if (p->owner == thread()) {
    pool_packets_.put(p);
    return;
  }
  p->kind = PacketKind::free_buffer;
  if (!mail_.send_one(thread(), p->owner, p)) dataplane::bump(counters_.ring_full);
}

unsigned TlsWorker::drain_rings() {
  unsigned total = 0;
  Packet* batch[kBurst];
  for (unsigned from = 0; from < mail_.sip_workers(); ++from) {
    const unsigned n = mail_.receive(from, thread(), batch);
    for (unsigned k = 0; k < n; ++k) {
      Packet* p = batch[k];
      switch (p->kind) {
        case PacketKind::free_buffer:
          pool_packets_.put(p);
          continue;
        case PacketKind::to_upstream:
          // Queued, not written yet: flush() after the burst coalesces what
          // is queued per connection into as few records and writes as it can.
          if (tracing()) trace(upstream_trace_local(), upstream_trace_peer(), dataplane::Transport::tls, true, p->view());
          if (!pool_->send(p->call_hash, p->view())) dataplane::bump(counters_.upstream_send_failed);
          break;
        case PacketKind::to_destination_stream:
          if (send_to_destination(p)) continue;  // held until the connection is up
          break;
        case PacketKind::to_switch_stream: {
          const std::uint32_t index = p->peer.conn_id & kIdMask;
          if (index < inbound_.size() && inbound_[index] && inbound_[index]->peer.conn_id == p->peer.conn_id) {
            if (tracing()) {
              trace(inbound_[index]->local, inbound_[index]->peer.addr, inbound_[index]->peer.transport, true, p->view());
            }
            if (!inbound_[index]->conn->send(p->view(), now())) dataplane::bump(counters_.switch_send_failed);
            service_inbound(index, 0);
          } else {
            dataplane::bump(counters_.switch_send_failed);
          }
          break;
        }
        default:
          break;
      }
      release(p);
    }
    total += n;
  }
  return total;
}

}  // namespace sigrelay::tls
