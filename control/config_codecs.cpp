#include "control/config_codecs.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "sip/uri.hpp"

namespace sigrelay::control {
namespace {

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

char fold(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

}  // namespace

bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (fold(a[i]) != fold(b[i])) return false;
  }
  return true;
}

bool NumberCodec::parse(std::string_view text, std::uint32_t& out, Problem& p) const {
  if (text.empty()) {
    p = {ConfigErrorKind::bad_value, "empty value, expected a whole number"};
    return false;
  }
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  const std::string range = std::to_string(min) + ".." + std::to_string(max);
  if (ec == std::errc::result_out_of_range) {
    p = {ConfigErrorKind::out_of_range, quoted(text) + " is out of range " + range};
    return false;
  }
  if (ec != std::errc{} || end != text.data() + text.size()) {
    p = {ConfigErrorKind::bad_value,
         quoted(text) + " is not a whole number (digits only, no unit: the unit is in the key's name)"};
    return false;
  }
  if (v < min || v > max) {
    p = {ConfigErrorKind::out_of_range, quoted(text) + " is out of range " + range};
    return false;
  }
  out = static_cast<std::uint32_t>(v);
  return true;
}

bool FlagCodec::parse(std::string_view text, bool& out, Problem& p) const {
  for (std::string_view t : {"true", "yes", "on", "1"}) {
    if (ascii_iequals(text, t)) {
      out = true;
      return true;
    }
  }
  for (std::string_view f : {"false", "no", "off", "0"}) {
    if (ascii_iequals(text, f)) {
      out = false;
      return true;
    }
  }
  p = {ConfigErrorKind::bad_value, quoted(text) + " is not a boolean (true/false, yes/no, on/off, 1/0)"};
  return false;
}

bool ReadableFileCodec::parse(std::string_view text, std::string& out, Problem& p) const {
  out = std::string(text);
  if (text.empty()) return true;
  const std::string label = std::string(what) + " file " + quoted(text);
  if (text.front() != '/') {
    p = {ConfigErrorKind::bad_value, label + " must be an absolute path"};
    return false;
  }
  // O_NONBLOCK: a FIFO given by mistake must not hang the check.
  const int fd = ::open(out.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    p = {ConfigErrorKind::unreadable_file, "cannot read " + label + ": " + std::strerror(errno)};
    return false;
  }
  struct stat st {};
  const bool stat_ok = ::fstat(fd, &st) == 0;
  ::close(fd);
  if (!stat_ok || !S_ISREG(st.st_mode)) {
    p = {ConfigErrorKind::unreadable_file, "cannot read " + label + ": not a regular file"};
    return false;
  }
  if (st.st_size == 0) {
    p = {ConfigErrorKind::unreadable_file, label + " is empty"};
    return false;
  }
  return true;
}

bool HostNameCodec::parse(std::string_view text, std::string& out, Problem& p) const {
  out = std::string(text);
  if (text.empty()) return true;
  sip::HostPort hp;
  if (sip::parse_hostport(text, hp) != text.size() || hp.kind != sip::HostKind::hostname ||
      hp.has_port) {
    p = {ConfigErrorKind::bad_value, quoted(text) + " is not a DNS name (no port, no IP address)"};
    return false;
  }
  return true;
}

bool SocketPathCodec::parse(std::string_view text, std::string& out, Problem& p) const {
  out = std::string(text);
  if (text.empty() || text.front() != '/') {
    p = {ConfigErrorKind::bad_value, quoted(text) + " must be an absolute path"};
    return false;
  }
  constexpr std::size_t kMax = sizeof(sockaddr_un::sun_path) - 1;  // room for the NUL
  if (text.size() > kMax) {
    p = {ConfigErrorKind::out_of_range,
         quoted(text) + " is longer than a Unix socket path can be (" + std::to_string(kMax) + " bytes)"};
    return false;
  }
  return true;
}

bool EndpointCodec::parse(std::string_view text, Endpoint& out, Problem& p) const {
  const EndpointError e = parse_endpoint(text, out);
  if (e == EndpointError::ok) return true;
  p = {ConfigErrorKind::bad_value, quoted(text) + ": " + std::string(to_string(e))};
  return false;
}

bool CidrCodec::parse(std::string_view text, Cidr& out, Problem& p) const {
  const CidrError e = Cidr::parse(text, out);
  if (e == CidrError::ok) return true;
  if (e == CidrError::host_bits_set) {
    const std::string_view addr = text.substr(0, text.find('/'));
    const char* host_len = out.family == Cidr::Family::v4 && addr.find(':') == std::string_view::npos
                               ? "/32"
                               : "/128";
    p = {ConfigErrorKind::bad_value, quoted(text) + " has host bits set: write " +
                                         out.masked().to_string() + " for the network or " +
                                         std::string(addr) + host_len + " for one host"};
    return false;
  }
  p = {ConfigErrorKind::bad_value, quoted(text) + ": " + std::string(to_string(e))};
  return false;
}

bool TextCodec::parse(std::string_view text, std::string& out, Problem& p) const {
  out = std::string(text);
  if (text.size() > max) {
    p = {ConfigErrorKind::out_of_range, "longer than " + std::to_string(max) + " bytes"};
    return false;
  }
  for (const char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      p = {ConfigErrorKind::bad_value, quoted(text) + " contains a control character"};
      return false;
    }
  }
  return true;
}

bool InterfaceNameCodec::parse(std::string_view text, std::string& out, Problem& p) const {
  out = std::string(text);
  if (text.size() >= IFNAMSIZ) {
    p = {ConfigErrorKind::out_of_range,
         quoted(text) + " is longer than an interface name can be (" + std::to_string(IFNAMSIZ - 1) + " bytes)"};
    return false;
  }
  for (const char c : text) {
    if (c == '/' || c == ':' || static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      p = {ConfigErrorKind::bad_value, quoted(text) + " is not an interface name (no '/', ':' or white space)"};
      return false;
    }
  }
  return true;
}

bool InterfaceAddressCodec::parse(std::string_view text, InterfaceAddress& out, Problem& p) const {
  out = InterfaceAddress{};
  out.text = std::string(text);
  const std::size_t slash = text.find('/');
  if (host_only && slash != std::string_view::npos) {
    p = {ConfigErrorKind::bad_value, quoted(text) + ": write the gateway's address without a prefix"};
    return false;
  }
  if (!host_only && slash == std::string_view::npos) {
    p = {ConfigErrorKind::bad_value, quoted(text) + ": write IP/prefix, e.g. 198.18.0.1/24 (the prefix says what is on the link)"};
    return false;
  }
  const std::string ip(text.substr(0, slash));
  unsigned max_prefix = 32;
  if (inet_pton(AF_INET, ip.c_str(), &reinterpret_cast<sockaddr_in&>(out.addr).sin_addr) == 1) {
    out.addr.ss_family = AF_INET;
  } else if (inet_pton(AF_INET6, ip.c_str(), &reinterpret_cast<sockaddr_in6&>(out.addr).sin6_addr) == 1) {
    out.addr.ss_family = AF_INET6;
    max_prefix = 128;
  } else {
    p = {ConfigErrorKind::bad_value, quoted(text) + ": " + quoted(ip) + " is not a numeric IPv4 or IPv6 address"};
    return false;
  }
  out.prefix = static_cast<std::uint8_t>(max_prefix);
  if (slash == std::string_view::npos) return true;
  const std::string_view digits = text.substr(slash + 1);
  unsigned prefix = 0;
  if (digits.empty() || digits.size() > 3 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    p = {ConfigErrorKind::bad_value, quoted(text) + ": the prefix length must be a number"};
    return false;
  }
  for (const char c : digits) prefix = prefix * 10 + static_cast<unsigned>(c - '0');
  if (prefix == 0 || prefix > max_prefix) {
    p = {ConfigErrorKind::out_of_range,
         quoted(text) + ": prefix length must be 1.." + std::to_string(max_prefix)};
    return false;
  }
  out.prefix = static_cast<std::uint8_t>(prefix);
  return true;
}

bool UpstreamUriCodec::parse(std::string_view text, UpstreamTarget& out, Problem& p) const {
  const UpstreamUriError e = parse_upstream_uri(text, out);
  if (e == UpstreamUriError::ok) return true;
  p = {ConfigErrorKind::bad_value, quoted(text) + ": " + std::string(to_string(e))};
  return false;
}

bool DigitsCodec::parse(std::string_view text, std::string& out, Problem& p) const {
  out = std::string(text);
  bool digits = !text.empty();
  for (char c : text) digits = digits && c >= '0' && c <= '9';
  if (!digits) {
    p = {ConfigErrorKind::bad_value,
         quoted(text) + " is not a number of digits only (write 911, not +1-911)"};
    return false;
  }
  if (text.size() > max_digits) {
    p = {ConfigErrorKind::out_of_range,
         quoted(text) + " has more than " + std::to_string(max_digits) + " digits"};
    return false;
  }
  return true;
}

}  // namespace sigrelay::control
