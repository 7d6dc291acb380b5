// Parsers for the header values the relay reads. Each works on the value
// span of one header (which may contain folded line breaks: CRLF followed by
// whitespace counts as linear whitespace) and yields views into it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "sip/method.hpp"
#include "sip/uri.hpp"

namespace sigrelay::sip {

struct Via {
  std::string_view text;        // this via-parm as written
  std::string_view protocol;    // "SIP/2.0/UDP" is split into name/version/transport
  std::string_view transport;   // "UDP", "TCP", "TLS", "SCTP", or an extension token
  std::string_view host;        // IPv6 references keep their brackets
  std::uint16_t port = 0;
  bool has_port = false;
  std::string_view params;      // raw via-params, without the first ';'
  std::string_view branch;      // empty when absent
  std::string_view received;
  std::string_view maddr;
  std::string_view ttl;
  std::string_view rport;       // value of rport=, empty for a bare ";rport"
  bool has_branch = false;
  bool has_rport = false;
};

// Iterates the comma-separated via-parms of one Via header value.
// Usage: ViaList list(value); Via v; while (list.next(v)) {...}; if (list.error()) ...
// `readable_end`, when given, says the bytes after `value` may be read up to
// there (the message parser passes the message end): scans then go 16
// bytes at a time to the end of the value. Results never depend on it.
class ViaList {
 public:
  explicit ViaList(std::string_view value, const char* readable_end = nullptr)
      : rest_(value), limit_(readable_end) {}
  bool next(Via& out);
  bool error() const { return error_; }

 private:
  std::string_view rest_;
  const char* limit_;
  bool error_ = false;
  bool first_ = true;
};

struct NameAddr {
  std::string_view text;      // the whole name-addr / addr-spec with its params
  std::string_view display;   // as written, quotes included; empty when absent
  std::string_view uri_text;  // inside <...>, or the bare addr-spec
  Uri uri;
  std::string_view params;    // header params after the URI, without the first ';'
  std::string_view tag;       // value of ;tag=
  bool has_tag = false;
  bool bracketed = false;
  bool star = false;          // Contact: *
};

// Parses a single name-addr / addr-spec (From, To, one Contact, one Route entry).
// `allow_star` accepts the Contact wildcard.
bool parse_name_addr(std::string_view value, NameAddr& out, bool allow_star = false);

namespace detail {
// parse_name_addr() without checking the URI against its grammar: the URI
// is only bounded (by '>', or for an addr-spec by ';', ',' or LWS) so that
// the params after it are found and checked. out.uri then holds only its
// text. For the relay parse depth (sip/message.hpp). `readable_end` as for
// ViaList.
bool bound_name_addr(std::string_view value, NameAddr& out, const char* readable_end = nullptr);
// parse_name_addr() and valid_call_id() with a `readable_end` as for ViaList.
bool parse_name_addr_within(std::string_view value, NameAddr& out, bool allow_star, const char* readable_end);
bool valid_call_id_within(std::string_view value, const char* readable_end);
}  // namespace detail

// Iterates a comma-separated list of name-addrs (Contact, Route, Record-Route).
class NameAddrList {
 public:
  explicit NameAddrList(std::string_view value, bool allow_star = false, const char* readable_end = nullptr)
      : rest_(value), limit_(readable_end), allow_star_(allow_star) {}
  bool next(NameAddr& out);
  bool error() const { return error_; }

 private:
  std::string_view rest_;
  const char* limit_;  // as ViaList's readable_end
  bool allow_star_;
  bool error_ = false;
  bool first_ = true;
};

struct CSeq {
  std::uint32_t number = 0;
  std::string_view method;
  Method method_id = Method::unknown;
};

// CSeq = 1*DIGIT LWS Method; the number must fit in 32 bits (RFC 3261 §8.1.1.5).
bool parse_cseq(std::string_view value, CSeq& out);

// 1*DIGIT with optional surrounding LWS, at most `max`. Leading zeros allowed.
std::optional<std::uint32_t> parse_uint(std::string_view value, std::uint32_t max);

// Call-ID = word [ "@" word ] (RFC 3261 §25.1).
bool valid_call_id(std::string_view value);

// Strips leading/trailing linear whitespace (SP, HT, CR, LF).
std::string_view trim_lws(std::string_view s);

}  // namespace sigrelay::sip
