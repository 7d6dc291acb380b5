// Header names known to the relay, with their RFC compact forms.
#pragma once

#include <cstdint>
#include <string_view>

namespace sigrelay::sip {

enum class HeaderId : std::uint8_t {
  none = 0,   // not a header (used in ParseResult when no header is concerned)
  other,      // any header the relay does not interpret
  via,              // v
  call_id,          // i
  content_length,   // l
  from,             // f
  to,               // t
  contact,          // m
  supported,        // k
  subject,          // s
  content_type,     // c
  content_encoding, // e
  event,            // o
  allow_events,     // u
  refer_to,         // r
  session_expires,  // x
  referred_by,      // b
  identity,         // y (RFC 8224)
  accept_contact,   // a (RFC 3841)
  reject_contact,   // j
  request_disposition,  // d
  cseq,
  max_forwards,
  route,
  record_route,
  require,
  proxy_require,
  p_asserted_identity,
  diversion,
  history_info,
  reason,
  expires,
  count_  // number of ids; keep last
};

// Classifies a header name (full or compact form, any letter case).
HeaderId classify_header(std::string_view name);

// The canonical full name ("Call-ID") used when the relay writes a header.
std::string_view header_name(HeaderId id);

}  // namespace sigrelay::sip
