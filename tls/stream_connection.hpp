// One SIP connection over TCP or TLS on a non-blocking socket, client or
// server side. It is driven by its owner's event loop: no threads, no
// blocking calls, no allocation once constructed. The owner watches fd()
// for readability always and for writability while wants_write() is true,
// and calls on_readable()/on_writable() when the socket is ready (on
// EPOLLERR/EPOLLHUP, call both).
//
//   connecting ──connected──► handshaking ──handshake done──► up ──► closed
//        │  (plain TCP skips handshaking)        │                   ▲
//        └──────── any failure ──────────────────┴───────────────────┘
//
// Incoming bytes are framed as SIP over a stream (RFC 3261 §18.3, by
// Content-Length); each complete message goes to the on_message handler as a
// view that is valid only during the call. CRLF keepalives (RFC 5626 §3.5.1)
// are handled here: a ping ("\r\n\r\n") is answered with a pong ("\r\n"), a
// pong is noted (last_pong()).
//
// Outgoing messages are copied into a bounded write buffer (queue()) and
// written by flush(): for TLS in SSL_writes of up to 16 KB, each one TLS
// record and normally one send() call, so a batch of messages queued
// together leaves in as few records and system calls as possible.
//
// Threading: one instance belongs to one thread. The on_message handler may
// queue()/send() on this connection or close() it, but must not destroy it.
#pragma once

#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "sip/stream_framer.hpp"
#include "tls/tls_context.hpp"

namespace sigrelay::tls {

using Millis = std::chrono::milliseconds;

enum class StreamRole : std::uint8_t { client, server };

enum class StreamState : std::uint8_t { connecting, handshaking, up, closed };

// Why a connection closed. Stable values: counters are keyed by them.
enum class CloseReason : std::uint8_t {
  none = 0,
  local,              // the owner called close()
  connect_failed,     // TCP connect refused, unreachable, reset
  connect_timeout,    // the owner gave up waiting for connect + handshake
  handshake_failed,   // TLS handshake or certificate verification failed (see tls_failure())
  peer_closed,        // orderly close by the peer: FIN, or TLS close_notify
  io_error,           // socket error or TLS failure after the handshake
  framing_error,      // the peer's bytes are not SIP over a stream (RFC 3261 §18.3)
  keepalive_timeout,  // the owner got no answer to a CRLF ping
  setup_failed,       // the TLS session could not be created (out of memory, bad peer name)
};
inline constexpr std::size_t kCloseReasonCount = 10;

std::string_view to_string(StreamState s);
// Short, fixed name: "handshake_failed". Never allocates.
std::string_view to_string(CloseReason r);
// Words for logs: "TLS handshake failed". Never allocates.
std::string_view describe(CloseReason r);

struct StreamOptions {
  std::uint32_t max_message_size = 65535;
  // Bytes queued and not yet accepted by the socket; queue() refuses what
  // does not fit. Allocated once, up front.
  std::size_t write_buffer_limit = 256 * 1024;
  // Bytes read per on_readable() before handing control back to the event
  // loop; see input_pending().
  std::size_t read_budget = 256 * 1024;
};

// Per connection, written only by its owner thread.
struct StreamCounters {
  std::uint64_t bytes_in = 0;      // SIP bytes received (after TLS decryption)
  std::uint64_t bytes_out = 0;     // SIP bytes handed to the socket or to SSL_write
  std::uint64_t messages_in = 0;   // complete messages delivered to on_message
  std::uint64_t messages_out = 0;  // messages accepted by queue()/send()
  std::uint64_t pings_in = 0;      // "\r\n\r\n" received
  std::uint64_t pongs_in = 0;      // "\r\n" received
  std::uint64_t pings_out = 0;
  std::uint64_t pongs_out = 0;
  std::uint64_t read_calls = 0;       // recv() system calls
  std::uint64_t write_calls = 0;      // send() system calls
  std::uint64_t records_written = 0;  // TLS records (successful SSL_writes); 0 for plain TCP
  std::uint64_t send_refused = 0;     // queue() calls refused because the write buffer was full
};

class StreamConnection {
 public:
  using MessageHandler = std::function<void(std::string_view message)>;

  struct Params {
    int fd = -1;  // connected, connecting or accepted; owned from now on
    StreamRole role = StreamRole::client;
    ssl_ctx_st* tls = nullptr;         // nullptr: plain TCP
    std::string_view peer_name;        // client TLS: name to verify and send as SNI
    bool connect_in_progress = false;  // connect() returned EINPROGRESS
    StreamOptions options{};
    MessageHandler on_message;
  };

  // Sets the socket non-blocking. If the TLS session cannot be created the
  // connection starts closed with CloseReason::setup_failed.
  StreamConnection(Params params, Millis now);
  ~StreamConnection();  // closes the socket
  StreamConnection(const StreamConnection&) = delete;
  StreamConnection& operator=(const StreamConnection&) = delete;

  void on_readable(Millis now);
  void on_writable(Millis now);
  bool wants_write() const;
  // The read budget ran out with bytes possibly still inside OpenSSL, where
  // epoll cannot see them: call on_readable() again without waiting.
  bool input_pending() const { return input_pending_; }

  // Append one message (gathered from segments) to the write buffer; false
  // when closed or when it does not fit (counted in send_refused). Queued
  // bytes are written by flush(); before the connection is up they wait.
  bool queue(std::span<const iovec> segments);
  bool queue(std::string_view message);
  // queue() then flush().
  bool send(std::span<const iovec> segments, Millis now);
  bool send(std::string_view message, Millis now);
  void flush(Millis now);
  // A CRLF keepalive ping (RFC 5626 §3.5.1), flushed at once.
  bool send_ping(Millis now);

  // Close now. A TLS session that is up gets a close_notify first (best
  // effort, never waited for). Idempotent.
  void close(CloseReason reason, std::string_view detail = {});

  StreamState state() const { return state_; }
  CloseReason close_reason() const { return close_reason_; }
  const std::string& close_detail() const { return close_detail_; }  // "certificate verify failed: ..."
  TlsFailure tls_failure() const { return tls_failure_; }
  bool is_tls() const { return ssl_ != nullptr; }
  // The OpenSSL session (peer certificate, SNI, session reuse), or nullptr for TCP.
  const ssl_st* native_handle() const { return ssl_; }
  StreamRole role() const { return role_; }
  int fd() const { return fd_; }
  std::string_view tls_version() const;  // "TLSv1.3", empty before the handshake or for TCP
  std::string_view cipher() const;       // "TLS_AES_256_GCM_SHA384"
  std::size_t write_queued() const { return wend_ - wbeg_; }

  Millis opened_at() const { return opened_at_; }
  Millis up_at() const { return up_at_; }
  Millis last_rx() const { return last_rx_; }      // last bytes received (or when it came up)
  Millis last_pong() const { return last_pong_; }  // Millis::min() until a pong arrives
  const StreamCounters& counters() const { return counters_; }

  // The state the custom BIO needs: the socket and the counters to bump.
  struct BioTarget {
    int fd = -1;
    StreamCounters* counters = nullptr;
    bool eof = false;  // a read returned 0
  };

 private:
  bool queue_control(std::string_view bytes);
  void finish_connect(Millis now);
  void mark_up(Millis now);
  void do_handshake(Millis now);
  void read_input(Millis now);
  void deliver(Millis now);
  void flush_tls(Millis now);
  void flush_tcp(Millis now);
  void fail_tls(int ssl_error, CloseReason reason);

  int fd_;
  StreamRole role_;
  ssl_st* ssl_ = nullptr;
  StreamState state_;
  CloseReason close_reason_ = CloseReason::none;
  TlsFailure tls_failure_ = TlsFailure::none;
  std::string close_detail_;
  StreamOptions options_;
  MessageHandler on_message_;
  sip::StreamFramer framer_;
  BioTarget bio_target_;

  std::unique_ptr<char[]> rbuf_;
  std::size_t rcap_ = 0;
  std::size_t rlen_ = 0;
  std::unique_ptr<char[]> wbuf_;
  std::size_t wbeg_ = 0;
  std::size_t wend_ = 0;
  // OpenSSL requires a write that returned WANT_* to be repeated with the
  // same length: this is it, 0 when none is pending.
  int pending_write_ = 0;

  bool handshake_wants_write_ = false;
  bool write_wants_read_ = false;  // SSL_write returned WANT_READ: retry when readable
  bool read_wants_write_ = false;  // SSL_read returned WANT_WRITE: retry when writable
  bool input_pending_ = false;

  Millis opened_at_;
  Millis up_at_ = Millis::min();
  Millis last_rx_;
  Millis last_pong_ = Millis::min();
  StreamCounters counters_;
};

}  // namespace sigrelay::tls
