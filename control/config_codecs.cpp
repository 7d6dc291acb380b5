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

#include "sip/chars.hpp"
#include "sip/header_id.hpp"
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

bool OffOrNumberCodec::parse(std::string_view text, std::uint32_t& out, Problem& p) const {
  const std::string range = "0 (off) or " + std::to_string(min) + ".." + std::to_string(max);
  if (!NumberCodec{0, max}.parse(text, out, p)) {
    if (p.kind == ConfigErrorKind::out_of_range) p.message = quoted(text) + " is out of range: " + range;
    return false;
  }
  if (out != 0 && out < min) {
    p = {ConfigErrorKind::out_of_range, quoted(text) + " is out of range: " + range};
    return false;
  }
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

bool OutputPathCodec::parse(std::string_view text, std::string& out, Problem& p) const {
  out = std::string(text);
  if (text.empty()) return true;
  if (text.front() != '/') {
    p = {ConfigErrorKind::bad_value, quoted(text) + " must be an absolute path"};
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
  if (optional && text.empty()) {
    out = Endpoint{};
    return true;
  }
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

namespace {

// Headers the relay writes or keeps from the switch's INVITE. Copying the
// 302's version over them would misroute the request (Route, Contact: the
// 302's Contacts are where to send it, not who is calling), break the
// transaction or dialog (Via, From, To, Call-ID, CSeq, Max-Forwards,
// Record-Route) or desynchronise the body (Content-*).
constexpr sip::HeaderId kNeverCopied[] = {
    sip::HeaderId::via,          sip::HeaderId::from,           sip::HeaderId::to,
    sip::HeaderId::call_id,      sip::HeaderId::cseq,           sip::HeaderId::max_forwards,
    sip::HeaderId::contact,      sip::HeaderId::route,          sip::HeaderId::record_route,
    sip::HeaderId::content_type, sip::HeaderId::content_length, sip::HeaderId::content_encoding,
};

// Status codes are three digits (RFC 3261 §7.2, §25.1 Status-Code).
bool parse_status_code(std::string_view text, std::uint16_t& out, Problem& p) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    p = {ConfigErrorKind::bad_value, quoted(text) + " is not a status code or a range of them (e.g. 408 or 500-599)"};
    return false;
  }
  unsigned v = 0;
  for (const char c : text.substr(0, 4)) v = v * 10 + static_cast<unsigned>(c - '0');
  if (text.size() != 3 || v < 100 || v > 699) {
    p = {ConfigErrorKind::out_of_range, quoted(text) + " is not a SIP status code (three digits, 100..699)"};
    return false;
  }
  out = static_cast<std::uint16_t>(v);
  return true;
}

// Only a failure that leaves the call unanswered, where RFC 3261 lets a
// proxy try elsewhere, can move on to the next Contact.
bool failover_class(std::string_view text, std::uint16_t code, Problem& p) {
  const char* why = nullptr;
  if (code < 200) {
    why = " is provisional, not a final response (inline.ring_timeout_ms limits how long a destination may ring)";
  } else if (code < 300) {
    why = " is an answer: the call is connected and there is nothing to fail over from";
  } else if (code >= 600) {
    why = " is a global failure: after a 6xx RFC 3261 §16.7 allows no new branches, so it ends the search";
  }
  if (why == nullptr) return true;
  p = {ConfigErrorKind::out_of_range, quoted(text) + why};
  return false;
}

}  // namespace

bool HeaderNameCodec::parse(std::string_view text, std::string& out, Problem& p) const {
  out = std::string(text);
  if (!sip::is_token(text)) {
    p = {ConfigErrorKind::bad_value,
         quoted(text) + " is not a header name (letters, digits and -.!%*_+`'~ only, no ':')"};
    return false;
  }
  const sip::HeaderId id = sip::classify_header(text);
  if (id == sip::HeaderId::identity) {
    p = {ConfigErrorKind::bad_value,
         quoted(text) + ": Identity is always copied from the 302; list only the other headers to copy"};
    return false;
  }
  if (std::find(std::begin(kNeverCopied), std::end(kNeverCopied), id) != std::end(kNeverCopied)) {
    p = {ConfigErrorKind::bad_value, quoted(text) + " (" + std::string(sip::header_name(id)) +
                                         ") belongs to the INVITE itself (routing, transaction, dialog or body) "
                                         "and is never taken from the 302"};
    return false;
  }
  return true;
}

std::string HeaderNameCodec::compare_key(const std::string& v) const {
  const sip::HeaderId id = sip::classify_header(v);
  std::string key(id == sip::HeaderId::other ? std::string_view(v) : sip::header_name(id));
  for (char& c : key) c = fold(c);
  return key;
}

bool FailoverCodeCodec::parse_items(std::string_view text, std::vector<std::uint16_t>& out, Problem& p) const {
  const std::size_t dash = text.find('-');
  std::uint16_t first = 0;
  std::uint16_t last = 0;
  if (dash == std::string_view::npos) {
    if (!parse_status_code(text, first, p) || !failover_class(text, first, p)) return false;
    out.push_back(first);
    return true;
  }
  const std::string_view from = text.substr(0, dash);
  const std::string_view to = text.substr(dash + 1);
  if (from.empty() || to.empty()) {
    p = {ConfigErrorKind::bad_value, quoted(text) + ": a range needs both ends, e.g. 500-599"};
    return false;
  }
  if (!parse_status_code(from, first, p) || !parse_status_code(to, last, p)) {
    p.message = quoted(text) + ": " + p.message;
    return false;
  }
  if (first > last) {
    p = {ConfigErrorKind::bad_value, quoted(text) + ": the range runs backwards (write " + std::string(to) + "-" +
                                         std::string(from) + ")"};
    return false;
  }
  if (!failover_class(from, first, p) || !failover_class(to, last, p)) {
    p.message = quoted(text) + ": " + p.message;
    return false;
  }
  for (unsigned c = first; c <= last; ++c) out.push_back(static_cast<std::uint16_t>(c));
  return true;
}

std::string FailoverCodeCodec::format_list(const std::vector<std::uint16_t>& codes) const {
  std::vector<std::uint16_t> sorted = codes;
  std::sort(sorted.begin(), sorted.end());
  std::string s;
  for (std::size_t i = 0; i < sorted.size();) {
    std::size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) ++j;
    s += (s.empty() ? "" : " ") + std::to_string(sorted[i]);
    if (j > i) s += "-" + std::to_string(sorted[j]);
    i = j + 1;
  }
  return s;
}

}  // namespace sigrelay::control
