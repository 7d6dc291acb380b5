// The control socket's wire protocol (docs/sigrelayctl.md, "Protocol"): a
// client connects to a SOCK_STREAM Unix socket, writes one request line and
// reads one response line; then the server closes the connection.
//
//   request:  {"command":"acl","args":["test","192.0.2.1"]}\n
//   response: {"ok":true,"result":...}\n   or   {"ok":false,"error":"..."}\n
//
// Lines are compact JSON, so a '\n' can only be the terminator (JSON strings
// escape it). Nothing here throws: malformed input is an error string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace sigrelay::control {

// A request line, without its '\n'. A command and a few words need far less;
// the bound keeps one client from making the control thread buffer without end.
inline constexpr std::size_t kMaxControlRequestBytes = 64 * 1024;
// What a client accepts as one response line: stats and session lists are
// big, but a daemon that streams megabytes without a newline is broken.
inline constexpr std::size_t kMaxControlResponseBytes = 16 * 1024 * 1024;

struct ControlRequest {
  std::string command;
  std::vector<std::string> args;
};

struct ControlResponse {
  bool ok = false;
  nlohmann::json result;  // when ok
  std::string error;      // when !ok
};

// Encoders return one complete line, '\n' included. Invalid UTF-8 in any
// string becomes U+FFFD rather than an error.
std::string encode_request(const ControlRequest& request);
std::string encode_result(const nlohmann::json& result);
std::string encode_error(std::string_view message);

// `line` is without its '\n'. On failure `error` says what is wrong in words
// a script author can act on.
bool decode_request(std::string_view line, ControlRequest& out, std::string& error);
bool decode_response(std::string_view line, ControlResponse& out, std::string& error);

enum class LineStatus : std::uint8_t {
  incomplete,  // no '\n' yet and still within the bound
  complete,    // `line_length` bytes before the first '\n'
  too_long,    // more than `max_bytes` bytes and no '\n' among them
};

// `scan_from`: bytes already searched by an earlier call on the same buffer,
// so a reader that appends chunks does not rescan them.
LineStatus find_line(std::string_view buffer, std::size_t max_bytes, std::size_t& line_length,
                     std::size_t scan_from = 0);

// The client side: one request, one response, within `timeout_ms` overall.
enum class ControlCallError : std::uint8_t {
  none,
  no_socket,          // ENOENT/ENOTDIR: nothing at the path
  not_listening,      // ECONNREFUSED: a file is there, no process accepts on it
  permission_denied,  // EACCES/EPERM on the socket or a directory above it
  bad_path,           // empty, or too long for sockaddr_un
  timed_out,          // no complete response in time
  io_error,           // any other socket error; `sys_errno` says which
  bad_response,       // the peer does not speak this protocol
};

std::string_view to_string(ControlCallError e);

struct ControlCallResult {
  ControlCallError error = ControlCallError::none;
  bool connected = false;    // the failure came after connect() succeeded
  int sys_errno = 0;         // for the errors that come from a system call
  std::string detail;        // bad_response / io_error / timed_out: what happened
  ControlResponse response;  // valid when error == none (response.ok may be false)
};

ControlCallResult call_control(const std::string& socket_path, const ControlRequest& request,
                               int timeout_ms);

}  // namespace sigrelay::control
