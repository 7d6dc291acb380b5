#include "sip/header_values.hpp"

#include <span>

#include "sip/chars.hpp"

namespace sigrelay::sip {
namespace {

constexpr bool is_lws_char(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// A cursor over one header value. Folded line breaks (CRLF WSP) are linear
// whitespace here: the message parser already guaranteed that every CRLF
// inside a value is followed by SP or HT.
struct Cursor {
  std::string_view s;
  std::size_t i = 0;

  bool done() const { return i >= s.size(); }
  char peek() const { return i < s.size() ? s[i] : '\0'; }
  void skip_lws() {
    while (i < s.size() && is_lws_char(s[i])) ++i;
  }
  // SWS c SWS
  bool eat_sep(char c) {
    const std::size_t save = i;
    skip_lws();
    if (peek() == c) {
      ++i;
      skip_lws();
      return true;
    }
    i = save;
    return false;
  }
  std::string_view token() {
    const std::size_t start = i;
    while (i < s.size() && is_token_char(s[i])) ++i;
    return s.substr(start, i - start);
  }
  // quoted-string with quoted-pair; returns false when unterminated.
  bool quoted_string() {
    if (peek() != '"') return false;
    ++i;
    while (i < s.size()) {
      const char c = s[i];
      if (c == '\\') {
        if (i + 1 >= s.size()) return false;
        i += 2;
        continue;
      }
      ++i;
      if (c == '"') return true;
    }
    return false;
  }
  // gen-value = token / host / quoted-string; also accepts the bracketed and
  // colon forms that IPv6 received= values take in the field (RFC 5118 §4.5).
  bool gen_value() {
    if (peek() == '"') return quoted_string();
    const std::size_t start = i;
    while (i < s.size() && (is_token_char(s[i]) || s[i] == ':' || s[i] == '[' || s[i] == ']')) ++i;
    return i > start;
  }
  // *( SEMI generic-param ); leaves the cursor after the last param.
  // Returns false on an empty or malformed param (e.g. ";;"). The values of
  // the params named in `want` are captured on the way (one pass, no rescans).
  struct Want {
    std::string_view name;
    std::string_view* value;
    bool* present;
  };
  bool params(std::string_view& raw, std::span<const Want> want = {}) {
    std::size_t first = std::string_view::npos;
    std::size_t last = i;
    while (true) {
      const std::size_t save = i;
      if (!eat_sep(';')) {
        i = save;
        break;
      }
      if (first == std::string_view::npos) first = i;
      const auto name = token();
      if (name.empty()) return false;
      const std::size_t after_name = i;
      std::string_view value;
      if (eat_sep('=')) {
        const std::size_t vs = i;
        if (!gen_value()) return false;
        value = s.substr(vs, i - vs);
      } else {
        i = after_name;
      }
      for (const auto& w : want) {
        if (name.size() == w.name.size() && iequals(name, w.name) && !*w.present) {
          *w.value = value;
          *w.present = true;
        }
      }
      last = i;
    }
    raw = first == std::string_view::npos ? std::string_view{} : s.substr(first, last - first);
    return true;
  }
};

}  // namespace

std::string_view trim_lws(std::string_view s) {
  while (!s.empty() && is_lws_char(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_lws_char(s.back())) s.remove_suffix(1);
  return s;
}

std::optional<std::uint32_t> parse_uint(std::string_view value, std::uint32_t max) {
  value = trim_lws(value);
  if (value.empty()) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : value) {
    if (!is_digit(c)) return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
    if (n > max) return std::nullopt;
  }
  return static_cast<std::uint32_t>(n);
}

bool parse_cseq(std::string_view value, CSeq& out) {
  Cursor c{value};
  c.skip_lws();
  std::uint64_t n = 0;
  std::size_t digits = 0;
  while (!c.done() && is_digit(c.peek())) {
    n = n * 10 + static_cast<std::uint64_t>(c.peek() - '0');
    if (n > 0xffffffffULL) return false;  // RFC 3261 §8.1.1.5: less than 2**31 when sent, 32 bits on receipt
    ++digits;
    ++c.i;
  }
  if (digits == 0 || c.done() || !is_lws_char(c.peek())) return false;
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

bool valid_call_id(std::string_view value) {
  value = trim_lws(value);
  const auto at = value.find('@');
  const auto word_ok = [](std::string_view w) {
    if (w.empty()) return false;
    for (char c : w) {
      if (!is_word_char(c)) return false;
    }
    return true;
  };
  if (at == std::string_view::npos) return word_ok(value);
  return word_ok(value.substr(0, at)) && word_ok(value.substr(at + 1));
}

bool ViaList::next(Via& out) {
  if (error_) return false;
  Cursor c{rest_};
  c.skip_lws();
  if (!first_) {
    if (c.done()) return false;
    if (c.peek() != ',') {
      error_ = true;
      return false;
    }
    ++c.i;
    c.skip_lws();
  } else if (c.done()) {
    error_ = true;  // an empty Via value
    return false;
  }
  first_ = false;
  out = Via{};
  const std::size_t start = c.i;
  // sent-protocol = protocol-name SLASH protocol-version SLASH transport
  const auto name = c.token();
  if (name.empty() || !c.eat_sep('/')) return error_ = true, false;
  const auto version = c.token();
  if (version.empty() || !c.eat_sep('/')) return error_ = true, false;
  const auto transport = c.token();
  if (transport.empty() || !iequals(name, "SIP")) return error_ = true, false;
  out.protocol = c.s.substr(start, c.i - start);
  out.transport = transport;
  // LWS sent-by
  if (c.done() || !is_lws_char(c.peek())) return error_ = true, false;
  c.skip_lws();
  HostPort hp;
  // sent-by allows LWS around the port colon ("host : 5060"); collapse it.
  std::size_t used = parse_hostport(c.s.substr(c.i), hp);
  if (used == 0) return error_ = true, false;
  c.i += used;
  if (!hp.has_port) {
    const std::size_t save = c.i;
    if (c.eat_sep(':')) {
      std::uint32_t port = 0;
      std::size_t digits = 0;
      while (!c.done() && is_digit(c.peek()) && digits < 6) {
        port = port * 10 + static_cast<std::uint32_t>(c.peek() - '0');
        ++digits;
        ++c.i;
      }
      if (digits == 0 || digits > 5 || port > 65535) return error_ = true, false;
      hp.port = static_cast<std::uint16_t>(port);
      hp.has_port = true;
    } else {
      c.i = save;
    }
  }
  out.host = hp.host;
  out.port = hp.port;
  out.has_port = hp.has_port;
  bool has_received = false;
  bool has_maddr = false;
  bool has_ttl = false;
  const Cursor::Want want[] = {{"branch", &out.branch, &out.has_branch},
                               {"received", &out.received, &has_received},
                               {"rport", &out.rport, &out.has_rport},
                               {"maddr", &out.maddr, &has_maddr},
                               {"ttl", &out.ttl, &has_ttl}};
  if (!c.params(out.params, want)) return error_ = true, false;
  out.text = c.s.substr(start, c.i - start);
  if (out.has_branch && out.branch.empty()) return error_ = true, false;
  rest_ = c.s.substr(c.i);
  // Anything but a comma or the end after the params is malformed.
  Cursor tail{rest_};
  tail.skip_lws();
  if (!tail.done() && tail.peek() != ',') return error_ = true, false;
  if (!tail.done()) {
    Cursor after{rest_.substr(tail.i + 1)};
    after.skip_lws();
    if (after.done()) return error_ = true, false;  // trailing comma
  }
  return true;
}

namespace {

// One name-addr / addr-spec with its params, starting at the cursor (LWS
// skipped) and ending after the last param; the caller checks what follows.
bool name_addr_at(Cursor& c, NameAddr& out, bool allow_star) {
  out = NameAddr{};
  c.skip_lws();
  const std::size_t start = c.i;
  if (allow_star && c.peek() == '*') {
    ++c.i;
    out.star = true;
    out.text = c.s.substr(start, 1);
    return true;
  }
  std::size_t uri_start = 0;
  std::size_t uri_end = 0;
  if (c.peek() == '"') {
    if (!c.quoted_string()) return false;
    out.display = c.s.substr(start, c.i - start);
    c.skip_lws();
    if (c.peek() != '<') return false;
  } else if (c.peek() != '<') {
    // Either "token LWS token <uri>" (display name) or a bare addr-spec.
    std::size_t j = c.i;
    std::size_t display_end = j;
    while (j < c.s.size() && (is_token_char(c.s[j]) || is_lws_char(c.s[j]))) {
      if (!is_lws_char(c.s[j])) display_end = j + 1;
      ++j;
    }
    if (j < c.s.size() && c.s[j] == '<') {
      // RFC 4475 §3.1.1.6 shows "caller<sip:...>" in the field: accepted.
      out.display = c.s.substr(c.i, display_end - c.i);
      c.i = j;
    }
  }
  if (c.peek() == '<') {
    out.bracketed = true;
    uri_start = ++c.i;
    const auto close = c.s.find('>', c.i);
    if (close == std::string_view::npos) return false;
    uri_end = close;
    c.i = close + 1;
  } else {
    // addr-spec: ends at the first ';' (header params follow), ',' or LWS.
    // A '?' would make it ambiguous; RFC 3261 §20 requires <> then.
    uri_start = c.i;
    while (!c.done() && c.peek() != ';' && c.peek() != ',' && !is_lws_char(c.peek())) {
      if (c.peek() == '?') return false;
      ++c.i;
    }
    uri_end = c.i;
  }
  out.uri_text = c.s.substr(uri_start, uri_end - uri_start);
  if (!parse_uri(out.uri_text, out.uri)) return false;
  const Cursor::Want want[] = {{"tag", &out.tag, &out.has_tag}};
  if (!c.params(out.params, want)) return false;
  out.text = c.s.substr(start, c.i - start);
  return true;
}

}  // namespace

bool parse_name_addr(std::string_view value, NameAddr& out, bool allow_star) {
  Cursor c{value};
  if (!name_addr_at(c, out, allow_star)) return false;
  c.skip_lws();
  return c.done();
}

bool NameAddrList::next(NameAddr& out) {
  if (error_) return false;
  Cursor c{rest_};
  c.skip_lws();
  if (!first_) {
    if (c.done()) return false;
    if (c.peek() != ',') return error_ = true, false;
    ++c.i;
  } else if (c.done()) {
    return error_ = true, false;  // an empty list
  }
  first_ = false;
  if (!name_addr_at(c, out, allow_star_)) return error_ = true, false;
  c.skip_lws();
  if (!c.done() && c.peek() != ',') return error_ = true, false;
  rest_ = c.s.substr(c.i);
  return true;
}

}  // namespace sigrelay::sip
