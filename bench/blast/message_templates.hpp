// The messages sigrelay-blast sends, built once per thread before the run.
// Every per-call field (Via branch, From tag, Call-ID) carries the call's
// sequence number as kSeqDigits hex digits at fixed offsets, so a call's
// INVITE is the template with three 8-byte patches: same length for every
// call, hence one Content-Length and no formatting on the hot path.
//
// Identifiers, for run id R (8 hex), thread t (2 hex) and sequence s (8 hex):
//   Call-ID  R-t-s@<local host>    branch z9hG4bKbRts    From tag Rts
// The Call-ID is what a response is matched by: its fixed-width prefix gives
// thread and sequence number without any lookup.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace sigrelay::blast {

inline constexpr std::size_t kSeqDigits = 8;
inline constexpr std::uint64_t kMaxSeq = 0xffffffffULL;  // what 8 hex digits hold
inline constexpr std::size_t kMaxDatagram = 65000;

struct TemplateParams {
  std::string_view number;       // Request-URI user part
  std::string_view local_host;   // as written in a URI: "192.0.2.1" or "[2001:db8::1]"
  std::uint16_t local_port = 0;
  std::string_view target_host;  // same form
  std::uint16_t target_port = 0;
  bool ipv6 = false;
  std::uint32_t run_id = 0;
  unsigned thread = 0;           // < 256
  std::size_t body_pad = 0;      // extra SDP bytes: 0, or >= kMinPad
};

inline constexpr std::size_t kMinPad = 10;  // one "a=x-pad:" line with its CRLF

// Writes `digits` lowercase hex digits of v (most significant first).
void put_hex(std::uint64_t v, std::size_t digits, char* out);

// Numbers and other user parts we accept: unreserved characters and '+'.
bool valid_user_part(std::string_view s);

class InviteTemplate {
 public:
  // Empty string on success, else why the parameters do not make an INVITE.
  std::string build(const TemplateParams& p);

  std::string_view bytes() const { return text_; }
  std::size_t size() const { return text_.size(); }
  std::size_t body_size() const { return body_size_; }

  // Turns a copy of bytes() into call `seq`'s INVITE in place.
  void stamp(char* copy, std::uint64_t seq) const {
    for (std::uint32_t off : seq_offsets_) put_hex(seq, kSeqDigits, copy + off);
  }

 private:
  std::string text_;
  std::size_t body_size_ = 0;
  std::array<std::uint32_t, 3> seq_offsets_{};
};

// ACKs for the INVITEs of one thread (RFC 3261 §17.1.1.3 for non-2xx: the
// INVITE's Request-URI, its single Via with the same branch, From and
// Call-ID; the To of the response; CSeq 1 ACK. For a 2xx, §13.2.2.4: a new
// transaction, so a new branch, sent to the remote target from the Contact).
class AckTemplate {
 public:
  std::string build(const TemplateParams& p);

  // Writes the ACK for call `seq` into `out`; returns its length, or 0 when
  // it does not fit. `to_value` is the response's To header value (with the
  // tag). For a 2xx pass `two_xx` and the response's first Contact URI
  // (empty: keep the INVITE's Request-URI).
  std::size_t write(std::uint64_t seq, std::string_view to_value, bool two_xx,
                    std::string_view contact_uri, std::span<char> out) const;

 private:
  std::string request_line_;  // "ACK <ruri> SIP/2.0\r\n"
  std::string head_;          // Via through CSeq, seq at seq_offsets_
  std::size_t branch_end_ = 0;  // in head_: where ";rport" follows the branch
  std::array<std::uint32_t, 3> seq_offsets_{};
};

enum class CallIdMatch : std::uint8_t { ours, other_thread, foreign };

// Reads back the sequence number from a Call-ID written by InviteTemplate for
// run `run_id` and thread `thread`.
CallIdMatch decode_call_id(std::string_view call_id, std::uint32_t run_id, unsigned thread,
                           std::uint64_t& seq);

}  // namespace sigrelay::blast
