#include "sip/parse_error.hpp"

namespace sigrelay::sip {

std::string_view to_string(ParseError e) {
  switch (e) {
    case ParseError::ok: return "ok";
    case ParseError::empty: return "empty";
    case ParseError::bad_line_ending: return "bad_line_ending";
    case ParseError::bad_start_line: return "bad_start_line";
    case ParseError::bad_method: return "bad_method";
    case ParseError::bad_request_uri: return "bad_request_uri";
    case ParseError::bad_sip_version: return "bad_sip_version";
    case ParseError::unsupported_sip_version: return "unsupported_sip_version";
    case ParseError::bad_status_code: return "bad_status_code";
    case ParseError::bad_reason_phrase: return "bad_reason_phrase";
    case ParseError::bad_header_line: return "bad_header_line";
    case ParseError::too_many_headers: return "too_many_headers";
    case ParseError::missing_header_terminator: return "missing_header_terminator";
    case ParseError::missing_header: return "missing_header";
    case ParseError::duplicate_header: return "duplicate_header";
    case ParseError::invalid_header_value: return "invalid_header_value";
    case ParseError::cseq_method_mismatch: return "cseq_method_mismatch";
    case ParseError::content_length_exceeds_datagram: return "content_length_exceeds_datagram";
    case ParseError::message_too_large: return "message_too_large";
  }
  return "unknown";
}

std::string describe(const ParseResult& r) {
  const std::string name(header_name(r.header));
  switch (r.error) {
    case ParseError::ok: return "valid";
    case ParseError::empty: return "empty message";
    case ParseError::bad_line_ending: return "line not terminated by CRLF";
    case ParseError::bad_start_line: return "malformed start line";
    case ParseError::bad_method: return "invalid method";
    case ParseError::bad_request_uri: return "invalid Request-URI";
    case ParseError::bad_sip_version: return "invalid SIP version";
    case ParseError::unsupported_sip_version: return "unsupported SIP version";
    case ParseError::bad_status_code: return "invalid status code";
    case ParseError::bad_reason_phrase: return "invalid reason phrase";
    case ParseError::bad_header_line: return "malformed header line";
    case ParseError::too_many_headers: return "too many headers";
    case ParseError::missing_header_terminator: return "headers not terminated by an empty line";
    case ParseError::missing_header: return "missing " + name;
    case ParseError::duplicate_header: return "multiple " + name + " headers";
    case ParseError::invalid_header_value: return "invalid " + name;
    case ParseError::cseq_method_mismatch: return "CSeq method does not match request method";
    case ParseError::content_length_exceeds_datagram: return "Content-Length exceeds datagram";
    case ParseError::message_too_large: return "message too large";
  }
  return "unknown error";
}

}  // namespace sigrelay::sip
