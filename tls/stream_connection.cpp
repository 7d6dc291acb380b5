#include "tls/stream_connection.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace sigrelay::tls {
namespace {

// RFC 8446 §5.1 / RFC 5246 §6.2.1: a record carries at most 2^14 bytes of
// plaintext, so one SSL_write of this size is one record.
constexpr std::size_t kMaxRecordPlaintext = 16384;
constexpr std::string_view kPing = "\r\n\r\n";
constexpr std::string_view kPong = "\r\n";

// A BIO over the socket that (a) sends with MSG_NOSIGNAL, so a peer that
// resets the connection gives EPIPE instead of killing the process with
// SIGPIPE, and (b) counts the system calls, which is what the batching is
// meant to save.
int bio_write(BIO* b, const char* data, int len) {
  auto* t = static_cast<StreamConnection::BioTarget*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  ssize_t n;
  do {
    ++t->counters->write_calls;
    n = ::send(t->fd, data, static_cast<std::size_t>(len), MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_write(b);
  return static_cast<int>(n);
}

int bio_read(BIO* b, char* data, int len) {
  auto* t = static_cast<StreamConnection::BioTarget*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  ssize_t n;
  do {
    ++t->counters->read_calls;
    n = ::recv(t->fd, data, static_cast<std::size_t>(len), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_read(b);
  if (n == 0) t->eof = true;
  return static_cast<int>(n);
}

long bio_ctrl(BIO* b, int cmd, long /*num*/, void* /*ptr*/) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      // The handshake flushes after each flight; there is nothing to flush,
      // and answering 0 would read as a failure.
      return 1;
    case BIO_CTRL_EOF:
      // Lets OpenSSL tell a peer that vanished without close_notify
      // (SSL_R_UNEXPECTED_EOF_WHILE_READING) from a socket error.
      return static_cast<StreamConnection::BioTarget*>(BIO_get_data(b))->eof ? 1 : 0;
    default:
      return 0;
  }
}

int bio_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

BIO_METHOD* make_bio_method() {
  BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sigrelay socket");
  if (m == nullptr) return nullptr;
  if (BIO_meth_set_write(m, &bio_write) != 1 || BIO_meth_set_read(m, &bio_read) != 1 ||
      BIO_meth_set_ctrl(m, &bio_ctrl) != 1 || BIO_meth_set_create(m, &bio_create) != 1) {
    BIO_meth_free(m);
    return nullptr;
  }
  return m;
}

// Made once per process and never freed: OpenSSL keeps a pointer to it in
// every BIO.
BIO_METHOD* bio_method() {
  static BIO_METHOD* const method = make_bio_method();
  return method;
}

// Lengths passed to OpenSSL are ints.
int clamp_int(std::size_t n) { return static_cast<int>(std::min<std::size_t>(n, INT_MAX)); }

}  // namespace

std::string_view to_string(StreamState s) {
  switch (s) {
    case StreamState::connecting:
      return "connecting";
    case StreamState::handshaking:
      return "handshaking";
    case StreamState::up:
      return "up";
    case StreamState::closed:
      return "closed";
  }
  return "closed";
}

std::string_view to_string(CloseReason r) {
  switch (r) {
    case CloseReason::none:
      return "none";
    case CloseReason::local:
      return "local";
    case CloseReason::connect_failed:
      return "connect_failed";
    case CloseReason::connect_timeout:
      return "connect_timeout";
    case CloseReason::handshake_failed:
      return "handshake_failed";
    case CloseReason::peer_closed:
      return "peer_closed";
    case CloseReason::io_error:
      return "io_error";
    case CloseReason::framing_error:
      return "framing_error";
    case CloseReason::keepalive_timeout:
      return "keepalive_timeout";
    case CloseReason::setup_failed:
      return "setup_failed";
  }
  return "none";
}

std::string_view describe(CloseReason r) {
  switch (r) {
    case CloseReason::none:
      return "open";
    case CloseReason::local:
      return "closed locally";
    case CloseReason::connect_failed:
      return "connect failed";
    case CloseReason::connect_timeout:
      return "connect timeout";
    case CloseReason::handshake_failed:
      return "TLS handshake failed";
    case CloseReason::peer_closed:
      return "closed by peer";
    case CloseReason::io_error:
      return "I/O error";
    case CloseReason::framing_error:
      return "SIP framing error";
    case CloseReason::keepalive_timeout:
      return "keepalive timeout";
    case CloseReason::setup_failed:
      return "TLS setup failed";
  }
  return "open";
}

StreamConnection::StreamConnection(Params params, Millis now)
    : fd_(params.fd),
      role_(params.role),
      state_(params.connect_in_progress ? StreamState::connecting : StreamState::handshaking),
      options_(params.options),
      on_message_(std::move(params.on_message)),
      // We ping on the client side, so there a lone CRLF is an answer; on the
      // server side it may be the first half of the peer's ping.
      framer_(params.options.max_message_size, params.role == StreamRole::client),
      bio_target_{params.fd, &counters_, false},
      rcap_(static_cast<std::size_t>(params.options.max_message_size) + kMaxRecordPlaintext),
      opened_at_(now),
      last_rx_(now) {
  // Framing invariant: after deliver() at most max_message_size bytes stay
  // buffered (more would be a complete message or a framing error), so a
  // read always has at least kMaxRecordPlaintext bytes of room.
  rbuf_ = std::make_unique<char[]>(rcap_);
  wbuf_ = std::make_unique<char[]>(std::max<std::size_t>(options_.write_buffer_limit, 1));
  if (fd_ < 0) {
    state_ = StreamState::closed;
    close_reason_ = CloseReason::setup_failed;
    close_detail_ = "no socket";
    return;
  }
  const int flags = ::fcntl(fd_, F_GETFL, 0);
  if (flags >= 0 && (flags & O_NONBLOCK) == 0) ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
  // We batch writes ourselves; Nagle's algorithm would only hold the last
  // small segment back for the peer's delayed ACK (tens of ms per message).
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  if (params.tls == nullptr) {
    if (state_ == StreamState::handshaking) mark_up(now);
    return;
  }
  ssl_ = SSL_new(params.tls);
  BIO* bio = bio_method() != nullptr ? BIO_new(bio_method()) : nullptr;
  if (ssl_ == nullptr || bio == nullptr) {
    BIO_free(bio);
    close(CloseReason::setup_failed, "out of memory creating the TLS session");
    ERR_clear_error();
    return;
  }
  BIO_set_data(bio, &bio_target_);
  SSL_set_bio(ssl_, bio, bio);  // one reference, used for both directions
  // flush() compacts the write buffer between retries of one SSL_write.
  SSL_set_mode(ssl_, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (role_ == StreamRole::client) {
    if (auto error = set_peer_name(ssl_, params.peer_name); !error.empty()) {
      close(CloseReason::setup_failed, error);
      return;
    }
    SSL_set_connect_state(ssl_);
    // The client speaks first: send the ClientHello as soon as writable.
    handshake_wants_write_ = true;
  } else {
    SSL_set_accept_state(ssl_);
  }
}

StreamConnection::~StreamConnection() {
  if (fd_ >= 0) ::close(fd_);
  SSL_free(ssl_);
}

std::string_view StreamConnection::tls_version() const {
  if (ssl_ == nullptr || up_at_ == Millis::min()) return {};
  return SSL_get_version(ssl_);
}

std::string_view StreamConnection::cipher() const {
  if (ssl_ == nullptr || up_at_ == Millis::min()) return {};
  const char* name = SSL_get_cipher_name(ssl_);
  return name != nullptr ? std::string_view(name) : std::string_view();
}

bool StreamConnection::wants_write() const {
  switch (state_) {
    case StreamState::connecting:
      return true;
    case StreamState::handshaking:
      return handshake_wants_write_;
    case StreamState::up:
      return read_wants_write_ || (wend_ > wbeg_ && !write_wants_read_);
    case StreamState::closed:
      return false;
  }
  return false;
}

void StreamConnection::on_readable(Millis now) {
  switch (state_) {
    case StreamState::connecting:
      finish_connect(now);
      return;
    case StreamState::handshaking:
      do_handshake(now);
      return;
    case StreamState::up:
      if (write_wants_read_) {
        write_wants_read_ = false;
        flush(now);
      }
      read_input(now);
      // Pongs and anything the handler queued leave together.
      flush(now);
      return;
    case StreamState::closed:
      return;
  }
}

void StreamConnection::on_writable(Millis now) {
  switch (state_) {
    case StreamState::connecting:
      finish_connect(now);
      return;
    case StreamState::handshaking:
      do_handshake(now);
      return;
    case StreamState::up:
      if (read_wants_write_) {
        read_wants_write_ = false;
        read_input(now);
      }
      flush(now);
      return;
    case StreamState::closed:
      return;
  }
}

void StreamConnection::finish_connect(Millis now) {
  int error = 0;
  socklen_t len = sizeof error;
  if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
  if (error != 0) {
    close(CloseReason::connect_failed, std::strerror(error));
    return;
  }
  sockaddr_storage peer{};
  socklen_t peer_len = sizeof peer;
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) {
    if (errno == ENOTCONN) return;  // still in progress
    close(CloseReason::connect_failed, std::strerror(errno));
    return;
  }
  if (ssl_ == nullptr) {
    mark_up(now);
    return;
  }
  state_ = StreamState::handshaking;
  do_handshake(now);
}

void StreamConnection::mark_up(Millis now) {
  state_ = StreamState::up;
  up_at_ = now;
  last_rx_ = now;
}

void StreamConnection::do_handshake(Millis now) {
  ERR_clear_error();
  const int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    handshake_wants_write_ = false;
    mark_up(now);
    flush(now);
    // Application data that arrived with the last handshake flight may sit
    // inside OpenSSL already, where epoll cannot see it.
    if (state_ == StreamState::up && SSL_has_pending(ssl_) == 1) read_input(now);
    return;
  }
  const int error = SSL_get_error(ssl_, r);
  if (error == SSL_ERROR_WANT_READ) {
    handshake_wants_write_ = false;
  } else if (error == SSL_ERROR_WANT_WRITE) {
    handshake_wants_write_ = true;
  } else {
    fail_tls(error, CloseReason::handshake_failed);
  }
}

void StreamConnection::fail_tls(int ssl_error, CloseReason reason) {
  TlsFailureInfo info = diagnose_tls_failure(ssl_, ssl_error);
  ERR_clear_error();
  if (info.kind == TlsFailure::peer_closed && (reason != CloseReason::handshake_failed || state_ == StreamState::up)) {
    reason = CloseReason::peer_closed;
  } else if (reason == CloseReason::handshake_failed && state_ == StreamState::up &&
             info.kind != TlsFailure::peer_alert) {
    reason = CloseReason::io_error;
  }
  tls_failure_ = info.kind;
  // After a fatal TLS error OpenSSL forbids SSL_shutdown; close() only sends
  // close_notify for reasons we chose ourselves.
  close(reason, info.text);
}

void StreamConnection::read_input(Millis now) {
  input_pending_ = false;
  std::size_t budget = options_.read_budget;
  while (state_ == StreamState::up) {
    const std::size_t room = rcap_ - rlen_;
    std::size_t got = 0;
    if (ssl_ != nullptr) {
      ERR_clear_error();
      const int n = SSL_read(ssl_, rbuf_.get() + rlen_, clamp_int(room));
      if (n <= 0) {
        const int error = SSL_get_error(ssl_, n);
        if (error == SSL_ERROR_WANT_READ) return;
        if (error == SSL_ERROR_WANT_WRITE) {
          read_wants_write_ = true;
          return;
        }
        // In TLS 1.3 the server checks our certificate after our side of
        // the handshake is done; its refusal arrives as an alert before any
        // application byte, and that is a handshake failure to the operator.
        fail_tls(error, counters_.bytes_in == 0 ? CloseReason::handshake_failed : CloseReason::io_error);
        return;
      }
      got = static_cast<std::size_t>(n);
    } else {
      ++counters_.read_calls;
      const ssize_t n = ::recv(fd_, rbuf_.get() + rlen_, room, 0);
      if (n == 0) {
        close(CloseReason::peer_closed,
              rlen_ == 0 ? "connection closed by peer" : "connection closed by peer inside a message");
        return;
      }
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        close(CloseReason::io_error, std::strerror(errno));
        return;
      }
      got = static_cast<std::size_t>(n);
    }
    rlen_ += got;
    counters_.bytes_in += got;
    last_rx_ = now;
    deliver(now);
    if (got >= budget) {
      input_pending_ = state_ == StreamState::up;
      return;
    }
    budget -= got;
  }
}

void StreamConnection::deliver(Millis now) {
  std::size_t used = 0;
  while (used < rlen_ && state_ == StreamState::up) {
    const std::string_view rest(rbuf_.get() + used, rlen_ - used);
    const auto frame = framer_.next(rest);
    switch (frame.kind) {
      case sip::StreamFramer::Kind::need_more:
        goto done;
      case sip::StreamFramer::Kind::message:
        ++counters_.messages_in;
        if (on_message_) on_message_(rest.substr(0, frame.length));
        break;
      case sip::StreamFramer::Kind::ping:
        ++counters_.pings_in;
        if (queue_control(kPong)) ++counters_.pongs_out;
        break;
      case sip::StreamFramer::Kind::pong:
        ++counters_.pongs_in;
        last_pong_ = now;
        break;
      case sip::StreamFramer::Kind::error:
        close(CloseReason::framing_error, sip::describe(frame.error));
        rlen_ = 0;
        return;
    }
    used += frame.length;
  }
done:
  if (state_ != StreamState::up) {
    rlen_ = 0;
    return;
  }
  if (used > 0) {
    std::memmove(rbuf_.get(), rbuf_.get() + used, rlen_ - used);
    rlen_ -= used;
  }
}

bool StreamConnection::queue(std::span<const iovec> segments) {
  if (state_ == StreamState::closed) return false;
  std::size_t total = 0;
  for (const auto& s : segments) total += s.iov_len;
  if (write_queued() + total > options_.write_buffer_limit) {
    ++counters_.send_refused;
    return false;
  }
  if (wend_ + total > options_.write_buffer_limit) {
    // Compacting moves the bytes of a pending SSL_write; the context allows
    // that (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER).
    std::memmove(wbuf_.get(), wbuf_.get() + wbeg_, wend_ - wbeg_);
    wend_ -= wbeg_;
    wbeg_ = 0;
  }
  for (const auto& s : segments) {
    if (s.iov_len == 0) continue;
    std::memcpy(wbuf_.get() + wend_, s.iov_base, s.iov_len);
    wend_ += s.iov_len;
  }
  ++counters_.messages_out;
  return true;
}

bool StreamConnection::queue(std::string_view message) {
  const iovec segment{const_cast<char*>(message.data()), message.size()};
  return queue(std::span<const iovec>(&segment, 1));
}

bool StreamConnection::queue_control(std::string_view bytes) {
  if (!queue(bytes)) return false;
  --counters_.messages_out;  // keepalives are not messages
  return true;
}

bool StreamConnection::send(std::span<const iovec> segments, Millis now) {
  if (!queue(segments)) return false;
  flush(now);
  return true;
}

bool StreamConnection::send(std::string_view message, Millis now) {
  if (!queue(message)) return false;
  flush(now);
  return true;
}

bool StreamConnection::send_ping(Millis now) {
  if (state_ != StreamState::up || !queue_control(kPing)) return false;
  ++counters_.pings_out;
  flush(now);
  return true;
}

void StreamConnection::flush(Millis now) {
  if (state_ != StreamState::up || wend_ == wbeg_) return;
  if (ssl_ != nullptr) {
    flush_tls(now);
  } else {
    flush_tcp(now);
  }
  if (wbeg_ == wend_) wbeg_ = wend_ = 0;
}

void StreamConnection::flush_tls(Millis /*now*/) {
  while (wbeg_ < wend_ && !write_wants_read_ && state_ == StreamState::up) {
    const int len = pending_write_ != 0 ? pending_write_ : clamp_int(std::min(wend_ - wbeg_, kMaxRecordPlaintext));
    ERR_clear_error();
    const int n = SSL_write(ssl_, wbuf_.get() + wbeg_, len);
    if (n > 0) {
      pending_write_ = 0;
      wbeg_ += static_cast<std::size_t>(n);
      counters_.bytes_out += static_cast<std::uint64_t>(n);
      ++counters_.records_written;
      continue;
    }
    const int error = SSL_get_error(ssl_, n);
    if (error == SSL_ERROR_WANT_WRITE) {
      pending_write_ = len;
      return;
    }
    if (error == SSL_ERROR_WANT_READ) {
      pending_write_ = len;
      write_wants_read_ = true;
      return;
    }
    fail_tls(error, CloseReason::io_error);
  }
}

void StreamConnection::flush_tcp(Millis /*now*/) {
  while (wbeg_ < wend_) {
    ++counters_.write_calls;
    const ssize_t n = ::send(fd_, wbuf_.get() + wbeg_, wend_ - wbeg_, MSG_NOSIGNAL);
    if (n > 0) {
      wbeg_ += static_cast<std::size_t>(n);
      counters_.bytes_out += static_cast<std::uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    close(errno == EPIPE ? CloseReason::peer_closed : CloseReason::io_error, std::strerror(errno));
    return;
  }
}

void StreamConnection::close(CloseReason reason, std::string_view detail) {
  if (state_ == StreamState::closed) return;
  const bool orderly = reason == CloseReason::local || reason == CloseReason::keepalive_timeout ||
                       reason == CloseReason::connect_timeout || reason == CloseReason::framing_error;
  if (ssl_ != nullptr && state_ == StreamState::up && orderly) {
    // One non-blocking attempt to send close_notify; whether it leaves
    // does not matter to us.
    ERR_clear_error();
    SSL_shutdown(ssl_);
    ERR_clear_error();
  }
  state_ = StreamState::closed;
  close_reason_ = reason;
  close_detail_.assign(detail);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  bio_target_.fd = -1;
  wbeg_ = wend_ = 0;
  pending_write_ = 0;
  input_pending_ = false;
}

}  // namespace sigrelay::tls
