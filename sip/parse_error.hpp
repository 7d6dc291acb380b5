// The stable outcome codes of parsing. Values never change meaning once
// released: counters, logs and sigrelay-inspect output are keyed by them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sip/header_id.hpp"

namespace sigrelay::sip {

enum class ParseError : std::uint8_t {
  ok = 0,
  empty,                            // nothing but whitespace
  bad_line_ending,                  // bare LF or CR where CRLF is required
  bad_start_line,                   // neither a request line nor a status line
  bad_method,                       // method is not a token
  bad_request_uri,                  // Request-URI does not parse as an absolute URI
  bad_sip_version,                  // not "SIP/" DIGIT+ "." DIGIT+
  unsupported_sip_version,          // well formed, but not SIP/2.0 (answer 505)
  bad_status_code,                  // not exactly three digits 100..699
  bad_reason_phrase,                // control characters in the reason phrase
  bad_header_line,                  // no colon, header name not a token, stray continuation
  too_many_headers,                 // more header fields than the caller's array holds
  missing_header_terminator,        // no empty line ends the header section
  missing_header,                   // a mandatory header is absent (see ParseResult::header)
  duplicate_header,                 // a single-value header occurs twice (see ParseResult::header)
  invalid_header_value,             // a header the relay uses does not parse (see ParseResult::header)
  cseq_method_mismatch,             // CSeq method differs from the request method
  content_length_exceeds_datagram,  // UDP datagram ends before the body does (RFC 3261 §18.3)
  message_too_large,                // larger than the configured maximum
};

struct ParseResult {
  ParseError error = ParseError::ok;
  HeaderId header = HeaderId::none;  // the header concerned, for the header-specific errors
  std::uint32_t offset = 0;          // byte offset where the problem was found
  // A request whose start line and Via/From/To/Call-ID/CSeq headers were all
  // located: enough to build a response (RFC 3261 §8.2.6) such as 400 or 505.
  bool respondable = false;

  constexpr bool ok() const { return error == ParseError::ok; }
  constexpr explicit operator bool() const { return ok(); }
};

// Short, fixed name of the code: "invalid_header_value". Never allocates.
std::string_view to_string(ParseError e);

// Human sentence for logs and tools: "invalid CSeq", "missing Call-ID",
// "Content-Length exceeds datagram". Allocates; not for the data path.
std::string describe(const ParseResult& r);

}  // namespace sigrelay::sip
