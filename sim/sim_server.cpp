#include "sim/sim_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "sim/numbers.hpp"
#include "sip/response_builder.hpp"

namespace sigrelay::sim {

namespace {

constexpr std::uint64_t kSignalId = 0;
constexpr std::uint64_t kFirstConnId = std::uint64_t{1} << 32;  // below: listeners
constexpr std::size_t kReadChunk = 16384;
constexpr int kReadsPerEvent = 16;       // then let other connections have a turn
constexpr int kAcceptsPerEvent = 64;
constexpr std::size_t kMaxUnsent = 4u << 20;  // a peer that stops reading is closed
constexpr std::int64_t kTransactionLingerMs = 32000;  // 64*T1 (RFC 3261 Timer H)
constexpr std::int64_t kAcceptRetryMs = 100;   // after EMFILE and the like
constexpr std::string_view kAllow = "INVITE, ACK, CANCEL, OPTIONS";

FILE* g_keylog = nullptr;  // SSLKEYLOGFILE; the process has one thread

void keylog_line(const SSL*, const char* line) {
  if (g_keylog == nullptr) return;
  std::fprintf(g_keylog, "%s\n", line);
  std::fflush(g_keylog);
}

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "no OpenSSL error recorded";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// The address as a URI host: "192.0.2.1" or "[2001:db8::1]"; "?" for others.
std::string host_text(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, host, sizeof host);
    return host;
  }
  if (ss.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]";
  }
  return "?";
}

std::string address_text(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    return host_text(ss) + ":" + std::to_string(ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    return host_text(ss) + ":" + std::to_string(ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port));
  }
  return "?";
}

std::string random_tag() {
  unsigned char b[8];
  if (RAND_bytes(b, sizeof b) != 1) {
    // Uniqueness, not secrecy, is what a To tag needs.
    static std::uint64_t fallback = 0;
    const std::uint64_t v = ++fallback ^ static_cast<std::uint64_t>(std::time(nullptr)) << 20;
    std::memcpy(b, &v, sizeof b);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string tag;
  for (unsigned char x : b) {
    tag += kHex[x >> 4];
    tag += kHex[x & 15];
  }
  return tag;
}

// RFC 3261 §17.2.3: a branch with the magic cookie plus sent-by identifies
// the transaction; ACK and CANCEL for an INVITE carry the INVITE's branch.
// Older peers get the RFC 2543 fallback of Call-ID, CSeq number, From tag
// and the whole top Via.
std::string transaction_key(const sip::Message& m) {
  const sip::Via& v = m.top_via;
  if (v.branch.size() > 7 && v.branch.substr(0, 7) == "z9hG4bK") {
    return std::string(v.branch) + '\x01' + std::string(v.host) + ':' + std::to_string(v.port);
  }
  return std::string(m.call_id) + '\x01' + std::to_string(m.cseq.number) + '\x01' +
         std::string(m.from.tag) + '\x01' + std::string(v.text);
}

// Untrusted text in a log line: printable ASCII only, bounded.
std::string printable(std::string_view s, std::size_t max = 96) {
  std::string out;
  for (char c : s.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  if (s.size() > max) out += "...";
  return out;
}

sip::ParseOptions stream_options() {
  sip::ParseOptions o;
  o.datagram = false;
  return o;
}

}  // namespace

SimServer::SimServer(SimConfig config, std::unique_ptr<PassportSigner> signer)
    : config_(std::move(config)), signer_(std::move(signer)), next_conn_id_(kFirstConnId) {}

SimServer::~SimServer() {
  while (!connections_.empty()) close_connection(connections_.begin()->first);
  for (Listener& l : listeners_) {
    if (l.fd >= 0) ::close(l.fd);
  }
  if (signal_fd_ >= 0) ::close(signal_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (tls_ctx_ != nullptr) SSL_CTX_free(tls_ctx_);
  if (g_keylog != nullptr) {
    std::fclose(g_keylog);
    g_keylog = nullptr;
  }
}

bool SimServer::load_trust(std::string& error) {
  if (trust_loaded_) return true;
  const bool verifies = std::any_of(config_.rules.rules().begin(), config_.rules.rules().end(),
                                    [](const Rule& r) { return r.verify; });
  // Listed files are checked even with no verify rule: a configuration
  // that names an unreadable file is wrong whatever the rules say.
  for (const std::string& path : config_.shaken_trust) {
    if (!load_trusted_keys(path, trusted_, error)) {
      error = "shaken.trust: " + error;
      return false;
    }
  }
  if (config_.shaken_trust.empty() && verifies && !config_.shaken_key.empty()) {
    // One simulator can then sign on the originating side and verify on the
    // terminating side. A private key object verifies as well as its public half.
    PkeyPtr own = load_p256_private_key(config_.shaken_key, error);
    if (!own) {
      error = "shaken.key: " + error;
      return false;
    }
    trusted_.push_back(std::move(own));
  }
  trust_loaded_ = true;
  return true;
}

bool SimServer::load_tls(std::string& error) {
  if (!load_trust(error)) return false;
  if (config_.tls.empty() || tls_ctx_ != nullptr) return true;
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  auto fail = [&](std::string what) {
    error = what + ": " + openssl_error();
    SSL_CTX_free(ctx);
    return false;
  };
  if (ctx == nullptr || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) return fail("TLS context");
  if (SSL_CTX_use_certificate_chain_file(ctx, config_.tls_cert.c_str()) != 1) {
    return fail("tls.cert '" + config_.tls_cert + "'");
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, config_.tls_key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail("tls.key '" + config_.tls_key + "'");
  }
  if (SSL_CTX_check_private_key(ctx) != 1) return fail("tls.key does not belong to tls.cert");
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // SIP frames by Content-Length, so a TCP close without close_notify
  // truncates nothing we rely on: treat it as an ordinary end of stream.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
  if (const char* path = std::getenv("SSLKEYLOGFILE"); path != nullptr && *path != '\0') {
    g_keylog = std::fopen(path, "a");
    if (g_keylog != nullptr) SSL_CTX_set_keylog_callback(ctx, keylog_line);
  }
  tls_ctx_ = ctx;
  return true;
}

bool SimServer::open(std::string& error) {
  if (!load_tls(error)) return false;
  // A peer that vanishes mid-write must be an error return, not a signal.
  ::signal(SIGPIPE, SIG_IGN);
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    error = std::string("epoll_create1: ") + std::strerror(errno);
    return false;
  }

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0 ||
      (signal_fd_ = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
    error = std::string("signalfd: ") + std::strerror(errno);
    return false;
  }
  epoll_event sev{};
  sev.events = EPOLLIN;
  sev.data.u64 = kSignalId;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, signal_fd_, &sev);

  auto bind_all = [&](const std::vector<ListenAddress>& addrs, bool tls) {
    for (const ListenAddress& a : addrs) {
      const int fd = ::socket(a.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        error = a.text + ": socket: " + std::strerror(errno);
        return false;
      }
      const int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (a.addr.ss_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
      if (::bind(fd, reinterpret_cast<const sockaddr*>(&a.addr), a.len) != 0 || ::listen(fd, 1024) != 0) {
        error = a.text + ": " + std::strerror(errno);
        ::close(fd);
        return false;
      }
      sockaddr_storage bound{};
      socklen_t len = sizeof bound;
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
      Listener l;
      l.fd = fd;
      l.tls = tls;
      l.bound = address_text(bound);
      listeners_.push_back(l);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = listeners_.size();  // listener i has id i + 1
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    }
    return true;
  };
  if (!bind_all(config_.tcp, false) || !bind_all(config_.tls, true)) return false;
  finish_iteration();  // the first counters file exists before the ready line
  return true;
}

std::string SimServer::bound_addresses() const {
  std::string out;
  for (const Listener& l : listeners_) {
    if (!out.empty()) out += ' ';
    out += (l.tls ? "tls=" : "tcp=") + l.bound;
  }
  return out;
}

std::int64_t SimServer::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void SimServer::info(const std::string& line) const {
  if (config_.quiet) return;
  std::fprintf(stderr, "sigrelay-sim: %s\n", line.c_str());
}

int SimServer::run() {
  epoll_event events[256];
  while (!stop_) {
    int timeout = -1;
    if (const auto next = timers_.next_deadline()) {
      const std::int64_t wait = *next - now_ms();
      timeout = wait <= 0 ? 0 : static_cast<int>(std::min<std::int64_t>(wait, 60000));
    }
    const int n = ::epoll_wait(epoll_fd_, events, 256, timeout);
    if (n < 0 && errno != EINTR) {
      std::fprintf(stderr, "sigrelay-sim: epoll_wait: %s\n", std::strerror(errno));
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      const std::uint64_t id = events[i].data.u64;
      if (id == kSignalId) {
        on_signal();
      } else if (id < kFirstConnId) {
        on_accept(listeners_[id - 1]);
      } else if (const auto it = connections_.find(id); it != connections_.end()) {
        Connection& c = *it->second;
        if ((events[i].events & EPOLLERR) != 0) c.dead = true;
        if (!c.dead) service(c);
        // Even a dead connection is closed only in finish_iteration, after
        // the counters file: a peer that sees the close sees the counters.
        queue_flush(c);
      }
    }
    const std::int64_t now = now_ms();
    while (const auto e = timers_.pop_due(now)) on_timer(*e);
    finish_iteration();
  }
  info("stopping");
  return 0;
}

void SimServer::on_signal() {
  signalfd_siginfo si;
  while (::read(signal_fd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) stop_ = true;
}

void SimServer::on_accept(Listener& l) {
  for (int i = 0; i < kAcceptsPerEvent; ++i) {
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    const int fd = ::accept4(l.fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) return;
      // Out of descriptors or memory: the listener stays readable, so stop
      // watching it for a moment instead of spinning.
      ++counters_.accept_errors;
      counters_dirty_ = true;
      info(std::string("accept on ") + l.bound + ": " + std::strerror(errno));
      epoll_event ev{};
      ev.data.u64 = static_cast<std::uint64_t>(&l - listeners_.data()) + 1;
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, l.fd, &ev);
      timers_.schedule(now_ms() + kAcceptRetryMs, TimerKind::rearm_listener, ev.data.u64);
      return;
    }
    ++counters_.connections_accepted;
    counters_dirty_ = true;
    if (connections_.size() >= config_.max_connections) {
      ++counters_.connections_rejected;
      ::close(fd);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (config_.send_buffer != 0) {
      const int size = static_cast<int>(std::min<std::uint32_t>(config_.send_buffer, 1u << 30));
      ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    }
    auto c = std::make_unique<Connection>();
    c->id = next_conn_id_++;
    c->fd = fd;
    c->peer = peer;
    c->peer_text = address_text(peer);
    sockaddr_storage local{};
    socklen_t local_len = sizeof local;
    c->local_host = ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) == 0
                        ? host_text(local)
                        : l.bound.substr(0, l.bound.rfind(':'));
    if (l.tls) {
      c->ssl = SSL_new(tls_ctx_);
      if (c->ssl == nullptr || SSL_set_fd(c->ssl, fd) != 1) {
        ++counters_.tls_handshake_failures;
        info("TLS session for " + c->peer_text + ": " + openssl_error());
        if (c->ssl != nullptr) SSL_free(c->ssl);
        ::close(fd);
        continue;
      }
      SSL_set_accept_state(c->ssl);
    } else {
      c->handshake_done = true;
    }
    c->events = EPOLLIN;
    epoll_event ev{};
    ev.events = c->events;
    ev.data.u64 = c->id;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    const std::uint64_t id = c->id;
    connections_.emplace(id, std::move(c));
    // A client may have sent its first bytes with the handshake already.
    Connection& conn = *connections_[id];
    service(conn);
    queue_flush(conn);
  }
}

void SimServer::service(Connection& c) {
  if (!c.handshake_done && !handshake(c)) return;
  read_available(c);
}

bool SimServer::handshake(Connection& c) {
  ERR_clear_error();
  const int r = SSL_accept(c.ssl);
  c.handshake_wants_write = false;
  if (r == 1) {
    c.handshake_done = true;
    ++counters_.tls_handshakes;
    counters_dirty_ = true;
    return true;
  }
  switch (SSL_get_error(c.ssl, r)) {
    case SSL_ERROR_WANT_READ:
      return false;
    case SSL_ERROR_WANT_WRITE:
      c.handshake_wants_write = true;
      return false;
    case SSL_ERROR_ZERO_RETURN:
    case SSL_ERROR_SYSCALL:
    case SSL_ERROR_SSL:
    default: {
      ++counters_.tls_handshake_failures;
      counters_dirty_ = true;
      const std::string why = openssl_error();
      info("TLS handshake with " + c.peer_text + " failed: " + why);
      c.dead = true;
      return false;
    }
  }
}

void SimServer::read_available(Connection& c) {
  char buf[kReadChunk];
  c.read_wants_write = false;
  for (int i = 0; !c.dead && !c.peer_closed; ++i) {
    // Level-triggered epoll brings us back for bytes still in the socket,
    // but not for records OpenSSL has already pulled in: drain those now.
    if (i >= kReadsPerEvent && (c.ssl == nullptr || SSL_has_pending(c.ssl) == 0)) return;
    if (c.ssl != nullptr) {
      ERR_clear_error();
      const int n = SSL_read(c.ssl, buf, sizeof buf);
      if (n > 0) {
        c.in.append(buf, static_cast<std::size_t>(n));
        process_input(c);
        continue;
      }
      switch (SSL_get_error(c.ssl, n)) {
        case SSL_ERROR_WANT_READ:
          return;
        case SSL_ERROR_WANT_WRITE:
          c.read_wants_write = true;
          return;
        case SSL_ERROR_ZERO_RETURN:
          c.peer_closed = true;
          return;
        case SSL_ERROR_SYSCALL:
          // errno 0 here is a bare EOF; anything else a reset or the like.
          c.dead = true;
          return;
        case SSL_ERROR_SSL:
        default:
          ++counters_.tls_errors;
          counters_dirty_ = true;
          info("TLS error from " + c.peer_text + ": " + openssl_error());
          c.dead = true;
          return;
      }
    }
    const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
    if (n > 0) {
      c.in.append(buf, static_cast<std::size_t>(n));
      process_input(c);
    } else if (n == 0) {
      c.peer_closed = true;
    } else if (errno == EINTR) {
      continue;
    } else {
      if (errno != EAGAIN && errno != EWOULDBLOCK) c.dead = true;
      return;
    }
  }
}

void SimServer::process_input(Connection& c) {
  std::size_t consumed = 0;
  while (!c.dead && consumed < c.in.size()) {
    const std::string_view rest = std::string_view(c.in).substr(consumed);
    const sip::StreamFramer::Frame f = c.framer.next(rest);
    switch (f.kind) {
      case sip::StreamFramer::Kind::need_more:
        c.in.erase(0, consumed);
        return;
      case sip::StreamFramer::Kind::ping:
        ++counters_.pings;
        counters_dirty_ = true;
        send(c, "\r\n");  // RFC 5626 §3.5.1: a CRLFCRLF ping is answered with a CRLF pong
        break;
      case sip::StreamFramer::Kind::pong:
        ++counters_.pongs;
        counters_dirty_ = true;
        break;
      case sip::StreamFramer::Kind::message:
        on_message(c, rest.substr(0, f.length));
        break;
      case sip::StreamFramer::Kind::error:
        c.in.erase(0, consumed);
        on_framing_error(c, f);
        return;
    }
    consumed += f.length;
  }
  c.in.erase(0, consumed);
}

void SimServer::on_framing_error(Connection& c, const sip::StreamFramer::Frame& f) {
  ++counters_.bad_messages;
  counters_dirty_ = true;
  info("unframeable stream from " + c.peer_text + ": " + sip::describe(f.error) + "; closing");
  // Where the header section is complete, a 400 tells the peer why
  // (RFC 3261 §21.4.1) before the stream, which cannot be resynchronized, ends.
  const auto end = c.in.find("\r\n\r\n");
  if (end != std::string::npos) {
    sip::MessageWithHeaders<128> m;
    const auto r = m.parse(std::string_view(c.in).substr(0, end + 4));
    if (m.msg.is_request && m.msg.method_id != sip::Method::ack && (r.ok() || r.respondable)) {
      reply(c, m.msg, 400, random_tag(), "Bad Request (" + sip::describe(f.error) + ")");
    }
  }
  c.in.clear();
  c.peer_closed = true;
}

void SimServer::on_message(Connection& c, std::string_view bytes) {
  sip::MessageWithHeaders<128> m;
  const sip::ParseResult r = m.parse(bytes, stream_options());
  counters_dirty_ = true;
  if (!r.ok()) {
    ++counters_.bad_messages;
    info("bad message from " + c.peer_text + ": " + sip::describe(r));
    if (r.respondable && m.msg.is_request && m.msg.method_id != sip::Method::ack) {
      const std::uint16_t code = r.error == sip::ParseError::unsupported_sip_version ? 505 : 400;
      reply(c, m.msg, code, random_tag(), code == 400 ? "Bad Request (" + sip::describe(r) + ")" : "");
    }
    return;
  }
  if (!m.msg.is_request) {
    ++counters_.responses_received;
    return;
  }
  switch (m.msg.method_id) {
    case sip::Method::invite:
      on_invite(c, m.msg);
      break;
    case sip::Method::ack:
      // The ACK for a non-2xx final ends the transaction (RFC 3261 §17.2.1);
      // over a reliable transport no retransmission timer is left to stop.
      ++counters_.acks;
      break;
    case sip::Method::cancel:
      on_cancel(c, m.msg);
      break;
    case sip::Method::options:
      ++counters_.options;
      reply(c, m.msg, 200, random_tag(), {},
            {{"Allow", kAllow}, {"Accept", "application/sdp"}});
      break;
    default:
      ++counters_.other_requests;
      reply(c, m.msg, 405, random_tag(), {}, {{"Allow", kAllow}});
      break;
  }
}

void SimServer::on_invite(Connection& c, const sip::Message& m) {
  counters_.last_invite.assign(m.bytes);
  const std::string key = transaction_key(m);
  if (const auto it = transaction_by_key_.find(key); it != transaction_by_key_.end()) {
    // A retransmission: absorbed while the answer is pending, answered
    // again once it was sent (RFC 3261 §17.2.1).
    ++counters_.invite_retransmissions;
    const Transaction& t = transactions_.at(it->second);
    if (t.answered) send(c, t.response);
    return;
  }
  ++counters_.invites;
  const bool allowed = config_.allow.allows(reinterpret_cast<const sockaddr*>(&c.peer));
  const Decision d = decide(m, allowed, config_.rules, config_.forbidden_code);

  Transaction t;
  t.id = next_txn_id_++;
  t.conn_id = c.id;
  t.key = key;
  t.request.assign(m.bytes);
  t.to_tag = random_tag();
  t.code = d.code;
  t.rule = d.rule;
  const std::uint64_t id = t.id;
  transaction_by_key_.emplace(key, id);
  Transaction& stored = transactions_.emplace(id, std::move(t)).first->second;

  if (d.rule != nullptr && d.rule->trying) reply(c, m, 100, {});
  std::string why = d.rule != nullptr ? " (rule '" + d.rule->text + "')" : std::string(" (no rule matched)");
  if (d.action == Action::answer && d.rule != nullptr && d.rule->verify) why += " " + verify(stored, c, m);
  switch (d.action) {
    case Action::forbidden:
      ++counters_.forbidden;
      log_invite(c, m, stored, std::to_string(d.code) + " (source not in sim.allow)");
      answer(stored, d.code);
      break;
    case Action::silent:
      ++counters_.silent_invites;
      log_invite(c, m, stored, "silent" + why);
      c.held.insert(id);
      break;
    case Action::answer:
      if (d.delay_ms == 0) {
        log_invite(c, m, stored, std::to_string(d.code) + why);
        answer(stored, d.code);
      } else {
        log_invite(c, m, stored, std::to_string(d.code) + " in " + std::to_string(d.delay_ms) + " ms" + why);
        c.held.insert(id);
        timers_.schedule(now_ms() + d.delay_ms, TimerKind::answer, id);
      }
      break;
  }
}

std::string SimServer::verify(Transaction& t, const Connection& c, const sip::Message& m) {
  const IdentityResult r = verify_identity(m, trusted_, static_cast<std::int64_t>(std::time(nullptr)));
  switch (r.verstat) {
    case VerStat::tn_validation_passed: ++counters_.verifications_passed; break;
    case VerStat::tn_validation_failed:
      ++counters_.verifications_failed;
      ++counters_.verification_failures[std::string(to_string(r.check))];
      break;
    case VerStat::no_tn_validation: ++counters_.verifications_none; break;
  }
  counters_dirty_ = true;
  t.verified = true;
  t.verification = verification_headers(r, m, c.local_host);
  std::string out = "verstat=" + std::string(to_string(r.verstat));
  if (r.verstat == VerStat::tn_validation_failed) out += " (" + std::string(to_string(r.check)) + ")";
  if (r.attest != 0) out += " attest=" + std::string(1, r.attest);
  return out;
}

void SimServer::on_cancel(Connection& c, const sip::Message& m) {
  ++counters_.cancels;
  const auto it = transaction_by_key_.find(transaction_key(m));
  if (it == transaction_by_key_.end()) {
    ++counters_.cancels_unmatched;
    reply(c, m, 481, random_tag());
    return;
  }
  Transaction& t = transactions_.at(it->second);
  // RFC 3261 §9.2: 200 to the CANCEL with the INVITE's To tag, then 487 to
  // the INVITE if it is still unanswered.
  reply(c, m, 200, t.to_tag);
  if (!t.answered) {
    info("CANCEL for call " + std::to_string(t.id) + " from " + c.peer_text + ": 487");
    answer(t, 487);
  }
}

void SimServer::on_timer(const TimerEntry& e) {
  switch (e.kind) {
    case TimerKind::answer: {
      const auto it = transactions_.find(e.id);
      if (it != transactions_.end() && !it->second.answered) answer(it->second, it->second.code);
      break;
    }
    case TimerKind::expire: {
      const auto it = transactions_.find(e.id);
      if (it != transactions_.end()) {
        transaction_by_key_.erase(it->second.key);
        transactions_.erase(it);
      }
      break;
    }
    case TimerKind::rearm_listener: {
      Listener& l = listeners_[e.id - 1];
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = e.id;
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, l.fd, &ev);
      break;
    }
  }
}

void SimServer::answer(Transaction& t, std::uint16_t code) {
  sip::MessageWithHeaders<128> m;
  if (!m.parse(t.request, stream_options())) return;  // parsed once already; cannot fail
  std::vector<std::string> values;
  std::vector<sip::ExtraHeader> extra;
  if (code == t.code && t.rule != nullptr) {
    values = contact_values(*t.rule);
    if (code == 302 && t.verified) {
      // The terminating side reports what it found and signs nothing new.
      values.push_back(t.verification.p_asserted_identity);
      if (!t.verification.attestation_indicator.empty()) values.push_back(t.verification.attestation_indicator);
    } else if (code == 302 && !t.rule->no_identity && signer_) {
      PassportClaims claims;
      claims.attest = t.rule->attest != 0 ? t.rule->attest : config_.shaken_attest;
      claims.dest_tn = called_number(m.msg);
      claims.orig_tn = calling_number(m.msg);
      claims.iat = static_cast<std::int64_t>(std::time(nullptr));
      claims.origid = new_origid();
      values.push_back(signer_->identity_header(claims));
      if (values.back().empty()) {
        info("PASSporT signing failed: " + openssl_error());
        values.pop_back();
      }
    }
    const std::size_t contacts = t.rule->contacts.size();
    static constexpr std::string_view kVerificationNames[] = {"P-Asserted-Identity", "P-Attestation-Indicator"};
    for (std::size_t i = 0; i < values.size(); ++i) {
      const std::string_view name = i < contacts ? "Contact"
                                    : t.verified  ? kVerificationNames[i - contacts]
                                                  : "Identity";
      extra.push_back({name, values[i]});
    }
  }
  t.response = build(m.msg, code, t.to_tag, {}, extra);
  t.answered = true;
  ++counters_.invites_by_code[code];
  counters_dirty_ = true;
  if (const auto it = connections_.find(t.conn_id); it == connections_.end()) {
    ++counters_.responses_undeliverable;
  } else {
    it->second->held.erase(t.id);
    send(*it->second, t.response);
  }
  timers_.schedule(now_ms() + kTransactionLingerMs, TimerKind::expire, t.id);
}

std::string SimServer::build(const sip::Message& req, std::uint16_t code, std::string_view to_tag,
                             std::string_view reason, const std::vector<sip::ExtraHeader>& extra) {
  std::size_t cap = req.bytes.size() + reason.size() + 256;
  for (const auto& x : extra) cap += x.name.size() + x.value.size() + 4;
  std::string out(cap, '\0');
  const std::size_t n = sip::build_response(req, code, reason, to_tag, extra, out.data(), out.size());
  out.resize(n);
  return out;
}

void SimServer::reply(Connection& c, const sip::Message& req, std::uint16_t code, std::string_view to_tag,
                      std::string_view reason, const std::vector<sip::ExtraHeader>& extra) {
  const std::string r = build(req, code, to_tag, reason, extra);
  if (!r.empty()) send(c, r);
}

void SimServer::send(std::uint64_t conn_id, std::string_view bytes) {
  if (const auto it = connections_.find(conn_id); it != connections_.end()) send(*it->second, bytes);
}

void SimServer::send(Connection& c, std::string_view bytes) {
  if (bytes.empty() || c.dead) return;
  if (bytes.size() > 2) {
    ++counters_.responses_sent;
    counters_dirty_ = true;
  }
  c.out.append(bytes);
  if (c.out.size() - c.out_off > kMaxUnsent) {
    ++counters_.slow_peer_closes;
    info(c.peer_text + " does not read its responses; closing");
    c.dead = true;
    return;
  }
  queue_flush(c);
}

void SimServer::queue_flush(Connection& c) {
  if (c.queued_for_flush) return;
  c.queued_for_flush = true;
  flush_queue_.push_back(c.id);
}

void SimServer::flush(Connection& c) {
  c.write_blocked = false;
  while (!c.dead && c.out_off < c.out.size()) {
    if (c.ssl != nullptr) {
      if (!c.handshake_done) return;  // the handshake owns the socket until it is done
      const std::size_t len = c.tls_retry_len != 0 ? c.tls_retry_len
                                                    : std::min<std::size_t>(c.out.size() - c.out_off, 1 << 20);
      ERR_clear_error();
      const int n = SSL_write(c.ssl, c.out.data() + c.out_off, static_cast<int>(len));
      if (n > 0) {
        c.out_off += static_cast<std::size_t>(n);
        c.tls_retry_len = 0;
        continue;
      }
      switch (SSL_get_error(c.ssl, n)) {
        case SSL_ERROR_WANT_WRITE:
          c.tls_retry_len = len;
          c.write_blocked = true;
          return;
        case SSL_ERROR_WANT_READ:
          // EPOLLIN is always watched, and the next event retries the write.
          c.tls_retry_len = len;
          return;
        case SSL_ERROR_ZERO_RETURN:
        case SSL_ERROR_SYSCALL:
          c.dead = true;
          return;
        case SSL_ERROR_SSL:
        default:
          ++counters_.tls_errors;
          counters_dirty_ = true;
          info("TLS error writing to " + c.peer_text + ": " + openssl_error());
          c.dead = true;
          return;
      }
    }
    const ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
    if (n > 0) {
      c.out_off += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      c.write_blocked = true;
      return;
    } else {
      c.dead = true;
      return;
    }
  }
  if (c.out_off == c.out.size()) {
    c.out.clear();
    c.out_off = 0;
  } else if (c.out_off > (64u << 10)) {
    // Keep the buffer from growing at the front while a slow peer drains it.
    if (c.tls_retry_len == 0) {
      c.out.erase(0, c.out_off);
      c.out_off = 0;
    }
  }
}

void SimServer::update_interest(Connection& c) {
  std::uint32_t want = EPOLLIN;
  if (c.write_blocked || c.read_wants_write || c.handshake_wants_write) want |= EPOLLOUT;
  if (want == c.events) return;
  epoll_event ev{};
  ev.events = want;
  ev.data.u64 = c.id;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
  c.events = want;
}

void SimServer::write_counters() {
  counters_dirty_ = false;
  if (config_.counters_file.empty()) return;
  std::string error;
  if (!write_file_atomically(config_.counters_file, counters_json(counters_), error)) {
    if (!counters_error_logged_) std::fprintf(stderr, "sigrelay-sim: counters: %s\n", error.c_str());
    counters_error_logged_ = true;
  }
}

void SimServer::finish_iteration() {
  std::vector<std::uint64_t> queue;
  queue.swap(flush_queue_);
  // Counters first: whatever a peer sees from us afterwards (an answer, a
  // close) is already in the file, so a test can read the counters at once.
  // Connections about to close are already left out of connections_open.
  std::size_t closing = 0;
  for (const std::uint64_t id : queue) {
    const auto it = connections_.find(id);
    if (it != connections_.end() && (it->second->dead || it->second->peer_closed)) ++closing;
  }
  if (counters_dirty_ || counters_.connections_open != connections_.size() - closing) {
    counters_.connections_open = connections_.size() - closing;
    write_counters();
  }
  for (const std::uint64_t id : queue) {
    const auto it = connections_.find(id);
    if (it == connections_.end()) continue;
    Connection& c = *it->second;
    c.queued_for_flush = false;
    flush(c);
    if (c.dead || (c.peer_closed && c.out.empty())) {
      if (!c.dead && c.ssl != nullptr && c.handshake_done) {
        ERR_clear_error();
        SSL_shutdown(c.ssl);  // one close_notify, best effort: we do not wait for the peer's
      }
      close_connection(id);
    } else {
      update_interest(c);
    }
  }
  // A write that failed just now, or a peer_closed connection still holding
  // output, makes the first guess wrong: correct it.
  if (counters_dirty_ || counters_.connections_open != connections_.size()) {
    counters_.connections_open = connections_.size();
    write_counters();
  }
}

void SimServer::close_connection(std::uint64_t id) {
  const auto it = connections_.find(id);
  if (it == connections_.end()) return;
  Connection& c = *it->second;
  for (const std::uint64_t t : c.held) {
    // Nobody is left to answer: a pending INVITE dies with its connection.
    const auto tx = transactions_.find(t);
    if (tx != transactions_.end() && !tx->second.answered) {
      ++counters_.responses_undeliverable;
      counters_dirty_ = true;
      transaction_by_key_.erase(tx->second.key);
      transactions_.erase(tx);
    }
  }
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
  if (c.ssl != nullptr) SSL_free(c.ssl);
  ::close(c.fd);
  connections_.erase(it);
}

void SimServer::log_invite(const Connection& c, const sip::Message& m, const Transaction& t,
                           std::string_view outcome) {
  if (config_.quiet) return;
  info("INVITE " + std::to_string(t.id) + " from " + c.peer_text + (c.ssl != nullptr ? "/tls" : "/tcp") +
       " call-id=" + printable(m.call_id) + " called=" + printable(called_number(m)) +
       " calling=" + printable(calling_number(m)) + " -> " + std::string(outcome));
}

}  // namespace sigrelay::sim
