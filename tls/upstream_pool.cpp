#include "tls/upstream_pool.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <random>

#include "dataplane/socket_address.hpp"
#include "tls/cert_expiry.hpp"

namespace sigrelay::tls {
namespace {

// While a DNS lookup runs, poll() has to look at it again this soon
// (getaddrinfo_a has no descriptor to wait on).
constexpr Millis kResolvePollInterval{10};
constexpr int kEventBatch = 64;

// Calls remembered for routing their later messages: 8192 buckets of 4
// (512 KB). A call is forgotten only after 4 newer calls landed in its
// bucket; at 1000 new calls/s per tls worker that happens to under 0.2% of
// calls within 4 s, and a forgotten call still takes the connection its
// hash picks, which is the same one unless the layout changed meanwhile.
constexpr unsigned kRouteBucketBits = 13;
constexpr std::size_t kRouteWays = 4;
constexpr std::uint32_t kNoSlot = 0xffffffffU;
// Keeps the bucket index independent of the connection pick (both mix call_hash).
constexpr std::uint64_t kRouteSalt = 0x5bd1e9955bd1e995ULL;

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string strip_brackets(const std::string& host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') return host.substr(1, host.size() - 2);
  return host;
}

bool is_ip_literal(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// Host names and IPv6 literals compare without regard to case.
bool same_text(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string verify_name_of(const UpstreamTarget& t) {
  return t.server_name.empty() ? strip_brackets(t.host) : t.server_name;
}

// Two list entries name the same upstream when a connection to one is a
// connection to the other: same address, port, transport and certificate name.
bool same_target(const UpstreamTarget& a, const UpstreamTarget& b) {
  return a.port == b.port && a.tls == b.tls && same_text(strip_brackets(a.host), strip_brackets(b.host)) &&
         same_text(verify_name_of(a), verify_name_of(b));
}

// As an operator wrote it in upstream.uri.
std::string target_text(const UpstreamTarget& t) {
  const std::string host = strip_brackets(t.host);
  std::string s = "sip:";
  s += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  s += ":" + std::to_string(t.port) + (t.tls ? ";transport=tls" : ";transport=tcp");
  const std::string name = verify_name_of(t);
  if (t.tls && !same_text(name, host)) s += " (verify " + name + ")";
  return s;
}

std::size_t route_bucket(std::uint64_t call_hash) {
  return static_cast<std::size_t>(splitmix64(call_hash ^ kRouteSalt) >> (64 - kRouteBucketBits));
}

}  // namespace

std::string_view to_string(ConnectionState s) {
  switch (s) {
    case ConnectionState::down:
      return "down";
    case ConnectionState::resolving:
      return "resolving";
    case ConnectionState::connecting:
      return "connecting";
    case ConnectionState::handshaking:
      return "handshaking";
    case ConnectionState::up:
      return "up";
    case ConnectionState::draining:
      return "draining";
  }
  return "unknown";
}

struct UpstreamPool::Address {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

// One getaddrinfo_a request. glibc's helper thread writes into `request`
// until the lookup completes, so the object stays put (heap, never moved)
// and its destructor cancels or waits for the lookup before freeing it.
struct UpstreamPool::Resolution {
  gaicb request{};
  addrinfo hints{};
  std::string host;
  std::string service;
  gaicb* list[1] = {&request};

  Resolution(std::string h, std::uint16_t port, int family) : host(std::move(h)), service(std::to_string(port)) {
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    request.ar_name = host.c_str();
    request.ar_service = service.c_str();
    request.ar_request = &hints;
  }
  Resolution(const Resolution&) = delete;
  Resolution& operator=(const Resolution&) = delete;

  ~Resolution() {
    if (gai_error(&request) == EAI_INPROGRESS && gai_cancel(&request) == EAI_NOTCANCELED) {
      const gaicb* const wait_list[1] = {&request};
      while (gai_error(&request) == EAI_INPROGRESS) gai_suspend(wait_list, 1, nullptr);
    }
    if (request.ar_result != nullptr) freeaddrinfo(request.ar_result);
  }
};

struct UpstreamPool::Target {
  UpstreamTarget config;
  std::string lookup_host;  // host without brackets
  std::string verify_name;  // server_name, or the host
  std::string text;         // target_text()
  bool literal = false;
  std::vector<Address> addresses;
  std::uint64_t generation = 0;  // completed lookups
  std::unique_ptr<Resolution> in_flight;
  std::size_t up = 0;
  std::vector<std::uint32_t> slots;  // slot ids by connection index
};

struct UpstreamPool::Slot {
  std::uint32_t id = 0;
  std::size_t target = 0;  // index in targets_; kNoTarget while draining
  std::size_t index = 0;
  std::string target_text;  // kept for connections() once the target has left
  SlotState state = SlotState::waiting;
  std::unique_ptr<StreamConnection> conn;
  std::uint32_t serial = 0;  // of the current connection; 0 before the first
  ConnectionState shown = ConnectionState::down;
  Millis since{0};
  Millis drain_until{0};
  Millis drain_length{0};
  std::string address_text;  // of the current attempt, for messages
  // The service's certificate on the current connection, read when it came
  // up so connections() does not parse it again; 0 and empty otherwise.
  std::int64_t peer_not_after = 0;
  std::string peer_subject;
  std::uint32_t failures = 0;
  std::uint64_t attempts = 0;
  Millis next_attempt = Millis::min();
  Millis ceiling{0};
  Millis last_delay{0};
  Millis attempt_started{0};
  std::uint64_t wait_generation = 0;
  std::size_t next_address = 0;
  bool ping_outstanding = false;
  Millis ping_sent{0};
  std::uint64_t bytes_in_at_ping = 0;
  std::uint32_t interest = 0;
  bool dirty = false;
  std::string last_error;

  ConnectionState shown_state() const {
    switch (state) {
      case SlotState::waiting:
        return ConnectionState::down;
      case SlotState::resolving:
        return ConnectionState::resolving;
      case SlotState::connecting:
        if (conn && conn->state() == StreamState::handshaking) return ConnectionState::handshaking;
        if (conn && conn->state() == StreamState::up) return ConnectionState::up;
        return ConnectionState::connecting;
      case SlotState::up:
        return ConnectionState::up;
      case SlotState::draining:
        return ConnectionState::draining;
    }
    return ConnectionState::down;
  }
};

struct UpstreamPool::CallRoute {
  std::uint64_t hash = 0;
  std::uint32_t slot = kNoSlot;
  std::uint32_t serial = 0;
};

// One cache line: a lookup touches one line, newest call first.
struct alignas(64) UpstreamPool::CallBucket {
  std::array<CallRoute, kRouteWays> ways{};
};

Millis backoff_ceiling(std::uint32_t failures, Millis min, Millis max) {
  if (failures == 0) return Millis{0};
  if (min > max) min = max;
  Millis c = min;
  for (std::uint32_t i = 1; i < failures && c < max; ++i) c *= 2;
  return std::min(c, max);
}

UpstreamPool::UpstreamPool(UpstreamPoolOptions options, ssl_ctx_st* tls_ctx, UpstreamCallbacks callbacks)
    : options_(std::move(options)),
      tls_ctx_(tls_ctx),
      callbacks_(std::move(callbacks)),
      per_target_(std::max<std::size_t>(options_.connections_per_target, 1)),
      rng_state_(options_.jitter_seed != 0 ? options_.jitter_seed
                                           : (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}()) {
  if (options_.targets.empty()) error_ = "no upstream targets";
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0 && error_.empty()) error_ = std::string("epoll_create1: ") + std::strerror(errno);
  routes_.resize(std::size_t{1} << kRouteBucketBits);
  for (const auto& config : options_.targets) targets_.push_back(make_target(config));
  for (std::size_t t = 0; t < targets_.size(); ++t) {
    for (std::size_t i = 0; i < per_target_; ++i) targets_[t]->slots.push_back(add_slot(t, i));
  }
  dirty_.reserve(slots_.size());
}

UpstreamPool::~UpstreamPool() {
  slots_.clear();    // closes the sockets
  targets_.clear();  // cancels or waits for DNS lookups
  retired_.clear();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

std::unique_ptr<UpstreamPool::Target> UpstreamPool::make_target(const UpstreamTarget& config) const {
  auto t = std::make_unique<Target>();
  t->config = config;
  t->lookup_host = strip_brackets(config.host);
  t->verify_name = verify_name_of(config);
  t->text = target_text(config);
  t->literal = is_ip_literal(t->lookup_host);
  if (t->literal) {
    // Numeric: getaddrinfo does no I/O here.
    addrinfo hints{};
    hints.ai_family = options_.address_family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    addrinfo* result = nullptr;
    const std::string service = std::to_string(config.port);
    if (getaddrinfo(t->lookup_host.c_str(), service.c_str(), &hints, &result) == 0) {
      for (const addrinfo* a = result; a != nullptr; a = a->ai_next) {
        Address address;
        std::memcpy(&address.addr, a->ai_addr, a->ai_addrlen);
        address.len = a->ai_addrlen;
        t->addresses.push_back(address);
      }
      freeaddrinfo(result);
    }
  }
  return t;
}

std::uint32_t UpstreamPool::add_slot(std::size_t target, std::size_t index) {
  auto slot = std::make_unique<Slot>();
  if (free_ids_.empty()) {
    slot->id = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    slot->id = free_ids_.back();
    free_ids_.pop_back();
  }
  slot->target = target;
  slot->index = index;
  slot->target_text = targets_[target]->text;
  // Spread a target's connections over its addresses.
  slot->next_address = index;
  const std::uint32_t id = slot->id;
  slots_[id] = std::move(slot);
  return id;
}

std::uint64_t UpstreamPool::next_random() {
  rng_state_ += 0x9e3779b97f4a7c15ULL;
  return splitmix64(rng_state_);
}

void UpstreamPool::poll(Millis now) {
  if (!error_.empty()) return;
  last_poll_ = now;
  // Callbacks run inside poll(); a flush() they call is left to the one at
  // the end, so no connection is flushed (and maybe destroyed) while its
  // own on_readable() is still on the stack.
  in_poll_ = true;
  handle_io(now);
  check_resolutions(now);
  run_timers(now);
  if (!retired_.empty()) sweep_retired();
  in_poll_ = false;
  flush(now);
}

void UpstreamPool::handle_io(Millis now) {
  epoll_event events[kEventBatch];
  const int n = ::epoll_wait(epoll_fd_, events, kEventBatch, 0);
  for (int i = 0; i < n; ++i) {
    // A draining connection that closed earlier in this batch has left its slot free.
    Slot* s = slots_[static_cast<std::size_t>(events[i].data.u64)].get();
    if (s == nullptr || !s->conn) continue;
    Slot& slot = *s;
    const std::uint32_t ev = events[i].events;
    if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) slot.conn->on_readable(now);
    if ((ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0 && slot.conn->state() != StreamState::closed) {
      slot.conn->on_writable(now);
    }
    after_io(slot, now);
  }
  for (std::size_t id = 0; id < slots_.size(); ++id) {
    Slot* s = slots_[id].get();
    if (s != nullptr && s->conn && s->conn->input_pending()) {
      s->conn->on_readable(now);
      after_io(*s, now);
    }
  }
}

void UpstreamPool::check_resolutions(Millis now) {
  for (std::size_t ti = 0; ti < targets_.size(); ++ti) {
    Target& t = *targets_[ti];
    if (!t.in_flight) continue;
    const int rc = gai_error(&t.in_flight->request);
    if (rc == EAI_INPROGRESS) continue;
    std::string error;
    if (rc == 0) {
      t.addresses.clear();
      for (const addrinfo* a = t.in_flight->request.ar_result; a != nullptr; a = a->ai_next) {
        if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
        Address address;
        std::memcpy(&address.addr, a->ai_addr, a->ai_addrlen);
        address.len = a->ai_addrlen;
        t.addresses.push_back(address);
      }
      if (t.addresses.empty()) error = "no usable address";
    } else {
      error = gai_strerror(rc);
    }
    t.in_flight.reset();
    ++t.generation;
    if (!error.empty()) ++counters_.resolve_failures;
    for (const std::uint32_t id : t.slots) {
      Slot& slot = *slots_[id];
      if (slot.state != SlotState::resolving || slot.wait_generation > t.generation) continue;
      if (error.empty()) {
        start_connect(slot, now);
      } else {
        attempt_failed(slot, now, "cannot resolve " + t.lookup_host + ": " + error);
      }
    }
  }
}

// Lookups of targets that left: freed once glibc is done with them, never
// waited for on this thread.
void UpstreamPool::sweep_retired() {
  std::erase_if(retired_, [](const std::unique_ptr<Resolution>& r) { return gai_error(&r->request) != EAI_INPROGRESS; });
}

void UpstreamPool::run_timers(Millis now) {
  for (std::size_t id = 0; id < slots_.size(); ++id) {
    if (!slots_[id]) continue;
    Slot& slot = *slots_[id];
    switch (slot.state) {
      case SlotState::waiting:
        if (now >= slot.next_attempt) begin_attempt(slot, now);
        break;
      case SlotState::resolving:
        break;
      case SlotState::connecting:
        if (now - slot.attempt_started >= options_.connect_timeout) {
          slot.conn->close(CloseReason::connect_timeout,
                           "not up within " + std::to_string(options_.connect_timeout.count()) + " ms");
          connection_lost(slot, now);
        }
        break;
      case SlotState::up: {
        if (options_.keepalive_interval.count() <= 0) break;
        StreamConnection& c = *slot.conn;
        if (slot.ping_outstanding && c.counters().bytes_in != slot.bytes_in_at_ping) {
          slot.ping_outstanding = false;  // a pong, or any traffic, proves the peer alive
        }
        if (slot.ping_outstanding) {
          if (now - slot.ping_sent >= options_.keepalive_timeout) {
            ++counters_.keepalive_timeouts;
            c.close(CloseReason::keepalive_timeout,
                    "no answer to a CRLF ping within " + std::to_string(options_.keepalive_timeout.count()) + " ms");
            connection_lost(slot, now);
          }
        } else if (now - c.last_rx() >= options_.keepalive_interval) {
          slot.bytes_in_at_ping = c.counters().bytes_in;
          if (c.send_ping(now)) {
            ++counters_.keepalive_pings;
            slot.ping_outstanding = true;
            slot.ping_sent = now;
          }
          after_io(slot, now);
        }
        break;
      }
      case SlotState::draining:
        // No keepalive: the drain is shorter than a keepalive round.
        if (now >= slot.drain_until) end_drain(slot, now, true);
        break;
    }
  }
}

void UpstreamPool::mark(Slot& slot, Millis now) {
  const ConnectionState shown = slot.shown_state();
  if (shown == slot.shown) return;
  slot.shown = shown;
  slot.since = now;
}

void UpstreamPool::begin_attempt(Slot& slot, Millis now) {
  ++slot.attempts;
  if (slot.attempts > 1) ++counters_.reconnects;
  slot.attempt_started = now;
  Target& t = *targets_[slot.target];
  if (t.literal) {
    start_connect(slot, now);
    return;
  }
  // Re-resolve for every attempt; slots that come due while a lookup is
  // running share its answer.
  slot.state = SlotState::resolving;
  mark(slot, now);
  slot.wait_generation = t.generation + 1;
  if (t.in_flight) return;
  auto r = std::make_unique<Resolution>(t.lookup_host, t.config.port, options_.address_family);
  ++counters_.resolutions;
  const int rc = getaddrinfo_a(GAI_NOWAIT, r->list, 1, nullptr);
  if (rc != 0) {
    ++counters_.resolve_failures;
    attempt_failed(slot, now, "cannot resolve " + t.lookup_host + ": " + gai_strerror(rc));
    return;
  }
  t.in_flight = std::move(r);
}

void UpstreamPool::start_connect(Slot& slot, Millis now) {
  Target& t = *targets_[slot.target];
  if (t.addresses.empty()) {
    attempt_failed(slot, now, "no usable address for " + t.lookup_host);
    return;
  }
  if (t.config.tls && tls_ctx_ == nullptr) {
    attempt_failed(slot, now, "TLS setup failed: no TLS context");
    return;
  }
  const Address& a = t.addresses[slot.next_address++ % t.addresses.size()];
  slot.address_text = dataplane::address_text(a.addr);
  const int fd = ::socket(a.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    attempt_failed(slot, now, std::string("socket: ") + std::strerror(errno));
    return;
  }
  ++counters_.connect_attempts;
  slot.attempt_started = now;
  bool in_progress = false;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len) != 0) {
    if (errno == EINPROGRESS) {
      in_progress = true;
    } else {
      const int error = errno;
      ::close(fd);
      ++counters_.connect_failures;
      attempt_failed(slot, now,
                     std::string("connect failed: ") + std::strerror(error) + " (" + slot.address_text + ")");
      return;
    }
  }
  StreamConnection::Params p;
  p.fd = fd;
  p.role = StreamRole::client;
  p.tls = t.config.tls ? tls_ctx_ : nullptr;
  p.peer_name = t.verify_name;
  p.connect_in_progress = in_progress;
  p.options = options_.stream;
  p.on_message = [this](std::string_view m) {
    if (callbacks_.on_message) callbacks_.on_message(m);
  };
  slot.conn = std::make_unique<StreamConnection>(std::move(p), now);
  // Names this connection in routes_; 0 stays "never connected".
  if (++next_serial_ == 0) ++next_serial_;
  slot.serial = next_serial_;
  slot.state = SlotState::connecting;
  slot.interest = 0;
  if (slot.conn->state() != StreamState::closed) {
    epoll_event ev{};
    ev.events = EPOLLIN | (slot.conn->wants_write() ? EPOLLOUT : 0U);
    ev.data.u64 = slot.id;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      slot.conn->close(CloseReason::setup_failed, std::string("epoll_ctl: ") + std::strerror(errno));
    } else {
      slot.interest = ev.events;
    }
  }
  after_io(slot, now);
}

// May free a draining slot: callers do not touch `slot` afterwards.
void UpstreamPool::after_io(Slot& slot, Millis now) {
  StreamConnection& c = *slot.conn;
  if (slot.state == SlotState::draining) {
    if (c.state() == StreamState::closed) {
      end_drain(slot, now, false);
    } else {
      update_interest(slot);
    }
    return;
  }
  if (c.state() == StreamState::closed) {
    connection_lost(slot, now);
    return;
  }
  if (c.state() == StreamState::up && slot.state != SlotState::up) {
    slot.state = SlotState::up;
    slot.failures = 0;
    slot.ping_outstanding = false;
    ++targets_[slot.target]->up;
    ++up_total_;
    ++counters_.connections_up;
    recompute_active();
    mark(slot, now);
    if (c.is_tls()) {
      CertExpiry peer = peer_expiry(c.native_handle());
      if (peer.ok) {
        slot.peer_not_after = peer.not_after;
        slot.peer_subject = std::move(peer.subject);
      }
    }
    if (callbacks_.on_state_change) {
      std::string how = c.is_tls() ? std::string(c.tls_version()) + " " + std::string(c.cipher()) : "TCP";
      callbacks_.on_state_change(slot.target, slot.index, true, how + " (" + slot.address_text + ")");
    }
  } else {
    mark(slot, now);
  }
  update_interest(slot);
}

void UpstreamPool::update_interest(Slot& slot) {
  if (!slot.conn || slot.conn->fd() < 0) return;
  const std::uint32_t wanted = EPOLLIN | (slot.conn->wants_write() ? EPOLLOUT : 0U);
  if (wanted == slot.interest) return;
  epoll_event ev{};
  ev.events = wanted;
  ev.data.u64 = slot.id;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, slot.conn->fd(), &ev) == 0) slot.interest = wanted;
}

void UpstreamPool::connection_lost(Slot& slot, Millis now) {
  StreamConnection& c = *slot.conn;
  const bool was_up = slot.state == SlotState::up;
  const CloseReason reason = c.close_reason();
  if (c.tls_failure() != TlsFailure::none) ++counters_.tls_failures[static_cast<std::size_t>(c.tls_failure())];
  switch (reason) {
    case CloseReason::connect_failed:
      ++counters_.connect_failures;
      break;
    case CloseReason::connect_timeout:
      ++counters_.connect_timeouts;
      break;
    case CloseReason::handshake_failed:
      ++counters_.handshake_failures;
      break;
    case CloseReason::framing_error:
      ++counters_.framing_errors;
      break;
    default:
      break;
  }
  std::string text(describe(reason));
  if (!c.close_detail().empty()) text += ": " + c.close_detail();
  text += " (" + slot.address_text + ")";
  slot.conn.reset();  // closing the socket also removes it from the epoll set
  slot.interest = 0;
  slot.peer_not_after = 0;
  slot.peer_subject.clear();
  if (slot.dirty) slot.dirty = false;
  if (was_up) {
    --targets_[slot.target]->up;
    --up_total_;
    ++counters_.disconnects;
    recompute_active();
  }
  attempt_failed(slot, now, std::move(text));
}

void UpstreamPool::attempt_failed(Slot& slot, Millis now, std::string reason) {
  ++slot.failures;
  slot.ceiling = backoff_ceiling(slot.failures, options_.backoff_min, options_.backoff_max);
  const auto span = static_cast<std::uint64_t>(slot.ceiling.count());
  slot.last_delay = Millis{static_cast<Millis::rep>(next_random() % (span + 1))};
  slot.next_attempt = now + slot.last_delay;
  slot.state = SlotState::waiting;
  mark(slot, now);
  slot.last_error = std::move(reason);
  if (callbacks_.on_state_change) callbacks_.on_state_change(slot.target, slot.index, false, slot.last_error);
}

void UpstreamPool::recompute_active() {
  std::size_t next = kNoTarget;
  for (std::size_t t = 0; t < targets_.size(); ++t) {
    if (targets_[t]->up > 0) {
      next = t;
      break;
    }
  }
  if (next == active_) return;
  if (active_ != kNoTarget && next != kNoTarget) {
    ++(next > active_ ? counters_.failovers : counters_.failbacks);
  } else if (next == kNoTarget) {
    ++counters_.outages;
  }
  active_ = next;
}

// ---------------------------------------------------------------------------
// Routing.

UpstreamPool::Slot* UpstreamPool::remembered(std::uint64_t call_hash) {
  for (const CallRoute& r : routes_[route_bucket(call_hash)].ways) {
    if (r.slot == kNoSlot || r.hash != call_hash) continue;
    Slot* s = r.slot < slots_.size() ? slots_[r.slot].get() : nullptr;
    // The same connection, not merely the same slot: a call whose
    // connection was lost has lost its transaction with it.
    if (s == nullptr || s->serial != r.serial || !s->conn) return nullptr;
    if (s->state != SlotState::up && s->state != SlotState::draining) return nullptr;
    return s;
  }
  return nullptr;
}

void UpstreamPool::remember(std::uint64_t call_hash, const Slot& slot) {
  auto& ways = routes_[route_bucket(call_hash)].ways;
  for (CallRoute& r : ways) {
    if (r.slot != kNoSlot && r.hash == call_hash) {
      r.slot = slot.id;
      r.serial = slot.serial;
      return;
    }
  }
  // Newest first; the oldest call of the bucket is forgotten.
  std::move_backward(ways.begin(), ways.end() - 1, ways.end());
  ways[0] = CallRoute{call_hash, slot.id, slot.serial};
}

bool UpstreamPool::queue_slot(Slot& slot, std::uint64_t call_hash, std::string_view message, bool remember_call) {
  if (!slot.conn->queue(message)) {
    ++counters_.send_buffer_full;
    return false;
  }
  if (remember_call) remember(call_hash, slot);
  if (!slot.dirty) {
    slot.dirty = true;
    dirty_.push_back(slot.id);
  }
  return true;
}

bool UpstreamPool::send(std::uint64_t call_hash, std::string_view message, std::size_t* target) {
  if (Slot* s = remembered(call_hash); s != nullptr) {
    const bool draining = s->state == SlotState::draining;
    if (target != nullptr) *target = draining ? kNoTarget : s->target;
    if (!queue_slot(*s, call_hash, message, false)) return false;
    if (draining) ++counters_.draining_sends;
    return true;
  }
  if (target != nullptr) *target = active_;
  if (active_ == kNoTarget) return send_fallback(call_hash, message);
  return queue_on(active_, call_hash, message);
}

// Nothing in the list is up, but a reload left connections draining: they
// carry new calls until the new targets come up (make before break), and
// each such call keeps its connection open for a whole drain from now.
bool UpstreamPool::send_fallback(std::uint64_t call_hash, std::string_view message) {
  const std::size_t n = draining_.size();
  const std::size_t start = n == 0 ? 0 : static_cast<std::size_t>(splitmix64(call_hash) % n);
  for (std::size_t k = 0; k < n; ++k) {
    Slot& slot = *slots_[draining_[(start + k) % n]];
    if (slot.drain_length.count() <= 0) continue;
    if (!queue_slot(slot, call_hash, message, true)) return false;
    slot.drain_until = std::max(slot.drain_until, last_poll_ + slot.drain_length);
    ++counters_.drain_fallback_calls;
    return true;
  }
  ++counters_.send_no_connection;
  return false;
}

bool UpstreamPool::send_to_target(std::size_t target, std::uint64_t call_hash, std::string_view message) {
  if (target < targets_.size()) {
    Slot* s = remembered(call_hash);
    if (s != nullptr && s->state == SlotState::up && s->target == target) {
      return queue_slot(*s, call_hash, message, false);
    }
  }
  return queue_on(target, call_hash, message);
}

bool UpstreamPool::queue_on(std::size_t target, std::uint64_t call_hash, std::string_view message) {
  if (target >= targets_.size() || targets_[target]->up == 0) {
    ++counters_.send_no_connection;
    return false;
  }
  const Target& t = *targets_[target];
  // Mixed first: the sip workers also pick by this hash, and a worker's
  // calls would otherwise share one residue and one connection.
  const std::size_t start = static_cast<std::size_t>(splitmix64(call_hash) % per_target_);
  for (std::size_t k = 0; k < per_target_; ++k) {
    Slot& slot = *slots_[t.slots[(start + k) % per_target_]];
    if (slot.state != SlotState::up) continue;
    return queue_slot(slot, call_hash, message, true);
  }
  ++counters_.send_no_connection;
  return false;
}

void UpstreamPool::flush(Millis now) {
  if (in_poll_) return;
  // By index: a callback run from after_io() may queue more.
  for (std::size_t i = 0; i < dirty_.size(); ++i) {
    Slot* s = slots_[dirty_[i]].get();
    if (s == nullptr || !s->dirty) continue;
    s->dirty = false;
    if (!s->conn) continue;
    s->conn->flush(now);
    after_io(*s, now);
  }
  dirty_.clear();
}

Millis UpstreamPool::next_deadline() const {
  Millis d = Millis::max();
  for (const auto& s : slots_) {
    if (!s) continue;
    const Slot& slot = *s;
    switch (slot.state) {
      case SlotState::waiting:
        d = std::min(d, slot.next_attempt);
        break;
      case SlotState::resolving:
        d = std::min(d, last_poll_ + kResolvePollInterval);
        break;
      case SlotState::connecting:
        d = std::min(d, slot.attempt_started + options_.connect_timeout);
        break;
      case SlotState::up:
        if (slot.conn->input_pending()) d = Millis::min();
        if (options_.keepalive_interval.count() > 0) {
          d = std::min(d, slot.ping_outstanding ? slot.ping_sent + options_.keepalive_timeout
                                                : slot.conn->last_rx() + options_.keepalive_interval);
        }
        break;
      case SlotState::draining:
        if (slot.conn->input_pending()) d = Millis::min();
        d = std::min(d, slot.drain_until);
        break;
    }
  }
  return d;
}

// ---------------------------------------------------------------------------
// Hot reload.

std::string UpstreamPool::validate(const UpstreamPoolOptions& next, Millis drain) const {
  if (epoll_fd_ < 0) return "the pool has no epoll descriptor";
  if (in_poll_) return "called from inside a pool callback";
  if (next.targets.empty()) return "no upstream targets";
  if (next.connections_per_target == 0) return "connections_per_target is 0";
  if (next.connections_per_target > kMaxConnectionsPerTarget) {
    return "connections_per_target " + std::to_string(next.connections_per_target) + " is over the limit of " +
           std::to_string(kMaxConnectionsPerTarget);
  }
  if (drain.count() < 0) return "negative drain time";
  for (std::size_t i = 0; i < next.targets.size(); ++i) {
    const UpstreamTarget& t = next.targets[i];
    const std::string which = "target " + std::to_string(i + 1);
    if (strip_brackets(t.host).empty()) return which + " has no host";
    if (t.port == 0) return which + " (" + target_text(t) + ") has port 0";
    if (t.tls && tls_ctx_ == nullptr) return which + " (" + target_text(t) + ") needs TLS but the pool has no TLS context";
    for (std::size_t j = 0; j < i; ++j) {
      if (same_target(next.targets[j], t)) {
        return which + " (" + target_text(t) + ") is the same as target " + std::to_string(j + 1);
      }
    }
  }
  return {};
}

bool UpstreamPool::replace_targets(const UpstreamPoolOptions& next, Millis now, Millis drain, std::string& error) {
  if (std::string why = validate(next, drain); !why.empty()) {
    ++counters_.replace_rejected;
    error = std::move(why);
    return false;
  }
  // Nothing below can fail.
  const std::uint64_t seed = options_.jitter_seed;
  options_ = next;
  options_.jitter_seed = seed;
  error_.clear();

  std::vector<std::unique_ptr<Target>> old = std::move(targets_);
  targets_.clear();
  for (const UpstreamTarget& config : next.targets) {
    auto kept = std::find_if(old.begin(), old.end(), [&](const std::unique_ptr<Target>& t) {
      return t && same_target(t->config, config);
    });
    if (kept == old.end()) {
      targets_.push_back(make_target(config));
      continue;
    }
    // Same upstream; the entry may still be spelt differently (case, brackets).
    (*kept)->config = config;
    (*kept)->text = target_text(config);
    targets_.push_back(std::move(*kept));
  }
  for (auto& t : old) {
    if (!t) continue;
    for (const std::uint32_t id : t->slots) retire_slot(*slots_[id], now, drain);
    if (t->in_flight) retired_.push_back(std::move(t->in_flight));
  }
  old.clear();

  per_target_ = next.connections_per_target;
  std::vector<std::uint32_t> started;
  for (std::size_t ti = 0; ti < targets_.size(); ++ti) {
    Target& t = *targets_[ti];
    while (t.slots.size() > per_target_) {
      retire_slot(*slots_[t.slots.back()], now, drain);
      t.slots.pop_back();
    }
    for (const std::uint32_t id : t.slots) {
      slots_[id]->target = ti;
      slots_[id]->target_text = t.text;
    }
    while (t.slots.size() < per_target_) {
      const std::uint32_t id = add_slot(ti, t.slots.size());
      t.slots.push_back(id);
      started.push_back(id);
    }
    t.up = 0;
    for (const std::uint32_t id : t.slots) t.up += slots_[id]->state == SlotState::up ? 1 : 0;
  }
  up_total_ = 0;
  active_ = kNoTarget;
  for (std::size_t ti = 0; ti < targets_.size(); ++ti) {
    up_total_ += targets_[ti]->up;
    if (active_ == kNoTarget && targets_[ti]->up > 0) active_ = ti;
  }
  // The data path must not allocate: room for every slot, decided here.
  dirty_.reserve(2 * slots_.size());
  free_ids_.reserve(slots_.size());
  draining_.reserve(slots_.size());
  ++counters_.replacements;
  // A failed attempt reports itself through on_state_change; a callback
  // must not re-enter (validate() refuses) while `started` is walked.
  in_poll_ = true;
  for (const std::uint32_t id : started) begin_attempt(*slots_[id], now);
  in_poll_ = false;
  return true;
}

// A slot whose target left, or beyond the new connections_per_target.
void UpstreamPool::retire_slot(Slot& slot, Millis now, Millis drain) {
  if (slot.state != SlotState::up) {
    // Nothing can be in flight on a connection that never came up.
    free_slot(slot);
    return;
  }
  slot.state = SlotState::draining;
  slot.target = kNoTarget;
  slot.drain_length = drain;
  slot.drain_until = now + drain;
  slot.ping_outstanding = false;
  mark(slot, now);
  draining_.push_back(slot.id);
  ++counters_.drains_started;
}

// May run inside poll(): it frees the slot, and the callers look at it no more.
void UpstreamPool::end_drain(Slot& slot, Millis now, bool on_time) {
  if (on_time) {
    slot.conn->flush(now);  // a late CANCEL still goes out before close_notify
    slot.conn->close(CloseReason::local, "drained");
    ++counters_.connections_drained;
  } else {
    ++counters_.drains_cut_short;
  }
  std::erase(draining_, slot.id);
  free_slot(slot);
}

void UpstreamPool::free_slot(Slot& slot) {
  const std::uint32_t id = slot.id;
  slots_[id].reset();  // closes the socket, which leaves the epoll set with it
  free_ids_.push_back(id);
}

// ---------------------------------------------------------------------------
// Inspection.

SlotStatus UpstreamPool::slot_status(std::size_t target, std::size_t connection) const {
  const Slot& slot = *slots_[targets_.at(target)->slots.at(connection)];
  SlotStatus s;
  s.state = slot.state;
  s.failures = slot.failures;
  s.next_attempt = slot.next_attempt;
  s.backoff_ceiling = slot.ceiling;
  s.last_delay = slot.last_delay;
  s.last_error = slot.last_error;
  return s;
}

const StreamConnection* UpstreamPool::connection(std::size_t target, std::size_t connection) const {
  return slots_[targets_.at(target)->slots.at(connection)]->conn.get();
}

const UpstreamTarget& UpstreamPool::target(std::size_t target) const { return targets_.at(target)->config; }

std::vector<ConnectionInfo> UpstreamPool::connections() const {
  std::vector<ConnectionInfo> out;
  out.reserve(targets_.size() * per_target_ + draining_.size());
  const auto describe_slot = [&out](const Slot& slot, std::size_t target_index) {
    ConnectionInfo c;
    c.target = slot.target_text;
    c.target_index = target_index;
    c.index = slot.index;
    c.state = slot.shown_state();
    c.since = slot.since;
    c.address = slot.address_text;
    c.failures = slot.failures;
    c.last_error = slot.last_error;
    if (slot.state == SlotState::draining) c.drain_until = slot.drain_until;
    if (slot.conn) {
      c.tls_version = std::string(slot.conn->tls_version());
      c.cipher = std::string(slot.conn->cipher());
      c.peer_not_after = slot.peer_not_after;
      c.peer_subject = slot.peer_subject;
      const StreamCounters& k = slot.conn->counters();
      c.messages_in = k.messages_in;
      c.messages_out = k.messages_out;
      c.bytes_in = k.bytes_in;
      c.bytes_out = k.bytes_out;
    }
    out.push_back(std::move(c));
  };
  for (std::size_t t = 0; t < targets_.size(); ++t) {
    for (const std::uint32_t id : targets_[t]->slots) describe_slot(*slots_[id], t);
  }
  for (const std::uint32_t id : draining_) describe_slot(*slots_[id], kNoTarget);
  return out;
}

}  // namespace sigrelay::tls
