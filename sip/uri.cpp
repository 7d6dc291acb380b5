#include "sip/uri.hpp"

#include <bit>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "sip/chars.hpp"

namespace sigrelay::sip {
namespace {

using detail::skip;

std::string_view span(const char* begin, const char* end) {
  return {begin, static_cast<std::size_t>(end - begin)};
}

unsigned digit(char c) { return static_cast<unsigned>(static_cast<unsigned char>(c)) - unsigned{'0'}; }

// The rest of a run of `cls` characters and %HH escapes, from the '%' at p.
template <std::uint32_t cls>
[[gnu::noinline]] const char* scan_escaped_from(const char* p, const char* end) {
  for (;;) {
    if (end - p < 3 || !is_hex(p[1]) || !is_hex(p[2])) return nullptr;
    p = skip<cls>(p + 3, end);
    if (p == end || *p != '%') return p;
  }
}

// A run of `cls` characters and %HH escapes from p. Returns where it stops,
// or nullptr on a malformed escape. ('%' itself is in none of the classes,
// and escapes are rare: they leave the inline path.)
template <std::uint32_t cls>
inline const char* scan_escaped(const char* p, const char* end) {
  p = skip<cls>(p, end);
  if (p != end && *p == '%') [[unlikely]] return scan_escaped_from<cls>(p, end);
  return p;
}

bool valid_ipv4(std::string_view s) {
  int parts = 0;
  std::size_t i = 0;
  while (true) {
    int value = 0;
    int digits = 0;
    while (i < s.size() && is_digit(s[i])) {
      value = value * 10 + (s[i] - '0');
      if (++digits > 3) return false;
      ++i;
    }
    if (digits == 0 || value > 255) return false;
    ++parts;
    if (i == s.size()) break;
    if (s[i] != '.') return false;
    ++i;
  }
  return parts == 4;
}

// IPv6address as RFC 3261 §25.1 (hex4 groups, "::" once, optional IPv4 tail).
bool valid_ipv6(std::string_view s) {
  if (s.size() < 2) return false;
  int groups = 0;
  bool double_colon = false;
  std::size_t i = 0;
  if (s[0] == ':') {
    if (s[1] != ':') return false;
    double_colon = true;
    i = 2;
    if (i == s.size()) return true;
  }
  while (i < s.size()) {
    std::size_t start = i;
    while (i < s.size() && is_hex(s[i]) && i - start < 5) ++i;
    if (i < s.size() && s[i] == '.') {
      // IPv4 tail takes the place of two groups.
      if (!valid_ipv4(s.substr(start))) return false;
      groups += 2;
      i = s.size();
      break;
    }
    const std::size_t len = i - start;
    if (len == 0 || len > 4) return false;
    ++groups;
    if (i == s.size()) break;
    if (s[i] != ':') return false;
    ++i;
    if (i < s.size() && s[i] == ':') {
      if (double_colon) return false;
      double_colon = true;
      ++i;
      if (i == s.size()) break;
    } else if (i == s.size()) {
      return false;  // trailing single colon
    }
  }
  return double_colon ? groups <= 7 : groups == 8;
}

// An IPv4address that is the whole run of host characters at p: four
// dot-separated groups of 1-3 digits, each at most 255. Returns its end, or
// nullptr when the run is anything else (then it may still be a hostname,
// whose last label must start with a letter: "1.2.3" is neither).
const char* ipv4_at_checked(const char* p, const char* end) {
  for (int part = 0;; ++part) {
    if (p == end || !is_digit(*p)) return nullptr;
    unsigned value = static_cast<unsigned>(*p++ - '0');
    if (p < end && is_digit(*p)) {
      value = value * 10 + static_cast<unsigned>(*p++ - '0');
      if (p < end && is_digit(*p)) value = value * 10 + static_cast<unsigned>(*p++ - '0');
    }
    if (value > 255) return nullptr;
    if (part == 3) break;
    if (p == end || *p != '.') return nullptr;
    ++p;
  }
  return p < end && is_host_char(*p) ? nullptr : p;
}

// A three-digit dec-octet is at most "255": same length, so compare as text.
[[maybe_unused]] bool octet3_ok(const char* p) {
  return (p[0] < '2') || (p[0] == '2' && (p[1] < '5' || (p[1] == '5' && p[2] <= '5')));
}

// ipv4_at_checked() without a bounds check per byte, when at least 16 bytes
// follow p (an address is at most 15): vector compares mark the digits and
// dots, the address is the run of those, and its structure is read off the
// dot positions: exactly three dots, groups of 1-3 digits, and a
// three-digit group at most 255.
[[gnu::always_inline]] inline const char* ipv4_at(const char* p, const char* end) {
  if (end - p < 16) return ipv4_at_checked(p, end);
#if defined(__SSE2__)
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const auto digits = static_cast<unsigned>(
      _mm_movemask_epi8(_mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8(0x80 - '0')), _mm_set1_epi8(-128 + 10))));
  const auto dots = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('.'))));
  const auto len = static_cast<unsigned>(std::countr_zero(~(digits | dots)));  // <= 16
  if (len > 15 || is_host_char(p[len])) return nullptr;  // a longer run of host characters
  unsigned rest = dots & ((1u << len) - 1);
  const auto a = static_cast<unsigned>(std::countr_zero(rest));  // 32 when there is no dot left
  rest &= rest - 1;
  const auto b = static_cast<unsigned>(std::countr_zero(rest));
  rest &= rest - 1;
  const auto c = static_cast<unsigned>(std::countr_zero(rest));
  rest &= rest - 1;
  if (rest != 0 || c >= len) return nullptr;  // not exactly three dots
  // Group lengths a, b-a-1, c-b-1, len-c-1 must be 1..3 (unsigned wrap catches 0).
  if (a - 1 > 2 || b - a - 2 > 2 || c - b - 2 > 2 || len - c - 2 > 2) return nullptr;
  if ((a == 3 && !octet3_ok(p)) || (b - a == 4 && !octet3_ok(p + a + 1)) || (c - b == 4 && !octet3_ok(p + b + 1)) ||
      (len - c == 4 && !octet3_ok(p + c + 1))) {
    return nullptr;
  }
  return p + len;
#else
  return ipv4_at_checked(p, end);
#endif
}

// hostname = labels of alphanum / "-" that neither start nor end with "-",
// separated by single dots, with an optional trailing dot; checked while it
// is scanned. Returns the end of the run of host characters at p, or nullptr
// when that run is not a hostname.
const char* hostname_at(const char* p, const char* end) {
  for (;;) {
    if (p == end || !is_alnum(*p)) return nullptr;
    const char* label = p;
    p = skip<detail::kLabelChar>(p + 1, end);
    if (p[-1] == '-') return nullptr;
    // toplabel = ALPHA ... (RFC 3261 §25.1): the last label starts with a
    // letter, which keeps "1.2.3" and "256.1.1.1" from passing as names.
    if (p == end || *p != '.') return is_alpha(*label) ? p : nullptr;
    ++p;
    if (p == end || !is_host_char(*p)) return is_alpha(*label) ? p : nullptr;
  }
}

// port = 1*5DIGIT, at most 65535 (a sixth digit already makes it invalid).
// Returns its end, or nullptr.
[[gnu::always_inline]] inline const char* port_at(const char* p, const char* end, std::uint16_t& port) {
  int n = 0;
  if (end - p >= 8) {
    // Where the digits stop, for 8 bytes at once: a byte is a digit when its
    // high nibble is 3 and its low nibble + 6 does not carry into bit 4.
    std::uint64_t w;
    std::memcpy(&w, p, sizeof w);
    const std::uint64_t other = ((w & 0xf0f0f0f0f0f0f0f0) ^ 0x3030303030303030) |
                                (((w & 0x0f0f0f0f0f0f0f0f) + 0x0606060606060606) & 0xf0f0f0f0f0f0f0f0);
    if (other != 0) {
      n = (std::endian::native == std::endian::little ? std::countr_zero(other) : std::countl_zero(other)) / 8;
    } else {
      n = 8;
    }
  } else {
    while (p + n < end && digit(p[n]) <= 9) ++n;
  }
  if (n == 0 || n > 5) return nullptr;
  std::uint32_t value = 0;
  for (int i = 0; i < n; ++i) value = value * 10 + digit(p[i]);
  if (value > 65535) return nullptr;
  port = static_cast<std::uint16_t>(value);
  return p + n;
}

// A host that is not an IPv4address: an IPv6 reference or a hostname.
// Returns its end, or nullptr (then `host` shows what was rejected).
[[gnu::noinline]] const char* other_host_at(const char* p, const char* end, std::string_view& host,
                                            HostKind& kind) {
  if (p < end && *p == '[') {
    const auto* close = static_cast<const char*>(std::memchr(p, ']', static_cast<std::size_t>(end - p)));
    if (close == nullptr || !valid_ipv6(span(p + 1, close))) return nullptr;
    host = span(p, close + 1);
    kind = HostKind::ipv6;
    return close + 1;
  }
  const char* q = hostname_at(p, end);
  host = span(p, q != nullptr ? q : skip<detail::kHostChar>(p, end));
  kind = HostKind::hostname;
  return q;
}

// host at p (no port). Returns its end, or nullptr.
[[gnu::always_inline]] inline const char* host_only_at(const char* p, const char* end, HostPort& out) {
  const char* q = nullptr;
  if (p < end && is_digit(*p) && (q = ipv4_at(p, end)) != nullptr) {
    out.host = span(p, q);
    out.kind = HostKind::ipv4;
  } else if ((q = other_host_at(p, end, out.host, out.kind)) == nullptr) {
    out.kind = HostKind::none;
  }
  return q;
}

// host [":" port] at p. Returns its end, or nullptr.
[[gnu::always_inline]] inline const char* hostport_at(const char* p, const char* end, HostPort& out) {
  const char* q = host_only_at(p, end, out);
  if (q == nullptr) return nullptr;
  if (q < end && *q == ':') {
    q = port_at(q + 1, end, out.port);
    if (q == nullptr) return nullptr;
    out.has_port = true;
  }
  return q;
}

}  // namespace

const char* detail::host_at(const char* p, const char* end, HostPort& out) { return host_only_at(p, end, out); }

std::size_t parse_hostport(std::string_view s, HostPort& out) {
  detail::reset(out);
  const char* end = hostport_at(s.data(), s.data() + s.size(), out);
  return end == nullptr ? 0 : static_cast<std::size_t>(end - s.data());
}

namespace {

// *( ";" pname [ "=" pvalue ] ) from p. Returns where it stops, or nullptr.
[[gnu::always_inline]] inline const char* uri_params_at(const char* p, const char* end) {
  while (p < end && *p == ';') {
    const char* name = p + 1;
    p = scan_escaped<detail::kParamChar>(name, end);
    if (p == nullptr || p == name) return nullptr;
    if (p < end && *p == '=') {
      const char* value = p + 1;
      p = scan_escaped<detail::kParamChar>(value, end);
      if (p == nullptr || p == value) return nullptr;
    }
  }
  return p;
}

// "?" hname "=" hvalue *( "&" hname "=" hvalue ), p at the '?'.
[[gnu::noinline]] const char* uri_headers_at(const char* p, const char* end) {
  do {
    const char* name = ++p;  // past '?' or '&'
    p = scan_escaped<detail::kHeaderChar>(name, end);
    if (p == nullptr || p == name || p == end || *p != '=') return nullptr;
    p = scan_escaped<detail::kHeaderChar>(p + 1, end);
    if (p == nullptr) return nullptr;
  } while (p < end && *p == '&');
  return p;
}

// The first '@' of the URI at p, or nullptr. A URI may end before `end` at
// a '>' or SP (detail::parse_uri_prefix()); no part of a URI holds either.
const char* find_at_sign(const char* p, const char* end) {
  for (; p < end; ++p) {
    if (*p == '@') return p;
    if (*p == '>' || *p == ' ') return nullptr;
  }
  return nullptr;
}

// userinfo = (user / telephone-subscriber) [":" password] "@". Returns where
// the hostport starts, or nullptr when the URI cannot be valid. The user is
// scanned optimistically: neither it nor the password can contain '@', so
// when the scan stops at one, that is the first '@' of the URI. Otherwise the
// URI has no userinfo, and then no '@' at all.
[[gnu::noinline]] const char* userinfo_at(const char* p, const char* end, std::string_view& user,
                                          std::string_view& password) {
  const char* user_end = scan_escaped<detail::kUserChar>(p, end);
  if (user_end != nullptr && user_end < end) {
    const char* at = user_end;
    if (*at == ':') at = scan_escaped<detail::kPasswordChar>(user_end + 1, end);
    if (at != nullptr && at < end && *at == '@') {
      if (user_end == p) return nullptr;
      user = span(p, user_end);
      if (at != user_end) password = span(user_end + 1, at);
      return at + 1;
    }
  }
  return find_at_sign(p, end) == nullptr ? p : nullptr;
}

// The part of a sip: or sips: URI after the scheme, up to the first byte
// that no part of it may hold. Fields are collected in locals and stored
// once on success, which saves clearing `out` first.
const char* parse_sip_uri(const char* start, const char* p, const char* end, UriScheme scheme, Uri& out) {
  const char* const scheme_end = p - 1;
  // The usual userinfo is a plain user and '@'; anything else goes the long way.
  std::string_view user;
  std::string_view password;
  const char* q = skip<detail::kUserChar>(p, end);
  if (q != end && *q == '@' && q != p) {
    user = span(p, q);
    p = q + 1;
  } else {
    p = userinfo_at(p, end, user, password);
    if (p == nullptr) return nullptr;
  }
  const bool has_user = user.data() != nullptr;
  HostPort hostport;
  p = hostport_at(p, end, hostport);
  if (p == nullptr) return nullptr;
  const char* params = p;
  p = uri_params_at(p, end);
  if (p == nullptr) return nullptr;
  const char* headers = p;
  if (p < end && *p == '?') {
    p = uri_headers_at(p, end);
    if (p == nullptr) return nullptr;
  }
  out.text = span(start, p);
  out.scheme = scheme;
  out.scheme_text = span(start, scheme_end);
  out.user = user;
  out.password = password;
  out.has_user = has_user;
  out.host = hostport.host;
  out.host_kind = hostport.kind;
  out.port = hostport.port;
  out.has_port = hostport.has_port;
  out.params = headers > params ? span(params + 1, headers) : std::string_view{};
  out.headers = p > headers ? span(headers + 1, p) : std::string_view{};
  out.opaque = {};
  return p;
}

// RFC 3966 §3: global-number "+" DIGITs, or a local-number of hex digits,
// '*' and '#'; visual separators allowed in both.
const char* parse_tel_uri(const char* p, const char* end, Uri& out) {
  const char* q = p;
  const bool global = q < end && *q == '+';
  if (global) ++q;
  std::size_t digits = 0;
  while (q < end && detail::has(*q, detail::kTelChar)) {
    const bool digit = is_digit(*q);
    const bool local_only = !digit && (detail::has(*q, detail::kHex) || *q == '*' || *q == '#');
    if (global && local_only) return nullptr;
    digits += digit || local_only;
    ++q;
  }
  if (digits == 0) return nullptr;
  out.user = span(p, q);
  out.has_user = true;
  const char* params = q;
  q = uri_params_at(q, end);
  if (q == nullptr) return nullptr;
  if (q > params) out.params = span(params + 1, q);
  return q;
}

// Any scheme but the common "sip:" spelling.
[[gnu::noinline]] const char* parse_other_uri(const char* p, const char* end, Uri& out) {
  detail::reset(out);
  // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then ':'.
  if (p == end || !is_alpha(*p)) return nullptr;
  const char* colon = skip<detail::kSchemeChar>(p + 1, end);
  if (colon == end || *colon != ':') return nullptr;
  const char* rest = colon + 1;
  const auto scheme_len = colon - p;
  if (scheme_len == 3 && detail::Folded("sip").matches(p)) return parse_sip_uri(p, rest, end, UriScheme::sip, out);
  if (scheme_len == 4 && detail::Folded("sips").matches(p)) return parse_sip_uri(p, rest, end, UriScheme::sips, out);
  out.scheme_text = span(p, colon);
  const char* q = nullptr;
  if (scheme_len == 3 && detail::Folded("tel").matches(p)) {
    out.scheme = UriScheme::tel;
    q = parse_tel_uri(rest, end, out);
  } else {
    // absoluteURI: kept opaque, but it must be printable and free of the
    // delimiters that would make it ambiguous inside a SIP message.
    out.scheme = UriScheme::other;
    q = skip<detail::kOpaqueChar>(rest, end);
    if (q == rest) return nullptr;
    out.opaque = span(rest, q);
  }
  if (q != nullptr) out.text = span(p, q);
  return q;
}

}  // namespace

namespace detail {

const char* parse_uri_prefix(const char* p, const char* end, Uri& out) {
  const char* stop = end - p >= 4 && Folded("sip:").matches(p) ? parse_sip_uri(p, p + 4, end, UriScheme::sip, out)
                                                              : parse_other_uri(p, end, out);
  if (stop == nullptr) {
    // No half-parsed fields on failure.
    reset(out);
    out.text = span(p, end);
  }
  return stop;
}

}  // namespace detail

bool parse_uri(std::string_view text, Uri& out) {
  const char* end = text.data() + text.size();
  const char* stop = detail::parse_uri_prefix(text.data(), end, out);
  if (stop == end && stop != nullptr) return true;
  if (stop != nullptr) {
    detail::reset(out);  // valid up to a byte no URI may hold: not a URI
    out.text = text;
  }
  return false;
}

std::optional<std::string_view> find_param(std::string_view params, std::string_view name) {
  std::size_t i = 0;
  const auto skip_lws = [&] {
    while (i < params.size() && (is_wsp(params[i]) || params[i] == '\r' || params[i] == '\n')) ++i;
  };
  while (i < params.size()) {
    skip_lws();
    if (i < params.size() && params[i] == ';') {
      ++i;
      skip_lws();
    }
    const std::size_t ns = i;
    while (i < params.size() && params[i] != '=' && params[i] != ';' && !is_wsp(params[i]) &&
           params[i] != '\r' && params[i] != '\n') {
      ++i;
    }
    const auto pname = params.substr(ns, i - ns);
    skip_lws();
    std::string_view value;
    if (i < params.size() && params[i] == '=') {
      ++i;
      skip_lws();
      const std::size_t vs = i;
      if (i < params.size() && params[i] == '"') {
        ++i;
        while (i < params.size() && params[i] != '"') {
          if (params[i] == '\\' && i + 1 < params.size()) ++i;
          ++i;
        }
        if (i < params.size()) ++i;
      } else {
        while (i < params.size() && params[i] != ';' && !is_wsp(params[i]) && params[i] != '\r' &&
               params[i] != '\n') {
          ++i;
        }
      }
      value = params.substr(vs, i - vs);
      skip_lws();
    }
    if (!pname.empty() && iequals(pname, name)) return value;
    if (pname.empty() && i < params.size() && params[i] != ';') ++i;  // never stall on junk
  }
  return std::nullopt;
}

int unescape(std::string_view in, char* out, std::size_t out_len) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return -1;
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return -1;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (n >= out_len) return -1;
    out[n++] = c;
  }
  return static_cast<int>(n);
}

}  // namespace sigrelay::sip
