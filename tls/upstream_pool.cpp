#include "tls/upstream_pool.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "dataplane/socket_address.hpp"

namespace sigrelay::tls {
namespace {

// While a DNS lookup runs, poll() has to look at it again this soon
// (getaddrinfo_a has no descriptor to wait on).
constexpr Millis kResolvePollInterval{10};
constexpr int kEventBatch = 64;

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

}  // namespace

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
  bool literal = false;
  std::vector<Address> addresses;
  std::uint64_t generation = 0;  // completed lookups
  std::unique_ptr<Resolution> in_flight;
  std::size_t up = 0;
};

struct UpstreamPool::Slot {
  std::uint32_t id = 0;
  std::size_t target = 0;
  std::size_t index = 0;
  SlotState state = SlotState::waiting;
  std::unique_ptr<StreamConnection> conn;
  std::string address_text;  // of the current attempt, for messages
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

  for (const auto& config : options_.targets) {
    auto t = std::make_unique<Target>();
    t->config = config;
    t->lookup_host = strip_brackets(config.host);
    t->verify_name = config.server_name.empty() ? t->lookup_host : config.server_name;
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
    targets_.push_back(std::move(t));
  }
  for (std::size_t t = 0; t < targets_.size(); ++t) {
    for (std::size_t i = 0; i < per_target_; ++i) {
      auto slot = std::make_unique<Slot>();
      slot->id = static_cast<std::uint32_t>(slots_.size());
      slot->target = t;
      slot->index = i;
      // Spread a target's connections over its addresses.
      slot->next_address = i;
      slots_.push_back(std::move(slot));
    }
  }
  dirty_.reserve(slots_.size());
}

UpstreamPool::~UpstreamPool() {
  slots_.clear();    // closes the sockets
  targets_.clear();  // cancels or waits for DNS lookups
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
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
  in_poll_ = false;
  flush(now);
}

void UpstreamPool::handle_io(Millis now) {
  epoll_event events[kEventBatch];
  const int n = ::epoll_wait(epoll_fd_, events, kEventBatch, 0);
  for (int i = 0; i < n; ++i) {
    Slot& slot = *slots_[static_cast<std::size_t>(events[i].data.u64)];
    if (!slot.conn) continue;
    const std::uint32_t ev = events[i].events;
    if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) slot.conn->on_readable(now);
    if ((ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0 && slot.conn->state() != StreamState::closed) {
      slot.conn->on_writable(now);
    }
    after_io(slot, now);
  }
  for (auto& slot : slots_) {
    if (slot->conn && slot->conn->input_pending()) {
      slot->conn->on_readable(now);
      after_io(*slot, now);
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
    for (std::size_t i = 0; i < per_target_; ++i) {
      Slot& slot = *slots_[ti * per_target_ + i];
      if (slot.state != SlotState::resolving || slot.wait_generation > t.generation) continue;
      if (error.empty()) {
        start_connect(slot, now);
      } else {
        attempt_failed(slot, now, "cannot resolve " + t.lookup_host + ": " + error);
      }
    }
  }
}

void UpstreamPool::run_timers(Millis now) {
  for (auto& s : slots_) {
    Slot& slot = *s;
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
    }
  }
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

void UpstreamPool::after_io(Slot& slot, Millis now) {
  StreamConnection& c = *slot.conn;
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
    if (callbacks_.on_state_change) {
      std::string how = c.is_tls() ? std::string(c.tls_version()) + " " + std::string(c.cipher()) : "TCP";
      callbacks_.on_state_change(slot.target, slot.index, true, how + " (" + slot.address_text + ")");
    }
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

bool UpstreamPool::send(std::uint64_t call_hash, std::string_view message, std::size_t* target) {
  if (target != nullptr) *target = active_;
  if (active_ == kNoTarget) {
    ++counters_.send_no_connection;
    return false;
  }
  return queue_on(active_, call_hash, message);
}

bool UpstreamPool::send_to_target(std::size_t target, std::uint64_t call_hash, std::string_view message) {
  return queue_on(target, call_hash, message);
}

bool UpstreamPool::queue_on(std::size_t target, std::uint64_t call_hash, std::string_view message) {
  if (target >= targets_.size() || targets_[target]->up == 0) {
    ++counters_.send_no_connection;
    return false;
  }
  // Mixed first: the sip workers also pick by this hash, and a worker's
  // calls would otherwise share one residue and one connection.
  const std::size_t start = static_cast<std::size_t>(splitmix64(call_hash) % per_target_);
  for (std::size_t k = 0; k < per_target_; ++k) {
    Slot& slot = *slots_[target * per_target_ + (start + k) % per_target_];
    if (slot.state != SlotState::up) continue;
    if (!slot.conn->queue(message)) {
      ++counters_.send_buffer_full;
      return false;
    }
    if (!slot.dirty) {
      slot.dirty = true;
      dirty_.push_back(slot.id);
    }
    return true;
  }
  ++counters_.send_no_connection;
  return false;
}

void UpstreamPool::flush(Millis now) {
  if (in_poll_) return;
  // By index: a callback run from after_io() may queue more.
  for (std::size_t i = 0; i < dirty_.size(); ++i) {
    Slot& slot = *slots_[dirty_[i]];
    if (!slot.dirty) continue;
    slot.dirty = false;
    if (!slot.conn) continue;
    slot.conn->flush(now);
    after_io(slot, now);
  }
  dirty_.clear();
}

Millis UpstreamPool::next_deadline() const {
  Millis d = Millis::max();
  for (const auto& s : slots_) {
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
    }
  }
  return d;
}

SlotStatus UpstreamPool::slot_status(std::size_t target, std::size_t connection) const {
  const Slot& slot = *slots_.at(target * per_target_ + connection);
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
  return slots_.at(target * per_target_ + connection)->conn.get();
}

}  // namespace sigrelay::tls
