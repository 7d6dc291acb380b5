// The parsed view of one SIP message. parse_message() never allocates and
// never reads outside the given bytes; every field is a view into them, so the
// message must outlive the view. Header fields land in a caller-supplied array.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "sip/header_id.hpp"
#include "sip/header_values.hpp"
#include "sip/method.hpp"
#include "sip/parse_error.hpp"
#include "sip/uri.hpp"

namespace sigrelay::sip {

struct Header {
  std::string_view name;   // as written (full or compact form)
  std::string_view value;  // without surrounding whitespace; folded lines stay inside
  std::string_view line;   // the whole field: name through the CRLF that ends it
  HeaderId id = HeaderId::other;
};

// How much of a message is checked against the grammar.
enum class ParseDepth : std::uint8_t {
  // Every key field and every value listed in docs/sip-parser.md: every
  // via-parm of every Via, the From, To and every Contact URI. What
  // sigrelay-inspect, the simulator and the corpus tests use.
  full = 0,
  // What a relay reads, validated as in `full`: the start line and
  // Request-URI, the top via-parm, Call-ID, CSeq, the From and To tags,
  // Max-Forwards, Content-Length. The From and To URIs are only bounded (so
  // the tag after them is found), Contact values and the via-parms below the
  // top one are left unchecked (via_count is then 1), as a proxy that parses
  // headers on demand does. Every message `full` accepts, `relay` accepts
  // with the same key fields, except from.uri and to.uri, which then hold
  // only their text.
  relay,
};

// Leniencies are named and off by default; each one accepts something that
// real equipment sends but the RFC 3261 grammar does not allow.
struct ParseOptions {
  // UDP: one datagram is one message, Content-Length is optional and bytes
  // beyond the body are ignored. Stream (TCP/TLS): the framer delivers
  // exactly one message and Content-Length is mandatory (RFC 3261 §18.3).
  bool datagram = true;
  bool allow_bare_lf = false;              // accept LF without CR as a line ending
  bool allow_extra_request_line_spaces = false;  // RFC 4475 §3.1.2.9/10
  std::uint32_t max_message_size = 65535;
  ParseDepth depth = ParseDepth::full;
};

struct Message {
  std::string_view bytes;       // start line through the end of the body
  bool is_request = false;
  // Request line.
  std::string_view method;
  Method method_id = Method::unknown;
  std::string_view request_uri_text;
  Uri request_uri;
  // Status line.
  std::uint16_t status = 0;
  std::string_view reason;
  std::string_view version;     // "SIP/2.0"

  std::span<Header> headers;    // the fields in order, inside the caller's array
  std::string_view header_block;  // first header line through the empty line
  std::string_view body;

  // Key fields, located and validated during parsing.
  std::string_view call_id;
  CSeq cseq;
  Via top_via;
  std::uint16_t via_count = 0;  // via-parms across all Via headers
  NameAddr from;
  NameAddr to;
  int max_forwards = -1;        // -1 when absent
  std::uint32_t content_length = 0;
  bool has_content_length = false;

  // First header with this id, or nullptr.
  const Header* find(HeaderId id) const;
  // First header with this name (full or compact, any case), or nullptr.
  const Header* find(std::string_view name) const;
};

ParseResult parse_message(std::string_view bytes, Message& out, std::span<Header> header_storage,
                          const ParseOptions& opts = {});

// A message with its own header array, for callers that do not pool them.
template <std::size_t MaxHeaders = 64>
struct MessageWithHeaders {
  Message msg;
  Header storage[MaxHeaders];
  ParseResult parse(std::string_view bytes, const ParseOptions& opts = {}) {
    return parse_message(bytes, msg, storage, opts);
  }
};

}  // namespace sigrelay::sip
