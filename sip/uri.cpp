#include "sip/uri.hpp"

#include "sip/chars.hpp"

namespace sigrelay::sip {
namespace {

// One %HH escape at s[i]; advances i past it.
bool eat_escape(std::string_view s, std::size_t& i) {
  if (i + 2 >= s.size()) return false;
  if (!is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
  i += 3;
  return true;
}

// Consumes a run of characters accepted by `allowed`, plus %HH escapes.
// Returns false on a malformed escape.
template <bool (*allowed)(char)>
bool scan_chars(std::string_view s, std::size_t& i) {
  while (i < s.size()) {
    const char c = s[i];
    if (allowed(c)) {
      ++i;
    } else if (c == '%') {
      if (!eat_escape(s, i)) return false;
    } else {
      break;
    }
  }
  return true;
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

bool valid_hostname(std::string_view s) {
  if (s.empty()) return false;
  std::size_t label = 0;
  char prev = '.';
  for (char c : s) {
    if (c == '.') {
      if (label == 0 || prev == '-') return false;
      label = 0;
    } else if (is_alnum(c) || c == '-') {
      if (label == 0 && c == '-') return false;
      ++label;
    } else {
      return false;
    }
    prev = c;
  }
  return prev != '-';
}

}  // namespace

std::size_t parse_hostport(std::string_view s, HostPort& out) {
  out = HostPort{};
  std::size_t i = 0;
  if (!s.empty() && s[0] == '[') {
    const auto close = s.find(']');
    if (close == std::string_view::npos) return 0;
    if (!valid_ipv6(s.substr(1, close - 1))) return 0;
    out.host = s.substr(0, close + 1);
    out.kind = HostKind::ipv6;
    i = close + 1;
  } else {
    bool numeric = true;  // only digits and dots so far: an IPv4 candidate
    while (i < s.size() && is_host_char(s[i])) {
      numeric = numeric && (is_digit(s[i]) || s[i] == '.');
      ++i;
    }
    out.host = s.substr(0, i);
    if (numeric && valid_ipv4(out.host)) {
      out.kind = HostKind::ipv4;
    } else if (valid_hostname(out.host)) {
      out.kind = HostKind::hostname;
    } else {
      return 0;
    }
  }
  if (i < s.size() && s[i] == ':') {
    ++i;
    std::uint32_t port = 0;
    std::size_t digits = 0;
    while (i < s.size() && is_digit(s[i])) {
      port = port * 10 + static_cast<std::uint32_t>(s[i] - '0');
      if (++digits > 5 || port > 65535) return 0;
      ++i;
    }
    if (digits == 0) return 0;
    out.port = static_cast<std::uint16_t>(port);
    out.has_port = true;
  }
  return i;
}

namespace {

// *( ";" pname [ "=" pvalue ] ) up to '?' or the end.
bool scan_uri_params(std::string_view s, std::size_t& i) {
  while (i < s.size() && s[i] == ';') {
    ++i;
    const std::size_t name_start = i;
    if (!scan_chars<is_uri_param_char>(s, i)) return false;
    if (i == name_start) return false;
    if (i < s.size() && s[i] == '=') {
      ++i;
      const std::size_t value_start = i;
      if (!scan_chars<is_uri_param_char>(s, i)) return false;
      if (i == value_start) return false;
    }
  }
  return true;
}

// "?" hname "=" hvalue *( "&" hname "=" hvalue )
bool scan_uri_headers(std::string_view s, std::size_t& i) {
  do {
    ++i;  // '?' or '&'
    const std::size_t name_start = i;
    if (!scan_chars<is_uri_header_char>(s, i)) return false;
    if (i == name_start || i == s.size() || s[i] != '=') return false;
    ++i;
    if (!scan_chars<is_uri_header_char>(s, i)) return false;
  } while (i < s.size() && s[i] == '&');
  return true;
}

bool parse_sip_uri(std::string_view rest, Uri& out) {
  std::size_t i = 0;
  const auto at = rest.find('@');
  if (at != std::string_view::npos) {
    // userinfo = (user / telephone-subscriber) [":" password] "@"
    if (!scan_chars<is_user_char>(rest, i)) return false;
    if (i == 0) return false;
    out.user = rest.substr(0, i);
    out.has_user = true;
    if (i < rest.size() && rest[i] == ':') {
      const std::size_t pw = ++i;
      if (!scan_chars<is_password_char>(rest, i)) return false;
      out.password = rest.substr(pw, i - pw);
    }
    if (i != at) return false;
    ++i;
  }
  HostPort hostport;
  const std::size_t hp = parse_hostport(rest.substr(i), hostport);
  if (hp == 0) return false;
  out.host = hostport.host;
  out.host_kind = hostport.kind;
  out.port = hostport.port;
  out.has_port = hostport.has_port;
  i += hp;
  const std::size_t params_start = i;
  if (!scan_uri_params(rest, i)) return false;
  if (i > params_start) out.params = rest.substr(params_start + 1, i - params_start - 1);
  if (i < rest.size() && rest[i] == '?') {
    const std::size_t h = i + 1;
    if (!scan_uri_headers(rest, i)) return false;
    out.headers = rest.substr(h, i - h);
  }
  return i == rest.size();
}

// RFC 3966: global-number "+" digits, or local-number; visual separators allowed.
bool parse_tel_uri(std::string_view rest, Uri& out) {
  std::size_t i = 0;
  if (i < rest.size() && rest[i] == '+') ++i;
  std::size_t digits = 0;
  while (i < rest.size()) {
    const char c = rest[i];
    if (is_hex(c) || c == '*' || c == '#') {
      ++digits;
    } else if (c != '-' && c != '.' && c != '(' && c != ')') {
      break;
    }
    ++i;
  }
  if (digits == 0) return false;
  out.user = rest.substr(0, i);
  out.has_user = true;
  const std::size_t params_start = i;
  if (!scan_uri_params(rest, i)) return false;
  if (i > params_start) out.params = rest.substr(params_start + 1, i - params_start - 1);
  return i == rest.size();
}

}  // namespace

bool parse_uri(std::string_view text, Uri& out) {
  out = Uri{};
  out.text = text;
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const auto scheme = text.substr(0, colon);
  if (!is_alpha(scheme[0])) return false;
  for (char c : scheme) {
    if (!is_alnum(c) && c != '+' && c != '-' && c != '.') return false;
  }
  out.scheme_text = scheme;
  const auto rest = text.substr(colon + 1);
  if (iequals(scheme, "sip")) {
    out.scheme = UriScheme::sip;
    return parse_sip_uri(rest, out);
  }
  if (iequals(scheme, "sips")) {
    out.scheme = UriScheme::sips;
    return parse_sip_uri(rest, out);
  }
  if (iequals(scheme, "tel")) {
    out.scheme = UriScheme::tel;
    return parse_tel_uri(rest, out);
  }
  // absoluteURI: keep it opaque, but it must be printable and free of the
  // delimiters that would make it ambiguous inside a SIP message.
  out.scheme = UriScheme::other;
  if (rest.empty()) return false;
  for (char c : rest) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '<' || c == '>' || c == '"') return false;
  }
  out.opaque = rest;
  return true;
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
