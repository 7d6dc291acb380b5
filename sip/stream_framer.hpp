// Finds message boundaries in a TCP/TLS byte stream (RFC 3261 §18.3): the
// header section ends at the first empty line and the body is exactly
// Content-Length bytes. CRLF keepalives (RFC 5626 §3.5.1) between messages are
// reported as pings ("\r\n\r\n") and pongs ("\r\n").
//
// The framer does not own bytes: the caller passes everything it has buffered
// and not yet consumed, and drops `length` bytes after each complete frame.
// It remembers how far it has scanned, so feeding a message one byte at a
// time costs O(n) overall, not O(n^2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sip/parse_error.hpp"

namespace sigrelay::sip {

class StreamFramer {
 public:
  enum class Kind : std::uint8_t {
    need_more,  // no complete frame yet: read more bytes
    message,    // a SIP message of `length` bytes starts at offset 0
    ping,       // "\r\n\r\n": answer with a pong
    pong,       // "\r\n": the peer answered our ping
    error,      // the stream cannot be framed: answer 400 if possible and close
  };
  struct Frame {
    Kind kind = Kind::need_more;
    std::size_t length = 0;      // bytes to consume for message/ping/pong
    ParseResult error{};         // for Kind::error
  };

  // `lone_crlf_is_pong`: on a connection where we send pings (the upstream
  // leg) a lone CRLF is a pong at once; where the peer pings us, a lone CRLF
  // may be the first half of a ping, so the framer waits for more.
  explicit StreamFramer(std::uint32_t max_message_size = 65535, bool lone_crlf_is_pong = false)
      : max_message_size_(max_message_size), lone_crlf_is_pong_(lone_crlf_is_pong) {}

  Frame next(std::string_view buffered);

  // Forget scan progress (e.g. after the caller discarded its buffer).
  void reset() {
    scanned_ = 0;
    total_ = 0;
  }

 private:
  Frame frame_error(ParseError e, HeaderId h, std::size_t offset);

  std::uint32_t max_message_size_;
  bool lone_crlf_is_pong_;
  std::size_t scanned_ = 0;  // bytes examined while looking for the empty line
  std::size_t total_ = 0;    // once known: header section + Content-Length
};

}  // namespace sigrelay::sip
