// Character classes of the RFC 3261 grammar (§25.1), as 256-entry tables so
// that every byte, including NUL and bytes >= 0x80, has a defined answer.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace sigrelay::sip {

namespace detail {
enum : std::uint16_t {
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
};

constexpr bool one_of(int c, std::string_view set) {
  for (char m : set) {
    if (c == m) return true;
  }
  return false;
}

constexpr std::array<std::uint16_t, 256> make_char_table() {
  std::array<std::uint16_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    std::uint16_t v = 0;
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
    t[static_cast<std::size_t>(c)] = v;
  }
  return t;
}

inline constexpr auto kCharTable = make_char_table();

constexpr bool has(char c, std::uint16_t cls) {
  return (kCharTable[static_cast<unsigned char>(c)] & cls) != 0;
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

constexpr char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
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

}  // namespace sigrelay::sip
