// Text <-> typed value for each kind of config key. A codec parses one
// value as written in the file or on the command line, and formats it back
// the same way (the --check-config summary loads back to the same Config).
//
// Interface every codec has:
//   std::string value_name() const;                      // for --help
//   bool parse(std::string_view text, T& out, Problem&) const;
//   std::string format(const T&) const;
//
// A list key's codec may add, where its items need it:
//   std::string compare_key(const T&) const;   // what duplicates are found by;
//                                              // format() when absent
//   bool parse_items(std::string_view text, std::vector<T>& out, Problem&) const;
//                                              // one written item that stands for
//                                              // several values (a range); appends
//   std::string format_list(const std::vector<T>&) const;  // the summary's text
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "control/cidr.hpp"
#include "control/config.hpp"
#include "control/sip_endpoint.hpp"

namespace sigrelay::control {

struct Problem {
  ConfigErrorKind kind = ConfigErrorKind::bad_value;
  std::string message;
};

// Whole decimal number in [min, max]; no sign, no unit suffix, no spaces.
struct NumberCodec {
  std::uint32_t min;
  std::uint32_t max;
  std::string value_name() const { return "N"; }
  bool parse(std::string_view text, std::uint32_t& out, Problem& p) const;
  std::string format(std::uint32_t v) const { return std::to_string(v); }
};

// 0 (the feature is off) or a whole number in [min, max].
struct OffOrNumberCodec {
  std::uint32_t min;
  std::uint32_t max;
  std::string value_name() const { return "N"; }
  bool parse(std::string_view text, std::uint32_t& out, Problem& p) const;
  std::string format(std::uint32_t v) const { return std::to_string(v); }
};

// true/false, yes/no, on/off, 1/0, any case (what Boost accepts for bool).
struct FlagCodec {
  std::string value_name() const { return "true|false"; }
  bool parse(std::string_view text, bool& out, Problem& p) const;
  std::string format(bool v) const { return v ? "true" : "false"; }
};

bool ascii_iequals(std::string_view a, std::string_view b);

template <class E>
struct Choice {
  std::string_view name;
  E value;
};

template <class E>
struct ChoiceCodec {
  std::span<const Choice<E>> choices;

  std::string value_name() const {
    std::string s;
    for (const auto& c : choices) s += (s.empty() ? "" : "|") + std::string(c.name);
    return s;
  }
  // Case-insensitive, like the booleans; the summary prints the canonical name.
  bool parse(std::string_view text, E& out, Problem& p) const {
    for (const auto& c : choices) {
      if (ascii_iequals(c.name, text)) {
        out = c.value;
        return true;
      }
    }
    p = {ConfigErrorKind::bad_value, "'" + std::string(text) + "' is not one of: " + value_name()};
    return false;
  }
  std::string format(E v) const {
    for (const auto& c : choices) {
      if (c.value == v) return std::string(c.name);
    }
    return "?";
  }
};

inline constexpr Choice<Mode> kModeChoices[] = {{"relay", Mode::relay}, {"inline", Mode::in_line}};
inline constexpr Choice<DataplaneBackend> kBackendChoices[] = {
    {"socket", DataplaneBackend::socket}, {"dpdk", DataplaneBackend::dpdk}};
inline constexpr Choice<LogLevel> kLogLevelChoices[] = {{"error", LogLevel::error},
                                                        {"warn", LogLevel::warn},
                                                        {"info", LogLevel::info},
                                                        {"debug", LogLevel::debug}};

// A file the daemon will read at start (certificate, key, CA bundle): it
// must exist, be a regular file and be readable by whoever runs the check.
// Empty means "not set".
struct ReadableFileCodec {
  std::string_view what;  // "certificate", "private key", "CA"
  std::string value_name() const { return "PATH"; }
  bool parse(std::string_view text, std::string& out, Problem& p) const;
  std::string format(const std::string& v) const { return v; }
};

// A DNS name for TLS verification and SNI; empty means "not set".
struct HostNameCodec {
  std::string value_name() const { return "NAME"; }
  bool parse(std::string_view text, std::string& out, Problem& p) const;
  std::string format(const std::string& v) const { return v; }
};

// Absolute path that fits in sockaddr_un::sun_path.
struct SocketPathCodec {
  std::string value_name() const { return "PATH"; }
  bool parse(std::string_view text, std::string& out, Problem& p) const;
  std::string format(const std::string& v) const { return v; }
};

// An absolute path a file will be created at (a daemon's working directory
// is no place to resolve a relative one); empty = not set.
struct OutputPathCodec {
  std::string value_name() const { return "PATH"; }
  bool parse(std::string_view text, std::string& out, Problem& p) const;
  std::string format(const std::string& v) const { return v; }
};

// With `optional`, an empty value is an unset Endpoint (empty text).
struct EndpointCodec {
  bool optional = false;
  std::string value_name() const { return "ip:port"; }
  bool parse(std::string_view text, Endpoint& out, Problem& p) const;
  std::string format(const Endpoint& v) const { return v.text; }
};

struct CidrCodec {
  std::string value_name() const { return "CIDR"; }
  bool parse(std::string_view text, Cidr& out, Problem& p) const;
  std::string format(const Cidr& v) const { return v.to_string(); }
};

struct UpstreamUriCodec {
  std::string value_name() const { return "URI"; }
  bool parse(std::string_view text, UpstreamTarget& out, Problem& p) const;
  std::string format(const UpstreamTarget& v) const { return v.uri; }
};

// Free text (EAL arguments, device names); `max` bytes at most, no control characters.
struct TextCodec {
  std::size_t max;
  std::string value_name() const { return "TEXT"; }
  bool parse(std::string_view text, std::string& out, Problem& p) const;
  std::string format(const std::string& v) const { return v; }
};

// A Linux interface name (IFNAMSIZ - 1 bytes, no '/' or white space); empty = not set.
struct InterfaceNameCodec {
  std::string value_name() const { return "NAME"; }
  bool parse(std::string_view text, std::string& out, Problem& p) const;
  std::string format(const std::string& v) const { return v; }
};

// "IP/prefix" (the prefix is mandatory: it says what is on the link), or,
// with host_only, a plain IP (a gateway).
struct InterfaceAddressCodec {
  bool host_only = false;
  std::string value_name() const { return host_only ? "IP" : "IP/PREFIX"; }
  bool parse(std::string_view text, InterfaceAddress& out, Problem& p) const;
  std::string format(const InterfaceAddress& v) const { return v.text; }
};

// A SIP header name (RFC 3261 §25.1 token) that in-line mode copies from
// the service's 302 into the INVITE it forwards. Refused: Identity (copied
// always) and the headers that make up the INVITE's own routing,
// transaction, dialog or body, which a copy would corrupt. Duplicates are
// found ignoring case, and a compact form equals its full name.
struct HeaderNameCodec {
  std::string value_name() const { return "HEADER"; }
  bool parse(std::string_view text, std::string& out, Problem& p) const;
  std::string format(const std::string& v) const { return v; }
  std::string compare_key(const std::string& v) const;
};

// Final status codes that end one destination's attempt and move on to the
// next Contact: "408", or a range "500-599" (both ends included). Only 3xx,
// 4xx and 5xx: a 1xx is not final, a 2xx is an answer, and after a 6xx RFC
// 3261 §16.7 allows no new branches.
struct FailoverCodeCodec {
  std::string value_name() const { return "CODE|FROM-TO"; }
  bool parse_items(std::string_view text, std::vector<std::uint16_t>& out, Problem& p) const;
  std::string format(std::uint16_t v) const { return std::to_string(v); }
  // Runs of consecutive codes as ranges: "408 500-599".
  std::string format_list(const std::vector<std::uint16_t>& codes) const;
};

// A dialled number as the emergency guard compares it: digits only.
struct DigitsCodec {
  std::size_t max_digits;
  std::string value_name() const { return "DIGITS"; }
  bool parse(std::string_view text, std::string& out, Problem& p) const;
  std::string format(const std::string& v) const { return v; }
};

}  // namespace sigrelay::control
