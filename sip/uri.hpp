// URI views: sip:, sips: (RFC 3261 §19.1), tel: (RFC 3966) and any other
// absolute URI kept opaque (RFC 3261 §25.1 absoluteURI). Every field is a
// view into the parsed text; escapes are left as written.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sigrelay::sip {

enum class UriScheme : std::uint8_t { sip, sips, tel, other };
enum class HostKind : std::uint8_t { none, hostname, ipv4, ipv6 };

struct Uri {
  std::string_view text;      // the whole URI as written
  UriScheme scheme = UriScheme::other;
  std::string_view scheme_text;
  // sip/sips: userinfo and hostport. tel: user holds the telephone-subscriber
  // number (global "+..." or local), host stays empty.
  std::string_view user;      // still %-escaped; may be empty
  std::string_view password;  // rarely used; empty when absent
  bool has_user = false;
  std::string_view host;      // IPv6 references keep their brackets
  HostKind host_kind = HostKind::none;
  std::uint16_t port = 0;
  bool has_port = false;
  std::string_view params;    // ";a=b;c" after hostport (or after the tel number), without the first ';'
  std::string_view headers;   // after '?', without the '?'
  std::string_view opaque;    // other schemes: everything after "scheme:"
};

struct HostPort {
  std::string_view host;  // IPv6 references keep their brackets
  HostKind kind = HostKind::none;
  std::uint16_t port = 0;
  bool has_port = false;
};

// host [":" port] at the start of `s` (hostname, IPv4address or [IPv6]).
// Returns the number of bytes consumed, or 0 when no valid hostport starts there.
std::size_t parse_hostport(std::string_view s, HostPort& out);

// Parses a complete URI. Returns false on any syntax error; `out` is then unspecified.
bool parse_uri(std::string_view text, Uri& out);

// Looks up a ";name=value" parameter in a parameter list such as Uri::params
// or a header's generic-params (leading ';' optional). Names compare
// case-insensitively. A parameter without a value yields an empty view;
// an absent one yields nullopt.
std::optional<std::string_view> find_param(std::string_view params, std::string_view name);

namespace detail {
// For the message and header value parsers, which need not find a URI's end
// first: parses the URI at p as far as its grammar goes, reading no further
// than `end`, and returns where it stopped (out.text ends there), or nullptr
// when what it read is malformed. The caller checks that the stop is the
// byte it expects, such as the '>' closing a name-addr or the SP after a
// Request-URI: no part of a URI holds either, so a URI followed by one
// parses as it would alone. parse_uri() is this with "stopped at the end".
const char* parse_uri_prefix(const char* p, const char* end, Uri& out);
// The host alone (hostname, IPv4address or [IPv6]) at p: its end, or
// nullptr. A hostname or address takes the whole run of host characters
// at p, so the byte at the end is never one of them.
const char* host_at(const char* p, const char* end, HostPort& out);
}  // namespace detail

// Decodes %HH escapes of a user part into `out` (capacity out_len) and returns
// the decoded length, or -1 when an escape is malformed or `out` is too small.
// Escaped NULs are kept (RFC 4475 §3.1.1.4: no truncation).
int unescape(std::string_view in, char* out, std::size_t out_len);

}  // namespace sigrelay::sip
