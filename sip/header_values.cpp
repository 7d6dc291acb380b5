#include "sip/header_values.hpp"

#include <cstring>

#include "sip/chars.hpp"

namespace sigrelay::sip {
namespace {

using detail::Folded;
using detail::skip;

std::string_view span(const char* begin, const char* end) {
  return {begin, static_cast<std::size_t>(end - begin)};
}

// A cursor over one header value. Folded line breaks (CRLF WSP) are linear
// whitespace here: the message parser already guaranteed that every CRLF
// inside a value is followed by SP or HT.
struct Cursor {
  const char* p;
  const char* end;
  const char* limit;  // readable up to here (>= end); see detail::skip_within()

  explicit Cursor(std::string_view s) : p(s.data()), end(s.data() + s.size()), limit(end) {}
  Cursor(std::string_view s, const char* readable_end) : Cursor(s) {
    if (readable_end != nullptr && readable_end > limit) limit = readable_end;
  }

  bool done() const { return p == end; }
  char peek() const { return p < end ? *p : '\0'; }
  // Most separators have no whitespace around them: one test decides that.
  static const char* past_lws(const char* q, const char* end) {
    return q != end && is_lws(*q) ? skip<detail::kLws>(q + 1, end) : q;
  }
  void skip_lws() { p = past_lws(p, end); }
  // SWS c SWS; the cursor stays put when `c` is not next.
  bool eat_sep(char c) {
    const char* q = p != end && *p == c ? p : past_lws(p, end);
    if (q == end || *q != c) return false;
    p = past_lws(q + 1, end);
    return true;
  }
  std::string_view token() {
    const char* start = p;
    p = skip<detail::kToken>(p, end);  // params names are short: scalar is cheaper
    return span(start, p);
  }
  // quoted-string with quoted-pair; returns false when unterminated.
  bool quoted_string() {
    if (peek() != '"') return false;
    ++p;
    for (;;) {
      p = detail::find_either(p, end, '"', '\\');
      if (p == end) return false;
      if (*p == '"') {
        ++p;
        return true;
      }
      // A backslash quotes the next byte, whatever it is.
      if (end - p < 2) return false;
      p += 2;
    }
  }
  // gen-value = token / host / quoted-string; also accepts the bracketed and
  // colon forms that IPv6 received= values take in the field (RFC 5118 §4.5).
  bool gen_value() {
    if (peek() == '"') return quoted_string();
    const char* start = p;
    p = detail::skip_within<detail::kGenValue>(p, end, limit);
    return p > start;
  }
  // *( SEMI generic-param ); leaves the cursor after the last param.
  // Returns false on an empty or malformed param (e.g. ";;"). Each param is
  // handed to `capture(name, value)` on the way (one pass, no rescans); a
  // param without a value gives an empty view with no data.
  template <class Capture>
  bool params(std::string_view& raw, Capture&& capture) {
    const char* first = nullptr;
    const char* last = p;
    while (eat_sep(';')) {
      if (first == nullptr) first = p;
      const auto name = token();
      if (name.empty()) return false;
      std::string_view value;
      if (eat_sep('=')) {
        const char* value_start = p;
        if (!gen_value()) return false;
        value = span(value_start, p);
      }
      capture(name, value);
      last = p;
    }
    raw = first == nullptr ? std::string_view{} : span(first, last);
    return true;
  }
};

// Keeps the value of the first param named `lit` (any case); the caller has
// checked that the name has the literal's length.
template <std::size_t N>
void capture_first(std::string_view name, std::string_view value, const Folded<N>& lit, std::string_view& out,
                   bool& present) {
  if (!present && lit.matches(name.data())) {
    out = value;
    present = true;
  }
}

// trim_lws() as a pair of pointers; values rarely have any LWS left to trim.
void trim(const char*& b, const char*& e) {
  if (b != e && is_lws(*b)) b = skip<detail::kLws>(b + 1, e);
  while (e > b && is_lws(e[-1])) --e;
}

}  // namespace

std::string_view trim_lws(std::string_view s) {
  const char* b = s.data();
  const char* e = b + s.size();
  trim(b, e);
  return s.substr(static_cast<std::size_t>(b - s.data()), static_cast<std::size_t>(e - b));
}

std::optional<std::uint32_t> parse_uint(std::string_view value, std::uint32_t max) {
  // The usual value: 1 to 9 digits and nothing else, so no LWS to trim and
  // no overflow; anything else takes the general path below.
  if (value.size() - 1 < 9) {
    std::uint32_t n = 0;
    std::size_t i = 0;
    for (; i < value.size(); ++i) {
      const auto d = static_cast<unsigned>(static_cast<unsigned char>(value[i])) - unsigned{'0'};
      if (d > 9) break;
      n = n * 10 + d;
    }
    if (i == value.size()) return n <= max ? std::optional<std::uint32_t>(n) : std::nullopt;
  }
  const char* p = value.data();
  const char* end = p + value.size();
  trim(p, end);
  if (p == end) return std::nullopt;
  std::uint64_t n = 0;
  for (; p != end; ++p) {
    const auto d = static_cast<unsigned>(static_cast<unsigned char>(*p)) - unsigned{'0'};
    if (d > 9) return std::nullopt;
    n = n * 10 + d;
    if (n > max) return std::nullopt;
  }
  return static_cast<std::uint32_t>(n);
}

bool parse_cseq(std::string_view value, CSeq& out) {
  Cursor c(value);
  c.skip_lws();
  std::uint64_t n = 0;
  const char* digits = c.p;
  while (!c.done() && is_digit(*c.p)) {
    n = n * 10 + static_cast<std::uint64_t>(*c.p - '0');
    if (n > 0xffffffffULL) return false;  // RFC 3261 §8.1.1.5: less than 2**31 when sent, 32 bits on receipt
    ++c.p;
  }
  if (c.p == digits || c.done() || !is_lws(*c.p)) return false;
  c.skip_lws();
  const auto method = c.token();
  if (method.empty()) return false;
  c.skip_lws();
  if (!c.done()) return false;
  out.number = static_cast<std::uint32_t>(n);
  out.method = method;
  out.method_id = classify_method(method);
  return true;
}

bool detail::valid_call_id_within(std::string_view value, const char* readable_end) {
  // word [ "@" word ]; '@' is not a word character, so one scan finds it.
  const char* start = value.data();
  const char* end = start + value.size();
  const char* limit = readable_end != nullptr && readable_end > end ? readable_end : end;
  trim(start, end);
  const char* p = detail::skip_within<detail::kWord>(start, end, limit);
  if (p == start) return false;
  if (p == end) return true;
  if (*p != '@') return false;
  const char* host = p + 1;
  p = detail::skip_within<detail::kWord>(host, end, limit);
  return p > host && p == end;
}

bool valid_call_id(std::string_view value) { return detail::valid_call_id_within(value, nullptr); }

bool ViaList::next(Via& out) {
  if (error_) return false;
  Cursor c(rest_, limit_);
  c.skip_lws();
  if (!first_) {
    if (c.done()) return false;
    if (*c.p != ',') {
      error_ = true;
      return false;
    }
    ++c.p;
    c.skip_lws();
  } else if (c.done()) {
    error_ = true;  // an empty Via value
    return false;
  }
  first_ = false;
  detail::reset(out);
  const char* start = c.p;
  // sent-protocol = protocol-name SLASH protocol-version SLASH transport,
  // nearly always spelled "SIP/2.0/" and a transport.
  if (c.end - c.p >= 8 && Folded("sip/2.0/").matches(c.p)) {
    c.p = Cursor::past_lws(c.p + 8, c.end);
  } else {
    const auto name = c.token();
    if (name.empty() || !c.eat_sep('/')) return error_ = true, false;
    const auto version = c.token();
    if (version.empty() || !c.eat_sep('/')) return error_ = true, false;
    if (name.size() != 3 || !Folded("sip").matches(name.data())) return error_ = true, false;
  }
  const auto transport = c.token();
  if (transport.empty()) return error_ = true, false;
  out.protocol = span(start, c.p);
  out.transport = transport;
  // LWS sent-by
  if (c.done() || !is_lws(*c.p)) return error_ = true, false;
  c.skip_lws();
  // sent-by = host [ COLON port ], and COLON = SWS ":" SWS (RFC 3261
  // §25.1): "host:5060", "host : 5060" and "host: 5060" are all one sent-by
  // (the last is §20.42's own example). The host is found first, the port after.
  HostPort hp;
  const char* host_end = detail::host_at(c.p, c.end, hp);
  if (host_end == nullptr) return error_ = true, false;
  c.p = host_end;
  if (c.eat_sep(':')) {
    std::uint32_t port = 0;
    std::size_t digits = 0;
    while (!c.done() && is_digit(*c.p) && digits < 6) {
      port = port * 10 + static_cast<std::uint32_t>(*c.p - '0');
      ++digits;
      ++c.p;
    }
    if (digits == 0 || digits > 5 || port > 65535) return error_ = true, false;
    hp.port = static_cast<std::uint16_t>(port);
    hp.has_port = true;
  }
  out.host = hp.host;
  out.port = hp.port;
  out.has_port = hp.has_port;
  bool has_received = false;
  bool has_maddr = false;
  bool has_ttl = false;
  const auto capture = [&](std::string_view pname, std::string_view value) {
    switch (pname.size()) {
      case 3: capture_first(pname, value, Folded("ttl"), out.ttl, has_ttl); break;
      case 5:
        capture_first(pname, value, Folded("rport"), out.rport, out.has_rport);
        capture_first(pname, value, Folded("maddr"), out.maddr, has_maddr);
        break;
      case 6: capture_first(pname, value, Folded("branch"), out.branch, out.has_branch); break;
      case 8: capture_first(pname, value, Folded("received"), out.received, has_received); break;
      default: break;
    }
  };
  if (!c.params(out.params, capture)) return error_ = true, false;
  out.text = span(start, c.p);
  if (out.has_branch && out.branch.empty()) return error_ = true, false;
  rest_ = span(c.p, c.end);
  // Anything but a comma or the end after the params is malformed, and a
  // comma must be followed by another via-parm.
  c.skip_lws();
  if (c.done()) return true;
  if (*c.p != ',') return error_ = true, false;
  ++c.p;
  c.skip_lws();
  if (c.done()) return error_ = true, false;  // trailing comma
  return true;
}

namespace {

// One name-addr / addr-spec with its params, starting at the cursor (LWS
// skipped) and ending after the last param; the caller checks what follows.
// The fields are stored once at the end; on failure the caller clears `out`.
template <bool validate_uri = true>
bool name_addr_at(Cursor& c, NameAddr& out, bool allow_star) {
  c.skip_lws();
  const char* start = c.p;
  if (allow_star && c.peek() == '*') {
    detail::reset(out);
    ++c.p;
    out.star = true;
    out.text = span(start, c.p);
    return true;
  }
  std::string_view display;
  if (c.peek() == '"') {
    if (!c.quoted_string()) return false;
    display = span(start, c.p);
    c.skip_lws();
    if (c.peek() != '<') return false;
  } else if (c.peek() != '<') {
    // Either "token LWS token <uri>" (display name) or a bare addr-spec.
    const char* j = c.p;
    const char* display_end = j;
    while (j < c.end && detail::has(*j, detail::kToken | detail::kLws)) {
      if (!is_lws(*j)) display_end = j + 1;
      ++j;
    }
    if (j < c.end && *j == '<') {
      // RFC 4475 §3.1.1.6 shows "caller<sip:...>" in the field: accepted.
      display = span(c.p, display_end);
      c.p = j;
    }
  }
  const bool bracketed = c.peek() == '<';
  if (!validate_uri) {
    const char* uri_start = bracketed ? c.p + 1 : c.p;
    const char* uri_end = uri_start;
    if (bracketed) {
      uri_end = detail::find_within(uri_start, c.end, c.limit, '>');
      if (uri_end == nullptr) return false;
      c.p = uri_end + 1;
    } else {
      while (uri_end < c.end && !detail::has(*uri_end, detail::kAddrSpecEnd)) {
        if (*uri_end == '?') return false;
        ++uri_end;
      }
      c.p = uri_end;
    }
    out.uri_text = span(uri_start, uri_end);
    detail::reset(out.uri);
    out.uri.text = out.uri_text;
  } else if (bracketed) {
    // No part of a URI holds '>', so the URI parse stops right at the one
    // that closes it, if the URI is valid.
    const char* uri_end = detail::parse_uri_prefix(++c.p, c.end, out.uri);
    if (uri_end == nullptr || uri_end == c.end || *uri_end != '>') return false;
    out.uri_text = out.uri.text;
    c.p = uri_end + 1;
  } else {
    // addr-spec: ends at the first ';' (header params follow), ',' or LWS.
    // A '?' would make it ambiguous; RFC 3261 §20 requires <> then.
    const char* uri_end = c.p;
    while (uri_end < c.end && !detail::has(*uri_end, detail::kAddrSpecEnd)) {
      if (*uri_end == '?') return false;
      ++uri_end;
    }
    out.uri_text = span(c.p, uri_end);
    c.p = uri_end;
    if (!parse_uri(out.uri_text, out.uri)) return false;
  }
  std::string_view tag;
  bool has_tag = false;
  const auto capture = [&](std::string_view pname, std::string_view value) {
    if (pname.size() == 3) capture_first(pname, value, Folded("tag"), tag, has_tag);
  };
  if (!c.params(out.params, capture)) return false;
  out.text = span(start, c.p);
  out.display = display;
  out.tag = tag;
  out.has_tag = has_tag;
  out.bracketed = bracketed;
  out.star = false;
  return true;
}

}  // namespace

bool parse_name_addr(std::string_view value, NameAddr& out, bool allow_star) {
  return detail::parse_name_addr_within(value, out, allow_star, nullptr);
}

bool detail::parse_name_addr_within(std::string_view value, NameAddr& out, bool allow_star, const char* readable_end) {
  Cursor c(value, readable_end);
  if (name_addr_at(c, out, allow_star)) {
    c.skip_lws();
    if (c.done()) return true;
  }
  detail::reset(out);  // no half-parsed fields on failure
  return false;
}

bool detail::bound_name_addr(std::string_view value, NameAddr& out, const char* readable_end) {
  Cursor c(value, readable_end);
  if (name_addr_at<false>(c, out, false)) {
    c.skip_lws();
    if (c.done()) return true;
  }
  detail::reset(out);
  return false;
}

bool NameAddrList::next(NameAddr& out) {
  if (error_) return false;
  Cursor c(rest_, limit_);
  c.skip_lws();
  if (!first_) {
    if (c.done()) return false;
    if (*c.p != ',') return error_ = true, false;
    ++c.p;
  } else if (c.done()) {
    return error_ = true, false;  // an empty list
  }
  const bool first = first_;
  first_ = false;
  if (name_addr_at(c, out, allow_star_)) {
    c.skip_lws();
    // Contact = STAR / (contact-param *(COMMA contact-param)): a '*' stands alone.
    if (out.star && !(first && c.done())) {
      detail::reset(out);
      return error_ = true, false;
    }
    if (c.done() || *c.p == ',') {
      rest_ = span(c.p, c.end);
      return true;
    }
  }
  detail::reset(out);  // no half-parsed fields on failure
  error_ = true;
  return false;
}

}  // namespace sigrelay::sip
