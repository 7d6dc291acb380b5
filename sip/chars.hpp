// Character classes of the RFC 3261 grammar (§25.1), as 256-entry tables so
// that every byte, including NUL and bytes >= 0x80, has a defined answer.
// Also what the parser's hot loops share: runs of a class, case-insensitive
// literals a word at a time, and the header-name matcher run for every line.
// The vector shortcuts use SSE2 (every x86-64 CPU has it) and fall back to
// plain loops elsewhere; either way they never read outside [p, end).
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "sip/header_id.hpp"

namespace sigrelay::sip {

namespace detail {
enum : std::uint32_t {
  kAlnum = 1 << 0,
  kToken = 1 << 1,     // token: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"
  kHex = 1 << 2,
  kWsp = 1 << 3,       // SP / HTAB
  kUnreserved = 1 << 4,  // alphanum / mark
  kWord = 1 << 5,      // word (Call-ID): token chars plus ( ) < > : \ " / [ ] ? { }
  kDigit = 1 << 6,
  kUserChar = 1 << 7,    // URI user: unreserved / user-unreserved (escapes handled apart)
  kPasswordChar = 1 << 8,
  kParamChar = 1 << 9,   // URI param: unreserved / param-unreserved
  kHeaderChar = 1 << 10, // URI header: unreserved / hnv-unreserved
  kHostChar = 1 << 11,   // hostname / IPv4 characters
  kSchemeChar = 1 << 12,  // scheme after its first letter: alphanum / "+" / "-" / "."
  kLabelChar = 1 << 13,   // inside a domain label: alphanum / "-"
  kLws = 1 << 14,         // SP / HTAB / CR / LF (a folded line break is whitespace inside a value)
  kGenValue = 1 << 15,    // unquoted gen-value: token / host, incl. the ":[]" of IPv6 references
  kTelChar = 1 << 16,     // tel: number: HEXDIG / "*" / "#" / visual separators "-.()"
  kOpaqueChar = 1 << 17,  // other URI schemes: printable, not SP, '<', '>' or '"'
  kAddrSpecEnd = 1 << 18,  // ends a bare addr-spec: ";" / "," / LWS
  kReasonChar = 1 << 19,  // Reason-Phrase: anything but control characters other than HTAB
};

constexpr bool one_of(int c, std::string_view set) {
  for (char m : set) {
    if (c == m) return true;
  }
  return false;
}

constexpr std::array<std::uint32_t, 256> make_char_table() {
  std::array<std::uint32_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    std::uint32_t v = 0;
    const bool digit = c >= '0' && c <= '9';
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (digit) v |= kDigit;
    if (digit || alpha) v |= kAlnum | kToken | kUnreserved | kWord;
    if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) v |= kHex;
    if (c == ' ' || c == '\t') v |= kWsp;
    for (char m : std::string_view("-.!%*_+`'~")) {
      if (c == m) v |= kToken | kWord;
    }
    for (char m : std::string_view("-_.!~*'()")) {
      if (c == m) v |= kUnreserved;
    }
    for (char m : std::string_view("()<>:\\\"/[]?{}")) {
      if (c == m) v |= kWord;
    }
    const bool unreserved = (v & kUnreserved) != 0;
    if (unreserved || one_of(c, "&=+$,;?/")) v |= kUserChar;
    if (unreserved || one_of(c, "&=+$,")) v |= kPasswordChar;
    if (unreserved || one_of(c, "[]/:&+$")) v |= kParamChar;
    if (unreserved || one_of(c, "[]/?:+$")) v |= kHeaderChar;
    if (digit || alpha || c == '-' || c == '.') v |= kHostChar;
    if (digit || alpha || one_of(c, "+-.")) v |= kSchemeChar;
    if (digit || alpha || c == '-') v |= kLabelChar;
    if (one_of(c, " \t\r\n")) v |= kLws | kAddrSpecEnd;
    if ((v & kToken) != 0 || one_of(c, ":[]")) v |= kGenValue;
    if ((v & kHex) != 0 || one_of(c, "*#-.()")) v |= kTelChar;
    if (c > 0x20 && c < 0x7f && !one_of(c, "<>\"")) v |= kOpaqueChar;
    if (one_of(c, ";,")) v |= kAddrSpecEnd;
    if ((c >= 0x20 && c != 0x7f) || c == '\t') v |= kReasonChar;
    t[static_cast<std::size_t>(c)] = v;
  }
  return t;
}

inline constexpr auto kCharTable = make_char_table();

constexpr bool has(char c, std::uint32_t cls) {
  return (kCharTable[static_cast<unsigned char>(c)] & cls) != 0;
}

// True when every letter, digit and '-' is in `cls` (and '.', if asked):
// such classes can take the vector shortcut in skip().
constexpr bool covers_alnum(std::uint32_t cls, bool with_dot) {
  for (int c = 0; c < 256; ++c) {
    const bool needed = (kCharTable[static_cast<std::size_t>(c)] & kAlnum) != 0 || c == '-' || (with_dot && c == '.');
    if (needed && (kCharTable[static_cast<std::size_t>(c)] & cls) == 0) return false;
  }
  return true;
}

// A class of ASCII bytes as two 16-entry tables for a nibble lookup (the
// pshufb instruction looks up 16 bytes at once): byte b is in the class
// when lo[b & 15] & hi[b >> 4] != 0. lo[l] has bit h set when the byte
// h * 16 + l is in the class; hi[h] is 1 << h below 8 and 0 from 8 on, so
// this is exact for any class of ASCII bytes (ascii_only()).
struct NibbleTable {
  alignas(16) std::uint8_t lo[16] = {};
  alignas(16) std::uint8_t hi[16] = {};
};

constexpr bool ascii_only(std::uint32_t cls) {
  for (int c = 0x80; c < 256; ++c) {
    if ((kCharTable[static_cast<std::size_t>(c)] & cls) != 0) return false;
  }
  return true;
}

constexpr NibbleTable nibble_table(std::uint32_t cls) {
  NibbleTable t;
  for (int c = 0; c < 0x80; ++c) {
    if ((kCharTable[static_cast<std::size_t>(c)] & cls) != 0) t.lo[c & 15] |= static_cast<std::uint8_t>(1u << (c >> 4));
  }
  for (int h = 0; h < 8; ++h) t.hi[h] = static_cast<std::uint8_t>(1u << h);
  return t;
}

#if defined(__SSE2__)
// Bit i set when byte i of the 16 at p is a letter, a digit or '-' (or
// '.', when with_dot): the bulk of every token, host and tag. Ranges are
// tested with signed compares after shifting the range to start at -128.
template <bool with_dot>
inline unsigned alnum_mask16(const char* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i lower = _mm_or_si128(v, _mm_set1_epi8(0x20));  // 'A'..'Z' -> 'a'..'z', and no other byte lands there
  const __m128i letter = _mm_cmplt_epi8(_mm_add_epi8(lower, _mm_set1_epi8(0x80 - 'a')), _mm_set1_epi8(-128 + 26));
  const __m128i digit = _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8(0x80 - '0')), _mm_set1_epi8(-128 + 10));
  __m128i ok = _mm_or_si128(_mm_or_si128(letter, digit), _mm_cmpeq_epi8(v, _mm_set1_epi8('-')));
  if constexpr (with_dot) ok = _mm_or_si128(ok, _mm_cmpeq_epi8(v, _mm_set1_epi8('.')));
  return static_cast<unsigned>(_mm_movemask_epi8(ok));
}
#endif

// First byte in [p, end) outside `cls` (or end). These runs are the bulk of
// what the parser reads; an unrolled loop needs one bounds check per four
// bytes instead of per byte. Long runs (Call-IDs, branches, tags) go
// through skip_within() instead; for the short runs of URIs and tokens a
// vector test measured slower (callgrind: +190 instructions per sample
// INVITE when every skip() took one, +30 to +95 even when reading on to
// the message end).
template <std::uint32_t cls>
inline const char* skip(const char* p, const char* end) {
  while (end - p >= 4) {
    if (!has(p[0], cls)) return p;
    if (!has(p[1], cls)) return p + 1;
    if (!has(p[2], cls)) return p + 2;
    if (!has(p[3], cls)) return p + 3;
    p += 4;
  }
  while (p < end && has(*p, cls)) ++p;
  return p;
}

// skip() where the bytes after `end` are known readable up to `limit`
// (limit >= end): inside a parsed message a value is followed by its line
// end and the rest of the message. Then a run goes 16 bytes per vector
// compare, its tail included (no byte-at-a-time rest); the result is
// clamped to `end`. Pays for runs that are often long (Call-IDs, branch
// and tag values). For classes that hold every letter, digit and '-'.
template <std::uint32_t cls>
inline const char* skip_within(const char* p, const char* end, const char* limit) {
  static_assert(covers_alnum(cls, false));
#if defined(__SSE2__)
  constexpr bool with_dot = covers_alnum(cls, true);
  while (limit - p >= 16) {
    // ~mask has a bit set above the 16 lanes, so this is at most 16.
    const auto n = static_cast<unsigned>(std::countr_zero(~alnum_mask16<with_dot>(p)));
    p += n;
    if (p >= end) return end;
    if (n != 16) {
      if (!has(*p, cls)) return p;
      ++p;  // a class member the vector test does not know, such as '+' or '%'
    }
  }
#else
  (void)limit;
#endif
  return skip<cls>(p, end);
}

// The first byte in [p, end) that is c1 or c2, or end: the next DQUOTE or
// backslash inside a quoted-string. 16 bytes per vector compare while they
// last; display names are often that long.
inline const char* find_either(const char* p, const char* end, char c1, char c2) {
#if defined(__SSE2__)
  const __m128i v1 = _mm_set1_epi8(c1);
  const __m128i v2 = _mm_set1_epi8(c2);
  for (; end - p >= 16; p += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const auto hits = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, v1), _mm_cmpeq_epi8(v, v2))));
    if (hits != 0) return p + std::countr_zero(hits);
  }
#endif
  while (p < end && *p != c1 && *p != c2) ++p;
  return p;
}

// The first `c` in [p, end), or nullptr, reading 16 bytes at a time up to
// `limit` (>= end, readable; see skip_within()).
inline const char* find_within(const char* p, const char* end, const char* limit, char c) {
#if defined(__SSE2__)
  const __m128i want = _mm_set1_epi8(c);
  for (; limit - p >= 16 && p < end; p += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const auto hits = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, want)));
    if (hits != 0) {
      const char* at = p + std::countr_zero(hits);
      return at < end ? at : nullptr;
    }
  }
#else
  (void)limit;
#endif
  for (; p < end; ++p) {
    if (*p == c) return p;
  }
  return nullptr;
}

// A lowercase ASCII literal prepared at compile time for a case-insensitive
// compare a machine word at a time: letters are folded by OR-ing 0x20 into
// the positions where the literal has a letter (which maps exactly 'A'..'Z'
// onto 'a'..'z' there), every other byte must match exactly.
// Folded("via").matches(p) reads exactly 3 bytes at p; starts(p) reads whole
// words (8 bytes here) where the caller knows them readable, and is cheaper.
template <std::size_t N>
struct Folded {
  static constexpr std::size_t kLen = N - 1;
  static constexpr std::size_t kWords = (kLen + 7) / 8;
  std::uint64_t want[kWords] = {};
  std::uint64_t fold[kWords] = {};
  std::uint64_t care[kWords] = {};

  consteval Folded(const char (&lit)[N]) {
    for (std::size_t i = 0; i < kLen; ++i) {
      // memcpy() of k < 8 bytes fills the low bytes of a little-endian word
      // and the high bytes of a big-endian one.
      const unsigned shift = std::endian::native == std::endian::little ? 8 * (i % 8) : 8 * (7 - i % 8);
      const char c = lit[i];
      want[i / 8] |= std::uint64_t{static_cast<unsigned char>(c)} << shift;
      care[i / 8] |= std::uint64_t{0xff} << shift;
      if (c >= 'a' && c <= 'z') fold[i / 8] |= std::uint64_t{0x20} << shift;
    }
  }

  bool matches(const char* p) const {
    for (std::size_t w = 0; w < kWords; ++w) {
      std::uint64_t have = 0;
      std::memcpy(&have, p + 8 * w, w + 1 < kWords ? 8 : kLen - 8 * w);
      if ((have | fold[w]) != want[w]) return false;
    }
    return true;
  }

  bool starts(const char* p) const {
    for (std::size_t w = 0; w < kWords; ++w) {
      std::uint64_t have;
      std::memcpy(&have, p + 8 * w, 8);
      if (((have | fold[w]) & care[w]) != want[w]) return false;
    }
    return true;
  }
};

// Puts a parser output back to its default state: a copy of a constant, a
// few vector moves, where assigning T{} builds it field by field.
template <class T>
void reset(T& x) {
  static constexpr T kEmpty{};
  x = kEmpty;
}
}  // namespace detail

constexpr bool is_digit(char c) { return detail::has(c, detail::kDigit); }
constexpr bool is_alnum(char c) { return detail::has(c, detail::kAlnum); }
constexpr bool is_alpha(char c) { return is_alnum(c) && !is_digit(c); }
constexpr bool is_hex(char c) { return detail::has(c, detail::kHex); }
constexpr bool is_token_char(char c) { return detail::has(c, detail::kToken); }
constexpr bool is_wsp(char c) { return detail::has(c, detail::kWsp); }
constexpr bool is_unreserved(char c) { return detail::has(c, detail::kUnreserved); }
constexpr bool is_word_char(char c) { return detail::has(c, detail::kWord); }
constexpr bool is_user_char(char c) { return detail::has(c, detail::kUserChar); }
constexpr bool is_password_char(char c) { return detail::has(c, detail::kPasswordChar); }
constexpr bool is_uri_param_char(char c) { return detail::has(c, detail::kParamChar); }
constexpr bool is_uri_header_char(char c) { return detail::has(c, detail::kHeaderChar); }
constexpr bool is_host_char(char c) { return detail::has(c, detail::kHostChar); }
constexpr bool is_lws(char c) { return detail::has(c, detail::kLws); }

constexpr char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    // Bytes that differ may still be the two cases of one letter.
    const char x = static_cast<char>(a[i] ^ b[i]);
    if (x != 0 && (x != 0x20 || !is_alpha(a[i]))) return false;
  }
  return true;
}

constexpr bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_token_char(c)) return false;
  }
  return true;
}

constexpr int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

namespace detail {

// Compact forms (RFC 3261 §7.3.3 and the extensions that define one).
constexpr HeaderId compact_header(char c) {
  switch (ascii_lower(c)) {
    case 'v': return HeaderId::via;
    case 'i': return HeaderId::call_id;
    case 'l': return HeaderId::content_length;
    case 'f': return HeaderId::from;
    case 't': return HeaderId::to;
    case 'm': return HeaderId::contact;
    case 'k': return HeaderId::supported;
    case 's': return HeaderId::subject;
    case 'c': return HeaderId::content_type;
    case 'e': return HeaderId::content_encoding;
    case 'o': return HeaderId::event;
    case 'u': return HeaderId::allow_events;
    case 'r': return HeaderId::refer_to;
    case 'x': return HeaderId::session_expires;
    case 'b': return HeaderId::referred_by;
    case 'y': return HeaderId::identity;
    case 'a': return HeaderId::accept_contact;
    case 'j': return HeaderId::reject_contact;
    case 'd': return HeaderId::request_disposition;
    default: return HeaderId::other;
  }
}

// The known header name that starts the line at p when it is written the
// usual way, directly followed by ':' ("Via:", "i:"), with its length;
// HeaderId::other when not (the caller then scans the name itself). Reads
// kHeaderPrefixRead bytes at p. Inline here because the message parser runs
// it for every header line; classify_header() is built on it too. The first
// letter (and where several names share it, the next) picks the candidates,
// each compared a word at a time.
constexpr std::ptrdiff_t kHeaderPrefixRead = 24;
[[gnu::always_inline]] inline HeaderId classify_header_prefix(const char* p, std::size_t& name_len) {
  if (p[1] == ':') {
    name_len = 1;
    return compact_header(p[0]);
  }
  HeaderId id = HeaderId::other;
  const auto is = [&](const auto& lit, HeaderId candidate) {
    if (!lit.starts(p)) return false;
    name_len = lit.kLen - 1;  // without the ':'
    id = candidate;
    return true;
  };
  const char second = static_cast<char>(p[1] | 0x20);
  switch (p[0] | 0x20) {  // only letters land on a letter
    case 'v': is(Folded("via:"), HeaderId::via); break;
    case 'f': is(Folded("from:"), HeaderId::from); break;
    case 't': is(Folded("to:"), HeaderId::to); break;
    case 'c':
      if (second == 'a') {
        is(Folded("call-id:"), HeaderId::call_id);
      } else if (second == 's') {
        is(Folded("cseq:"), HeaderId::cseq);
      } else if (!is(Folded("contact:"), HeaderId::contact) && Folded("content-").starts(p)) {
        switch (p[8] | 0x20) {
          case 'l': is(Folded("content-length:"), HeaderId::content_length); break;
          case 't': is(Folded("content-type:"), HeaderId::content_type); break;
          default: is(Folded("content-encoding:"), HeaderId::content_encoding); break;
        }
      }
      break;
    case 'm': is(Folded("max-forwards:"), HeaderId::max_forwards); break;
    case 'r':
      is(Folded("route:"), HeaderId::route) || is(Folded("record-route:"), HeaderId::record_route) ||
          is(Folded("require:"), HeaderId::require) || is(Folded("reason:"), HeaderId::reason) ||
          is(Folded("refer-to:"), HeaderId::refer_to) || is(Folded("referred-by:"), HeaderId::referred_by) ||
          is(Folded("reject-contact:"), HeaderId::reject_contact) ||
          is(Folded("request-disposition:"), HeaderId::request_disposition);
      break;
    case 's':
      is(Folded("supported:"), HeaderId::supported) || is(Folded("session-expires:"), HeaderId::session_expires) ||
          is(Folded("subject:"), HeaderId::subject);
      break;
    case 'p':
      is(Folded("p-asserted-identity:"), HeaderId::p_asserted_identity) ||
          is(Folded("proxy-require:"), HeaderId::proxy_require);
      break;
    case 'i': is(Folded("identity:"), HeaderId::identity); break;
    case 'e': is(Folded("expires:"), HeaderId::expires) || is(Folded("event:"), HeaderId::event); break;
    case 'd': is(Folded("diversion:"), HeaderId::diversion); break;
    case 'h': is(Folded("history-info:"), HeaderId::history_info); break;
    case 'a':
      is(Folded("allow-events:"), HeaderId::allow_events) || is(Folded("accept-contact:"), HeaderId::accept_contact);
      break;
    default: break;
  }
  return id;
}

}  // namespace detail

}  // namespace sigrelay::sip
